// grant_type=refresh_token at the token endpoint: rotation, reuse detection that revokes the
// family, and Conditional Access (ConditionalAccess.swift).

import Foundation

extension FakeIdPCore {
    func redeemRefreshToken(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse,
        detailedError: (Int, String, Int, String, [(String, JSON)]) -> FakeResponse
    ) -> FakeResponse {
        guard let token = p["refresh_token"], !token.isEmpty else {
            return error(
                400, "invalid_request", 900144,
                "The request body must contain the following parameter: 'refresh_token'.")
        }
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return error(
                400, "invalid_request", 90014,
                "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
            )
        }
        guard var record = refreshTokens[token] else {
            return error(400, "invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid.")
        }
        guard record.clientID == client.clientID else {
            return error(
                400, "invalid_grant", 70000,
                "Provided grant is invalid or malformed. The refresh token was issued to another client.")
        }
        if families[record.family]?.revoked == true {
            return error(
                400, "invalid_grant", 50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password."
            )
        }
        if record.used {
            stats.reuseDetections += 1
            revokeFamily(record.family)
            return error(
                400, "invalid_grant", 70000,
                "Provided grant is invalid or malformed. The refresh token was already used; every token of its family has been revoked."
            )
        }
        guard now() < record.expiresAt else {
            return error(
                400, "invalid_grant", 700082,
                "The refresh token has expired due to inactivity. The token was issued on \(azureTimestamp(record.expiresAt - Double(config.refreshTokenLifetime))) and was inactive for \(config.refreshTokenLifetime / 86400) days."
            )
        }
        // Conditional Access refuses without spending the token: the client keeps it and retries
        // with the claims once the user has satisfied the challenge.
        if let refusal = conditionalAccessRefusal(scope: scope, claims: [p["claims"]], detailedError: detailedError) {
            return refusal
        }
        record.used = true
        refreshTokens[token] = record
        stats.refreshRotations += 1
        return issue(client: client, scope: scope, family: record.family, refresh: true, nonce: nil)
    }
}
