// The device authorization grant (RFC 8628) as Azure runs it: device codes handed out by
// /devicecode, decided by the user (here: approveDevice/declineDevice or a scripted policy) and
// polled at the token endpoint. State only; the core turns outcomes into Azure-shaped answers.

import Foundation

let deviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

/// Azure's user codes are 8–9 upper-case letters and digits ("BPPVYQZMA"); the fake drops the
/// look-alikes (0/O, 1/I) so a code read off a log is typed right.
private let userCodeAlphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")

struct DeviceAuthorization {
    enum State: Equatable {
        case pending, approved, declined, redeemed
    }

    var deviceCode: String
    var userCode: String
    var clientID: String
    var scope: String
    var issuedAt: Double
    var expiresAt: Double
    /// Grows by 5 s with every slow_down (RFC 8628 §3.5).
    var interval: Double
    var lastPoll: Double?
    var polls = 0
    /// Polls answered authorization_pending: what the scripted approval policies count.
    var pendingPolls = 0
    var state = State.pending
}

enum DevicePollOutcome {
    case unknown
    case otherClient
    case redeemed
    case expired
    case slowDown(interval: Int)
    case pending
    case declined
    /// The tokens may be issued for this scope (the code is now spent).
    case approved(scope: String)
}

struct DeviceAuthorizationStore {
    private var byDeviceCode: [String: DeviceAuthorization] = [:]
    private var deviceCodeByUserCode: [String: String] = [:]
    /// Issue order, so pending user codes list oldest first.
    private var order: [String] = []

    mutating func create(clientID: String, scope: String, now: Double, lifetime: Int, interval: Int)
        -> DeviceAuthorization
    {
        var userCode = ""
        repeat {
            userCode = String((0..<9).map { _ in userCodeAlphabet.randomElement()! })
        } while deviceCodeByUserCode[userCode] != nil
        let record = DeviceAuthorization(
            deviceCode: "fake-dc-" + base64URL(randomBytes(48)), userCode: userCode, clientID: clientID, scope: scope,
            issuedAt: now, expiresAt: now + Double(lifetime), interval: Double(max(0, interval)))
        byDeviceCode[record.deviceCode] = record
        deviceCodeByUserCode[userCode] = record.deviceCode
        order.append(record.deviceCode)
        return record
    }

    /// Upper case, without the dashes and spaces people type into codes.
    static func normalize(_ userCode: String) -> String {
        String(userCode.uppercased().filter { $0 != "-" && !$0.isWhitespace })
    }

    func pendingUserCodes(now: Double) -> [String] {
        order.compactMap { byDeviceCode[$0] }.filter { $0.state == .pending && now < $0.expiresAt }.map(\.userCode)
    }

    /// Moves the pending, unexpired authorization with `userCode` (nil: every one) to `state`;
    /// returns how many changed.
    mutating func decide(userCode: String?, _ state: DeviceAuthorization.State, now: Double) -> Int {
        let codes: [String]
        if let userCode {
            codes = deviceCodeByUserCode[Self.normalize(userCode)].map { [$0] } ?? []
        } else {
            codes = order
        }
        var changed = 0
        for code in codes {
            guard var record = byDeviceCode[code], record.state == .pending, now < record.expiresAt else { continue }
            record.state = state
            byDeviceCode[code] = record
            changed += 1
        }
        return changed
    }

    mutating func poll(
        deviceCode: String, clientID: String, now: Double, approval: FakeDeviceApproval, slowDownPolls: Int
    ) -> DevicePollOutcome {
        guard var record = byDeviceCode[deviceCode] else { return .unknown }
        guard record.clientID == clientID else { return .otherClient }
        defer { byDeviceCode[deviceCode] = record }
        if record.state == .redeemed { return .redeemed }
        record.polls += 1
        let previous = record.lastPoll
        record.lastPoll = now
        if now >= record.expiresAt { return .expired }
        if record.polls <= slowDownPolls || previous.map({ now - $0 < record.interval }) == true {
            record.interval += 5
            return .slowDown(interval: Int(record.interval))
        }
        if record.state == .pending {
            switch approval {
            case .approveAfterPolls(let n) where record.pendingPolls >= n: record.state = .approved
            case .declineAfterPolls(let n) where record.pendingPolls >= n: record.state = .declined
            default: break
            }
        }
        switch record.state {
        case .pending:
            record.pendingPolls += 1
            return .pending
        case .declined:
            return .declined
        case .approved:
            record.state = .redeemed
            return .approved(scope: record.scope)
        case .redeemed:
            return .redeemed
        }
    }
}
