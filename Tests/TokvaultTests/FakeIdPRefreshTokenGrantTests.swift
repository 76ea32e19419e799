// Tests of the fake identity provider: the refresh token grant, rotation, reuse detection and expiry (RefreshTokenGrant.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPRefreshTokenGrantTests {
    @Test func refreshRotates() throws {
        let idp = try IdP()
        let first = idp.signIn()
        let rt1 = try #require(first["refresh_token"] as? String)
        let second = idp.refresh(rt1, scope: "User.Read offline_access")
        #expect(second.status == 200, "\(second)")
        let rt2 = try #require(second.json["refresh_token"] as? String)
        #expect(rt2 != rt1)
        #expect(second.json["access_token"] as? String != first["access_token"] as? String)
        #expect(second.json["scope"] as? String == "User.Read offline_access")
        #expect(second.json["id_token"] == nil)
        let third = idp.refresh(rt2)
        #expect(third.status == 200)
        #expect((third.json["id_token"] as? String)?.split(separator: ".").count == 3)
        let stats = idp.provider.stats
        #expect(stats.refreshRotations == 2)
        #expect(stats.tokenRequests == ["authorization_code": 1, "refresh_token": 2])
        #expect(stats.tokenLog.last?.scopeSent == true)
        #expect(stats.tokenLog.last?.grantType == "refresh_token")
    }

    @Test func refreshTokenReuseRevokesTheFamily() throws {
        let idp = try IdP()
        let first = idp.signIn()
        let rt1 = try #require(first["refresh_token"] as? String)
        let at1 = try #require(first["access_token"] as? String)
        let rotated = idp.refresh(rt1).json
        let rt2 = try #require(rotated["refresh_token"] as? String)
        let at2 = try #require(rotated["access_token"] as? String)
        // An unrelated login must survive.
        let other = try #require(idp.signIn()["refresh_token"] as? String)

        let reuse = idp.refresh(rt1)
        expectAzureError(reuse, status: 400, error: "invalid_grant", code: 70000)
        #expect((reuse.json["error_description"] as? String)?.contains("already used") == true)
        expectAzureError(idp.refresh(rt2), status: 400, error: "invalid_grant", code: 50173)
        #expect(idp.provider.accessTokenInfo(at1)?.isValid == false)
        #expect(idp.provider.accessTokenInfo(at2)?.revoked == true)
        #expect(idp.refresh(other).status == 200)
        let stats = idp.provider.stats
        #expect(stats.reuseDetections == 1 && stats.familiesRevoked == 1)
    }

    @Test func refreshRequiresScope() throws {
        let idp = try IdP()
        let rt = try #require(idp.signIn()["refresh_token"] as? String)
        expectAzureError(idp.refresh(rt, scope: nil), status: 400, error: "invalid_request", code: 90014)
        #expect(idp.provider.stats.tokenLog.last?.scopeSent == false)
        // The token was not consumed.
        #expect(idp.refresh(rt).status == 200)
        expectAzureError(idp.refresh("fake-rt-nonsense"), status: 400, error: "invalid_grant", code: 9_002_313)
    }

    @Test func expiredRefreshTokenAndAccessTokenExpiry() throws {
        let idp = try IdP()
        let json = idp.signIn()
        let rt = try #require(json["refresh_token"] as? String)
        let at = try #require(json["access_token"] as? String)
        let resource = http("GET", "\(idp.base)/_fake/resource", headers: ["Authorization: Bearer \(at)"])
        #expect(resource.status == 200 && resource.json["oid"] as? String == FakeUser.alice.oid)
        idp.provider.expireAllAccessTokens()
        #expect(http("GET", "\(idp.base)/_fake/resource", headers: ["Authorization: Bearer \(at)"]).status == 401)
        idp.provider.advanceClock(seconds: 91 * 86400)
        expectAzureError(idp.refresh(rt), status: 400, error: "invalid_grant", code: 700082)
    }
}
