// grant_type=authorization_code at the token endpoint: PKCE, redirect URI, single use and
// Conditional Access (ConditionalAccess.swift).

import Foundation

extension FakeIdPCore {
    func redeemCode(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse,
        detailedError: (Int, String, Int, String, [(String, JSON)]) -> FakeResponse
    ) -> FakeResponse {
        guard let code = p["code"], !code.isEmpty else {
            return error(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
        }
        guard var record = codes[code] else {
            return error(400, "invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid.")
        }
        if record.used {
            stats.codeReuseDetections += 1
            if let family = record.family { revokeFamily(family) }
            return error(
                400, "invalid_grant", 54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."
            )
        }
        guard record.clientID == client.clientID else {
            return error(
                400, "invalid_grant", 70000,
                "Provided grant is invalid or malformed. The code was issued to another client.")
        }
        guard now() < record.issuedAt + Double(config.codeLifetime) else {
            return error(
                400, "invalid_grant", 70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."
            )
        }
        guard let redirectURI = p["redirect_uri"], redirectURI == record.redirectURI else {
            // Azure answers a mismatch with AADSTS50011 ("...does not match the reply address ... provided
            // when requesting Authorization code"); the fake uses error=invalid_grant for it.
            return error(
                400, "invalid_grant", 50011,
                "The redirect URI '\(p["redirect_uri"] ?? "")' specified in the request does not match the redirect URI '\(record.redirectURI)' provided when requesting Authorization code."
            )
        }
        guard let verifier = p["code_verifier"], !verifier.isEmpty else {
            return error(
                400, "invalid_request", 900144,
                "The request body must contain the following parameter: 'code_verifier'.")
        }
        guard FakePKCE.s256Challenge(for: verifier) == record.challenge else {
            return error(
                400, "invalid_grant", 501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
        }
        // The claims may come with the authorize request (the sign-in satisfied them) or with the
        // redemption; a refused code is not spent.
        if let refusal = conditionalAccessRefusal(
            scope: record.scope, claims: [record.claims, p["claims"]], detailedError: detailedError)
        {
            return refusal
        }

        let family = nextFamily
        nextFamily += 1
        families[family] = FamilyRecord()
        record.used = true
        record.family = family
        codes[code] = record
        let scopes = Set(record.scope.split(separator: " ").map { $0.lowercased() })
        let withRefresh = scopes.contains("offline_access") || config.issueRefreshTokenWithoutOfflineAccess
        return issue(client: client, scope: record.scope, family: family, refresh: withRefresh, nonce: record.nonce)
    }
}
