// The protocol state machine of the fake identity provider, independent of the network layer:
// it turns one complete HTTP request into one action (answer, answer later, or reset).
// All state sits behind one lock; every request is handled atomically.
// The endpoints are extensions of FakeIdPCore, one file each (AuthorizeEndpoint.swift,
// TokenEndpoint.swift and a file per grant, DeviceAuthorizationEndpoint.swift,
// DiscoveryEndpoint.swift, ControlEndpoints.swift); FakeIdPRouting.swift maps paths to them.

import Foundation

final class FakeIdPCore: @unchecked Sendable {
    let config: FakeIdPConfiguration
    private let lock = NSLock()

    // Guarded by `lock`.
    var port = 0
    var clockOffset: Double = 0
    var faults: [FakeFault] = []
    var pendingDenial: (error: String, description: String)?
    var stats = FakeIdPStats()
    var codes: [String: CodeRecord] = [:]
    var refreshTokens: [String: RefreshRecord] = [:]
    var accessTokens: [String: AccessRecord] = [:]
    var families: [Int: FamilyRecord] = [:]
    var nextFamily = 1
    var devices = DeviceAuthorizationStore()
    /// `jti` values of the client assertions each client has authenticated with (kept for the
    /// provider's life: a reused assertion is refused even after it expired).
    var usedAssertionIDs: [String: Set<String>] = [:]
    /// Parsed once from `FakeClient.certificatePEMs`, by client id. Immutable.
    let certificates: [String: [RegisteredCertificate]]
    /// The signing key of every federated token the fake mints and accepts. Immutable.
    let workloadIssuer = WorkloadTokenIssuer()
    /// The settings tests may change on a running fake; they start as the configuration's.
    var claimsChallenge: String?
    var conditionalAccessBlock: Bool
    var sendRefreshExpiresIn: Bool

    struct CodeRecord {
        var clientID: String
        var redirectURI: String
        var challenge: String
        var scope: String
        var nonce: String?
        /// The authorize request's `claims` parameter, if any.
        var claims: String?
        var issuedAt: Double
        var used = false
        var family: Int?
    }

    struct RefreshRecord {
        var clientID: String
        var scope: String
        var family: Int
        var expiresAt: Double
        var used = false
    }

    struct AccessRecord {
        var clientID: String
        /// nil for an app-only token (client_credentials).
        var userOID: String?
        var scope: String
        var family: Int
        var expiresAt: Double
        var revoked = false
    }

    struct FamilyRecord {
        var revoked = false
        var accessTokens: [String] = []
    }

    init(_ config: FakeIdPConfiguration) {
        self.config = config
        var certificates: [String: [RegisteredCertificate]] = [:]
        for client in config.clients {
            certificates[client.clientID, default: []] += client.certificatePEMs.flatMap {
                RegisteredCertificate.parseAll(pem: $0)
            }
        }
        self.certificates = certificates
        self.claimsChallenge = config.claimsChallenge
        self.conditionalAccessBlock = config.conditionalAccessBlock
        self.sendRefreshExpiresIn = config.sendRefreshExpiresIn
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: - Control from Swift

    func setPort(_ port: Int) { locked { self.port = port } }

    var baseURL: String { locked { "http://127.0.0.1:\(port)" } }

    func inject(_ fault: FakeFault, times: Int) {
        locked {
            for _ in 0..<max(0, times) { faults.append(fault) }
            stats.pendingFaults = faults.count
        }
    }

    func clearFaults() {
        locked {
            faults.removeAll()
            stats.pendingFaults = 0
        }
    }

    func denyNextAuthorization(error: String, description: String) {
        locked { pendingDenial = (error, description) }
    }

    var statsSnapshot: FakeIdPStats { locked { stats } }

    func resetStats() {
        locked {
            stats = FakeIdPStats()
            stats.pendingFaults = faults.count
        }
    }

    func advanceClock(seconds: Double) { locked { clockOffset += seconds } }

    func expireAllAccessTokens() {
        locked {
            let past = now() - 1
            for key in accessTokens.keys { accessTokens[key]!.expiresAt = min(accessTokens[key]!.expiresAt, past) }
        }
    }

    func accessTokenInfo(_ token: String) -> FakeAccessTokenInfo? {
        locked {
            guard let record = accessTokens[token] else { return nil }
            return info(record)
        }
    }

    func info(_ record: AccessRecord) -> FakeAccessTokenInfo {
        let revoked = record.revoked || families[record.family]?.revoked == true
        return FakeAccessTokenInfo(
            clientID: record.clientID, userOID: record.userOID, scope: record.scope, expiresAt: record.expiresAt,
            revoked: revoked, isValid: !revoked && record.expiresAt > now())
    }

    // MARK: - Run-time settings and workload tokens from Swift

    func setClaimsChallenge(_ challenge: String?) { locked { claimsChallenge = challenge } }
    func setConditionalAccessBlock(_ block: Bool) { locked { conditionalAccessBlock = block } }
    func setSendRefreshExpiresIn(_ send: Bool) { locked { sendRefreshExpiresIn = send } }

    func mintFederatedToken(issuer: String, subject: String, audience: String, lifetime: Int, notBefore: Int?)
        -> String
    {
        let issuedAt = Int(locked { now() })
        return workloadIssuer.mint(
            issuer: issuer, subject: subject, audience: audience, issuedAt: issuedAt,
            notBefore: notBefore ?? issuedAt, expires: issuedAt + lifetime)
    }

    // MARK: - Device authorizations from Swift

    func decideDevices(userCode: String?, approve: Bool) -> Int {
        locked { decideDevicesLocked(userCode: userCode, approve: approve) }
    }

    /// `.never` means the user never acts, so approvals and refusals are ignored.
    func decideDevicesLocked(userCode: String?, approve: Bool) -> Int {
        guard config.deviceApproval != .never else { return 0 }
        let state: DeviceAuthorization.State = approve ? .approved : .declined
        return devices.decide(userCode: userCode, state, now: now())
    }

    var pendingDeviceUserCodes: [String] { locked { devices.pendingUserCodes(now: now()) } }

    /// Current time on the fake's clock (wall clock plus `advanceClock` offsets). Lock held.
    func now() -> Double { Date().timeIntervalSince1970 + clockOffset }
}
