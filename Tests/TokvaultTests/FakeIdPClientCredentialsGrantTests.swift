// Tests of the fake identity provider: the client credentials grant with a secret (ClientCredentialsGrant.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPClientCredentialsGrantTests {
    @Test func clientCredentialsWithSecret() throws {
        let idp = try IdP()
        let post = idp.clientCredentials(client: confidentialID, extra: [("client_secret", confidentialSecret)])
        #expect(post.status == 200, "\(post)")
        let json = post.json
        #expect(json["token_type"] as? String == "Bearer")
        #expect(json["expires_in"] as? Int == 3600 && json["ext_expires_in"] as? Int == 3600)
        // Like Azure: no refresh token, no id_token, no scope member for an app-only token.
        #expect(json["refresh_token"] == nil && json["id_token"] == nil && json["scope"] == nil)
        let accessToken = try #require(json["access_token"] as? String)
        let info = try #require(idp.provider.accessTokenInfo(accessToken))
        #expect(info.clientID == confidentialID && info.userOID == nil && info.isValid)
        #expect(info.scope == "api://tokvault-test/.default")
        let resource = http("GET", "\(idp.base)/_fake/resource", headers: ["Authorization: Bearer \(accessToken)"])
        #expect(resource.status == 200 && resource.json["appid"] as? String == confidentialID)
        #expect(resource.json["oid"] == nil)
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .post)

        let basic = idp.clientCredentials(
            client: nil, scope: "\(confidentialID)/.default",
            headers: [basicHeader(confidentialID, confidentialSecret)])
        #expect(basic.status == 200, "\(basic)")
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .basic)

        expectAzureError(
            idp.clientCredentials(client: confidentialID, extra: [("client_secret", "nope")]),
            status: 401, error: "invalid_client", code: 7_000_215)
        expectAzureError(
            idp.clientCredentials(client: confidentialID), status: 401, error: "invalid_client",
            code: 7_000_218)
        let stats = idp.provider.stats
        #expect(stats.tokenRequests == ["client_credentials": 4])
        #expect(stats.tokensIssued == 2)
        #expect(stats.assertionsAccepted == 0 && stats.assertionsRejected.isEmpty)
    }

    @Test func clientCredentialsScopesAndClients() throws {
        let idp = try IdP()
        let secret = [("client_secret", confidentialSecret)]
        // A public client has no credential to send; Azure answers as for a missing one.
        expectAzureError(idp.clientCredentials(client: publicID), status: 401, error: "invalid_client", code: 7_000_218)
        expectAzureError(
            idp.clientCredentials(client: publicID, extra: [("client_secret", "x")]), status: 401,
            error: "invalid_client", code: 700025)
        expectAzureError(
            idp.clientCredentials(client: confidentialID, scope: nil, extra: secret), status: 400,
            error: "invalid_request", code: 90014)
        for scope in [
            "User.Read", "openid", "offline_access", "https://graph.microsoft.com/User.Read",
            "api://x/.default offline_access", "/.default"
        ] {
            let reply = idp.clientCredentials(client: confidentialID, scope: scope, extra: secret)
            expectAzureError(reply, status: 400, error: "invalid_scope", code: 1_002_012)
            #expect(descriptionOf(reply).contains("must have a scope value with /.default suffixed"))
        }
        expectAzureError(
            idp.clientCredentials(
                client: confidentialID, scope: "api://a/.default api://b/.default",
                extra: secret), status: 400, error: "invalid_scope", code: 70011)
        for scope in ["\(confidentialID)/.default", "https://graph.microsoft.com/.default", "api://x/.default"] {
            #expect(idp.clientCredentials(client: confidentialID, scope: scope, extra: secret).status == 200)
        }
        expectAzureError(
            idp.clientCredentials(client: "nobody", extra: secret), status: 400,
            error: "unauthorized_client", code: 700016)
        #expect(idp.provider.stats.tokensIssued == 3)
    }
}
