// Tests of the fake identity provider: the authorization code grant with PKCE (AuthorizationCodeGrant.swift, TokenIssuance.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPAuthorizationCodeGrantTests {
    @Test func authorizationCodeWithPKCE() throws {
        let idp = try IdP()
        let authorize = idp.authorize(extra: [
            ("nonce", "n-0S6"), ("prompt", "select_account"),
            ("login_hint", "alice@contoso.example")
        ])
        #expect(authorize.status == 302)
        let location = try #require(authorize.header("location"))
        #expect(location.hasPrefix("http://localhost:43210/?code=fake-ac-"))
        #expect(location.hasSuffix("&state=st-1"))
        let code = try #require(queryItems(location)["code"])

        let reply = idp.redeem(code, headers: ["client-request-id: 0b5c8a5e-8b2e-4a3a-9d4e-3f2f7a1c9e11"])
        #expect(reply.status == 200, "\(reply)")
        #expect(reply.header("cache-control")?.contains("no-store") == true)
        let json = reply.json
        #expect(json["token_type"] as? String == "Bearer")
        #expect(json["scope"] as? String == "openid profile offline_access User.Read")
        #expect(json["expires_in"] as? Int == 3600)
        #expect(json["ext_expires_in"] as? Int == 3600)
        let accessToken = try #require(json["access_token"] as? String)
        #expect(accessToken.hasPrefix("fake-at-"))
        #expect((json["refresh_token"] as? String)?.isEmpty == false)
        #expect(idp.provider.accessTokenInfo(accessToken)?.isValid == true)

        let idToken = try #require(json["id_token"] as? String)
        let parts = idToken.split(separator: ".")
        #expect(parts.count == 3)
        let header = try #require(try JSONSerialization.jsonObject(with: base64URLDecode(parts[0])!) as? [String: Any])
        #expect(
            header["alg"] as? String == "RS256" && header["typ"] as? String == "JWT"
                && header["kid"] as? String == "fake")
        let claims = try #require(try JSONSerialization.jsonObject(with: base64URLDecode(parts[1])!) as? [String: Any])
        #expect(claims["aud"] as? String == publicID)
        #expect(claims["iss"] as? String == "\(idp.base)/\(tid)/v2.0")
        #expect(claims["nonce"] as? String == "n-0S6")
        #expect(claims["tid"] as? String == tid)
        #expect(claims["oid"] as? String == FakeUser.alice.oid)
        #expect(claims["preferred_username"] as? String == "alice@contoso.example")
        #expect(claims["name"] as? String == "Alice")
        #expect(claims["ver"] as? String == "2.0")
        let iat = try #require(claims["iat"] as? Int)
        #expect(claims["exp"] as? Int == iat + 3600 && claims["nbf"] as? Int == iat)
        #expect(base64URLDecode(parts[2])?.count == 32)

        let stats = idp.provider.stats
        #expect(stats.authorizeRequests == 1 && stats.codesIssued == 1)
        #expect(stats.tokenRequests == ["authorization_code": 1])
        #expect(stats.tokenLog.last?.clientAuth == FakeClientAuth.none)
        #expect(stats.tokenLog.last?.scopeSent == false)
        #expect(stats.authorizeLog.last?.loginHint == "alice@contoso.example")
        #expect(stats.authorizeLog.last?.prompt == "select_account")
    }

    @Test func noIDTokenWithoutOpenIDAndNoRefreshTokenWithoutOfflineAccess() throws {
        let idp = try IdP()
        let code = try #require(idp.code(scope: "User.Read"))
        let json = idp.redeem(code).json
        #expect(json["access_token"] is String)
        #expect(json["id_token"] == nil)
        #expect(json["refresh_token"] == nil)
    }

    @Test func wrongVerifierIsRefusedAndTheCodeSurvives() throws {
        let idp = try IdP()
        let code = try #require(idp.code())
        expectAzureError(
            idp.redeem(code, verifier: "x" + verifier.dropFirst()), status: 400, error: "invalid_grant",
            code: 501481)
        #expect(idp.redeem(code, verifier: verifier).status == 200)
    }

    @Test func codeReuseRevokesWhatTheCodeProduced() throws {
        let idp = try IdP()
        let code = try #require(idp.code())
        let first = idp.redeem(code).json
        let accessToken = try #require(first["access_token"] as? String)
        let refreshToken = try #require(first["refresh_token"] as? String)
        expectAzureError(idp.redeem(code), status: 400, error: "invalid_grant", code: 54005)
        #expect(idp.provider.accessTokenInfo(accessToken)?.revoked == true)
        expectAzureError(idp.refresh(refreshToken), status: 400, error: "invalid_grant", code: 50173)
        #expect(idp.provider.stats.codeReuseDetections == 1)
        #expect(idp.provider.stats.familiesRevoked == 1)
        expectAzureError(idp.redeem("fake-ac-unknown"), status: 400, error: "invalid_grant", code: 9_002_313)
    }

    @Test func expiredCode() throws {
        let idp = try IdP(codeLifetime: 600)
        let code = try #require(idp.code())
        idp.provider.advanceClock(seconds: 601)
        expectAzureError(idp.redeem(code), status: 400, error: "invalid_grant", code: 70008)
    }

    @Test func redirectURIMustMatchExactlyAtTheTokenEndpoint() throws {
        let idp = try IdP()
        let code = try #require(idp.code(redirect: "http://localhost:43210/"))
        // Same loopback host, other port: accepted at authorize, refused at token.
        expectAzureError(
            idp.redeem(code, redirect: "http://localhost:43211/"), status: 400, error: "invalid_grant",
            code: 50011)
        expectAzureError(
            idp.redeem(code, redirect: "http://localhost:43210"), status: 400, error: "invalid_grant",
            code: 50011)
        #expect(idp.redeem(code, redirect: "http://localhost:43210/").status == 200)
    }

    @Test func codeIsBoundToItsClient() throws {
        let idp = try IdP()
        let code = try #require(idp.code(client: publicID))
        let reply = idp.redeem(code, client: confidentialID, extra: [("client_secret", confidentialSecret)])
        expectAzureError(reply, status: 400, error: "invalid_grant", code: 70000)
    }
}
