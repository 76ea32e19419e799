// grant_type=urn:ietf:params:oauth:grant-type:device_code at the token endpoint: polling (RFC 8628).

import Foundation

extension FakeIdPCore {
    // Codes: AADSTS70016 (authorization_pending) and AADSTS70020 (expired device code) are what Azure
    // answers. For the rest Azure's number is not documented and the fake picks the nearest
    // documented one: 70018 (BadVerificationCode) for an unknown device code, 65004 (user declined)
    // for authorization_declined, 54005 (already redeemed) for a second redemption, and 70016 again
    // for slow_down (Azure is not known to send slow_down at all; RFC 8628 clients must handle it).
    func pollDeviceCode(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard let deviceCode = p["device_code"], !deviceCode.isEmpty else {
            return error(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'device_code'.")
        }
        stats.devicePolls += 1
        let outcome = devices.poll(
            deviceCode: deviceCode, clientID: client.clientID, now: now(), approval: config.deviceApproval,
            slowDownPolls: config.deviceSlowDownPolls)
        switch outcome {
        case .unknown:
            return error(
                400, "bad_verification_code", 70018,
                "The provided value for the input parameter 'device_code' is not valid. The device code was not recognized."
            )
        case .otherClient:
            return error(
                400, "invalid_grant", 70000,
                "Provided grant is invalid or malformed. The device code was issued to another client.")
        case .redeemed:
            return error(
                400, "invalid_grant", 54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token. The device code has already been exchanged for tokens."
            )
        case .expired:
            return error(
                400, "expired_token", 70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
        case .slowDown(let interval):
            stats.deviceSlowDowns += 1
            return error(
                400, "slow_down", 70016,
                "OAuth 2.0 device flow error. The client is polling too frequently; wait at least \(interval) seconds between requests."
            )
        case .pending:
            return error(
                400, "authorization_pending", 70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        case .declined:
            return error(400, "authorization_declined", 65004, "User declined to consent to access the app.")
        case .approved(let scope):
            let family = nextFamily
            nextFamily += 1
            families[family] = FamilyRecord()
            let scopes = Set(scope.split(separator: " ").map { $0.lowercased() })
            let withRefresh = scopes.contains("offline_access") || config.issueRefreshTokenWithoutOfflineAccess
            return issue(client: client, scope: scope, family: family, refresh: withRefresh, nonce: nil)
        }
    }
}
