// Tests of the fake identity provider: claims challenges (AADSTS50076), the Conditional Access block
// (AADSTS53003) and refresh_expires_in (ConditionalAccess.swift, TokenIssuance.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

private let acrsChallenge = #"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#
/// What MSAL sends after such a challenge: the challenge merged with its client capabilities.
private let satisfying = #"{"access_token":{"xms_cc":{"values":["cp1"]},"acrs":{"value":"c1","essential":true}}}"#
private let otherContext = #"{"access_token":{"acrs":{"essential":true,"value":"c2"}}}"#

private func expectClaimsChallenge(
    _ reply: Reply, resource: String = "00000003-0000-0000-c000-000000000000",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectAzureError(reply, status: 400, error: "invalid_grant", code: 50076, sourceLocation: sourceLocation)
    #expect(reply.json["suberror"] as? String == "basic_action", "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.json["claims"] as? String == acrsChallenge, "\(reply)", sourceLocation: sourceLocation)
    #expect(
        descriptionOf(reply).hasPrefix(
            "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '\(resource)'.\r\nTrace ID: "
        ), "\(reply)", sourceLocation: sourceLocation)
}

@Suite struct FakeIdPClaimsTests {
    @Test func refreshIsChallengedUntilItSendsTheClaims() throws {
        let idp = try IdP()
        let rt = try #require(idp.signIn()["refresh_token"] as? String)
        idp.provider.setClaimsChallenge(acrsChallenge)

        expectClaimsChallenge(idp.refresh(rt))
        expectClaimsChallenge(idp.refresh(rt, extra: [("claims", otherContext)]))
        expectClaimsChallenge(idp.refresh(rt, extra: [("claims", "not json")]))
        // The resource named is the scope's.
        expectClaimsChallenge(
            idp.refresh(rt, scope: "api://tokvault-test/Files.Read offline_access"), resource: "api://tokvault-test")
        #expect(idp.provider.stats.tokenLog.last?.claims == nil)
        #expect(idp.provider.stats.tokenLog[idp.provider.stats.tokenLog.count - 2].claims == "not json")

        // The refusals did not spend the token: it answers the challenge.
        let answered = idp.refresh(rt, extra: [("claims", satisfying)])
        #expect(answered.status == 200, "\(answered)")
        let rotated = try #require(answered.json["refresh_token"] as? String)
        #expect(rotated != rt)
        let stats = idp.provider.stats
        #expect(stats.claimsChallengesSent == 4)
        #expect(stats.refreshRotations == 1 && stats.reuseDetections == 0 && stats.familiesRevoked == 0)
        #expect(stats.tokenLog.last?.claims == satisfying)

        // Every refresh must answer it while the challenge stands; lifting it ends that.
        expectClaimsChallenge(idp.refresh(rotated))
        idp.provider.setClaimsChallenge(nil)
        #expect(idp.refresh(rotated).status == 200)
    }

    @Test func authorizeClaimsSatisfyTheChallengeAtRedemption() throws {
        let idp = try IdP { $0.claimsChallenge = acrsChallenge }
        // Claims sent with the authorize request travel with the code.
        let authorize = idp.authorize(extra: [("claims", satisfying)])
        #expect(authorize.status == 302, "\(authorize)")
        #expect(idp.provider.stats.authorizeLog.last?.claims == satisfying)
        let location = try #require(authorize.header("location"))
        let code = try #require(queryItems(location)["code"])
        let redeemed = idp.redeem(code)
        #expect(redeemed.status == 200, "\(redeemed)")
        #expect(redeemed.json["refresh_token"] is String)

        // A code whose authorize request had none is challenged, and survives the refusal...
        let plain = try #require(idp.code())
        #expect(idp.provider.stats.authorizeLog.last?.claims == nil)
        expectClaimsChallenge(idp.redeem(plain))
        expectClaimsChallenge(idp.redeem(plain, extra: [("claims", otherContext)]))
        // ... until the redemption carries the claims.
        let late = idp.redeem(plain, extra: [("claims", acrsChallenge)])
        #expect(late.status == 200, "\(late)")
        #expect(idp.provider.stats.codeReuseDetections == 0)
        #expect(idp.provider.stats.claimsChallengesSent == 2)

        // The claims of every request show in the statistics.
        let stats = http("GET", "\(idp.base)/_fake/stats").json
        let tokenLog = try #require(stats["token_log"] as? [[String: Any]])
        #expect(tokenLog.last?["claims"] as? String == acrsChallenge)
        let authorizeLog = try #require(stats["authorize_log"] as? [[String: Any]])
        #expect(authorizeLog.first?["claims"] as? String == satisfying)
        #expect(stats["claims_challenges_sent"] as? Int == 2)
    }

    @Test func conditionalAccessBlocksCodesAndRefreshTokens() throws {
        let idp = try IdP { $0.conditionalAccessBlock = true }
        func expectBlocked(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) {
            expectAzureError(reply, status: 400, error: "invalid_grant", code: 53003, sourceLocation: sourceLocation)
            #expect(reply.json["suberror"] == nil && reply.json["claims"] == nil, sourceLocation: sourceLocation)
            #expect(
                descriptionOf(reply).hasPrefix(
                    "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.\r\n"
                ), "\(reply)", sourceLocation: sourceLocation)
        }
        let code = try #require(idp.code())
        expectBlocked(idp.redeem(code))
        #expect(idp.provider.stats.tokensIssued == 0)

        // Lifted: the same code is still good.
        idp.provider.setConditionalAccessBlock(false)
        let redeemed = idp.redeem(code)
        #expect(redeemed.status == 200, "\(redeemed)")
        let rt = try #require(redeemed.json["refresh_token"] as? String)

        // Over the control endpoint, as a script would.
        let set = http("POST", "\(idp.base)/_fake/settings", form: [("conditional_access_block", "true")])
        #expect(set.status == 200 && set.json["conditional_access_block"] as? Bool == true, "\(set)")
        expectBlocked(idp.refresh(rt))
        // The block wins over claims that would satisfy a challenge.
        idp.provider.setClaimsChallenge(acrsChallenge)
        expectBlocked(idp.refresh(rt, extra: [("claims", acrsChallenge)]))
        let cleared = http(
            "POST", "\(idp.base)/_fake/settings",
            form: [("conditional_access_block", "false"), ("claims_challenge", "")])
        #expect(cleared.json["conditional_access_block"] as? Bool == false, "\(cleared)")
        #expect(cleared.json["claims_challenge"] is NSNull, "\(cleared)")
        #expect(http("POST", "\(idp.base)/_fake/settings", form: [("conditional_access_block", "yes")]).status == 400)
        let refreshed = idp.refresh(rt)
        #expect(refreshed.status == 200, "\(refreshed)")
        let rotated = try #require(refreshed.json["refresh_token"] as? String)
        #expect(idp.provider.stats.tokenLog.filter { $0.aadsts == 53003 }.count == 3)
        // App-only tokens are not subject to the user policies.
        idp.provider.setConditionalAccessBlock(true)
        expectBlocked(idp.refresh(rotated))
        #expect(
            idp.clientCredentials(client: confidentialID, extra: [("client_secret", confidentialSecret)]).status
                == 200)
    }

    @Test func refreshExpiresInOnlyWhenEnabled() throws {
        let plain = try IdP()
        let plainSignIn = plain.signIn()
        #expect(plainSignIn["refresh_token"] is String)
        #expect(plainSignIn["refresh_expires_in"] == nil)

        let idp = try IdP {
            $0.sendRefreshExpiresIn = true
            $0.refreshTokenLifetime = 86400
        }
        let signIn = idp.signIn()
        let rt = try #require(signIn["refresh_token"] as? String)
        #expect(signIn["refresh_expires_in"] as? Int == 86400)
        let refreshed = idp.refresh(rt).json
        #expect(refreshed["refresh_expires_in"] as? Int == 86400)
        // No refresh token, no refresh_expires_in.
        let code = try #require(idp.code(scope: "User.Read"))
        let accessOnly = idp.redeem(code).json
        #expect(accessOnly["access_token"] is String && accessOnly["refresh_token"] == nil)
        #expect(accessOnly["refresh_expires_in"] == nil)

        idp.provider.setSendRefreshExpiresIn(false)
        let next = idp.refresh(try #require(refreshed["refresh_token"] as? String)).json
        #expect(next["refresh_token"] is String && next["refresh_expires_in"] == nil)
        #expect(
            http("POST", "\(idp.base)/_fake/settings", form: [("send_refresh_expires_in", "true")]).json[
                "send_refresh_expires_in"] as? Bool == true)
        let again = idp.refresh(try #require(next["refresh_token"] as? String)).json
        #expect(again["refresh_expires_in"] as? Int == 86400)
    }
}
