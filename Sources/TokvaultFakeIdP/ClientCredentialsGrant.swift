// grant_type=client_credentials at the token endpoint: app-only access tokens.

import Foundation

extension FakeIdPCore {
    /// The client credentials grant: an app-only access token for one resource's `/.default`
    /// scope; no refresh token, no id_token, and (like Azure) no `scope` in the answer.
    func clientCredentials(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return error(
                400, "invalid_request", 90014,
                "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request."
            )
        }
        let scopes = scope.split(separator: " ")
        if let bad = scopes.first(where: { !$0.hasSuffix("/.default") || $0.count <= "/.default".count }) {
            return error(
                400, "invalid_scope", 1_002_012,
                "The provided value for scope \(bad) is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            )
        }
        // Azure issues a token for a single resource; AADSTS70011 is its generic invalid-scope answer.
        guard scopes.count == 1 else {
            return error(
                400, "invalid_scope", 70011,
                "The provided value for the input parameter 'scope' is not valid. The scope '\(scope)' names more than one resource."
            )
        }
        let family = nextFamily
        nextFamily += 1
        families[family] = FamilyRecord()
        let accessToken = "fake-at-" + base64URL(randomBytes(32))
        accessTokens[accessToken] = AccessRecord(
            clientID: client.clientID, userOID: nil, scope: String(scopes[0]), family: family,
            expiresAt: now() + Double(config.accessTokenLifetime))
        families[family]?.accessTokens.append(accessToken)
        stats.tokensIssued += 1
        return .json(
            200,
            .object([
                ("token_type", .string("Bearer")),
                ("expires_in", .int(config.accessTokenLifetime)),
                ("ext_expires_in", .int(config.accessTokenLifetime)),
                ("access_token", .string(accessToken))
            ]))
    }
}
