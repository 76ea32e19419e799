// Tests of the fake identity provider: the token endpoint, client secrets, malformed requests and faults (TokenEndpoint.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPTokenEndpointTests {
    @Test func confidentialClientAuthentication() throws {
        let idp = try IdP()
        let redirect = "http://localhost:43210/"
        // client_secret_post
        let code1 = try #require(idp.code(client: confidentialID))
        let post = idp.redeem(code1, client: confidentialID, extra: [("client_secret", confidentialSecret)])
        #expect(post.status == 200, "\(post)")
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .post)
        // client_secret_basic, with the RFC 6749 §2.3.1 form-urlencoding inside the credentials.
        let code2 = try #require(idp.code(client: confidentialID))
        let basic = http(
            "POST", idp.tokenURL,
            form: [
                ("grant_type", "authorization_code"), ("code", code2),
                ("redirect_uri", redirect), ("code_verifier", verifier)
            ],
            headers: [basicHeader(confidentialID, confidentialSecret)])
        #expect(basic.status == 200, "\(basic)")
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .basic)
        #expect(idp.provider.stats.tokenLog.last?.clientID == confidentialID)

        let code3 = try #require(idp.code(client: confidentialID))
        let wrongPost = idp.redeem(code3, client: confidentialID, extra: [("client_secret", "nope")])
        expectAzureError(wrongPost, status: 401, error: "invalid_client", code: 7_000_215)
        #expect((wrongPost.json["error_description"] as? String)?.contains("Invalid client secret provided") == true)
        let wrongBasic = idp.redeem(code3, client: confidentialID, headers: [basicHeader(confidentialID, "nope")])
        expectAzureError(wrongBasic, status: 401, error: "invalid_client", code: 7_000_215)
        expectAzureError(
            idp.redeem(code3, client: confidentialID), status: 401, error: "invalid_client", code: 7_000_218)
        // Unencoded Basic credentials do not match a secret with reserved characters.
        let raw = "Authorization: Basic " + Data("\(confidentialID):\(confidentialSecret)".utf8).base64EncodedString()
        #expect(idp.redeem(code3, client: confidentialID, headers: [raw]).status == 401)
        let both = idp.redeem(
            code3, client: confidentialID, extra: [("client_secret", confidentialSecret)],
            headers: [basicHeader(confidentialID, confidentialSecret)])
        expectAzureError(both, status: 400, error: "invalid_request", code: 9_002_313)
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .both)
        // The code is still good after all the failed attempts.
        #expect(idp.redeem(code3, client: confidentialID, extra: [("client_secret", confidentialSecret)]).status == 200)

        // A public client must not send a secret.
        let code4 = try #require(idp.code())
        expectAzureError(
            idp.redeem(code4, extra: [("client_secret", "x")]), status: 401, error: "invalid_client",
            code: 700025)
        expectAzureError(
            idp.redeem(code4, headers: [basicHeader(publicID, "x")]), status: 401, error: "invalid_client",
            code: 700025)
        // Unknown client.
        expectAzureError(idp.redeem(code4, client: "nobody"), status: 400, error: "unauthorized_client", code: 700016)
    }

    @Test func malformedTokenRequests() throws {
        let idp = try IdP()
        let dup = http(
            "POST", idp.tokenURL, body: "grant_type=refresh_token&scope=a&scope=b&client_id=\(publicID)",
            contentType: "application/x-www-form-urlencoded")
        expectAzureError(dup, status: 400, error: "invalid_request", code: 9_002_313)
        let unsupported = http("POST", idp.tokenURL, form: [("grant_type", "password"), ("client_id", publicID)])
        expectAzureError(unsupported, status: 400, error: "unsupported_grant_type", code: 70003)
        #expect(idp.provider.stats.tokenRequests["password"] == 1)
        expectAzureError(http("GET", idp.tokenURL), status: 400, error: "invalid_request", code: 900561)
        let json = http(
            "POST", idp.tokenURL, body: "{\"grant_type\":\"refresh_token\"}", contentType: "application/json")
        expectAzureError(json, status: 400, error: "invalid_request", code: 900144)
        // '+' is a space and %XX a byte: a scope sent as "a+b%20c" arrives as "a b c".
        let rt = try #require(idp.signIn()["refresh_token"] as? String)
        let plus = http(
            "POST", idp.tokenURL,
            body:
                "grant_type=refresh_token&client_id=\(publicID)&refresh_token=\(percentEncode(rt))&scope=openid+offline_access%20User.Read",
            contentType: "application/x-www-form-urlencoded; charset=utf-8")
        #expect(plus.status == 200, "\(plus)")
        #expect(plus.json["scope"] as? String == "openid offline_access User.Read")
        // Bodies over 64 KiB.
        let big = http(
            "POST", idp.tokenURL, body: "grant_type=" + String(repeating: "a", count: 70_000),
            contentType: "application/x-www-form-urlencoded")
        #expect(big.status == 413)
    }

    @Test func faultsApplyToTheNextTokenRequests() throws {
        let idp = try IdP()
        let form: [(String, String)] = [
            ("grant_type", "refresh_token"), ("client_id", publicID), ("scope", "openid"),
            ("refresh_token", "fake-rt-none")
        ]

        idp.provider.inject(.emptyBody400, times: 2)
        // Faults do not touch the other endpoints.
        #expect(idp.authorize().status == 302)
        for _ in 0..<2 {
            let empty = http("POST", idp.tokenURL, form: form)
            #expect(empty.status == 400 && empty.body.isEmpty && empty.header("content-length") == "0")
        }
        #expect(http("POST", idp.tokenURL, form: form).errorCodes == [9_002_313])

        idp.provider.inject(.html502)
        let html = http("POST", idp.tokenURL, form: form)
        #expect(html.status == 502 && html.header("content-type")?.hasPrefix("text/html") == true)
        #expect(html.body.contains("Bad Gateway"))

        idp.provider.inject(.tooManyRequests(retryAfter: 7))
        let throttled = http("POST", idp.tokenURL, form: form)
        #expect(throttled.status == 429 && throttled.header("retry-after") == "7")
        #expect(throttled.json["error"] as? String == "temporarily_unavailable" && !throttled.errorCodes.isEmpty)

        idp.provider.inject(
            .oauthError(
                status: 400, error: "invalid_grant", aadsts: 50076,
                description: "Due to a configuration change, you must use multi-factor authentication."))
        expectAzureError(http("POST", idp.tokenURL, form: form), status: 400, error: "invalid_grant", code: 50076)

        idp.provider.inject(.connectionReset)
        let reset = http("POST", idp.tokenURL, form: form)
        #expect(reset.status == 0)
        #expect(reset.curlStatus == 56 || reset.curlStatus == 52, "\(reset)")
        // The listener is fine afterwards.
        #expect(http("POST", idp.tokenURL, form: form).errorCodes == [9_002_313])

        let stats = idp.provider.stats
        #expect(stats.faultsApplied == 6 && stats.pendingFaults == 0)
        #expect(stats.tokenLog.compactMap(\.fault) == ["empty400", "empty400", "html502", "429", "oauth", "reset"])
        #expect(stats.tokenLog.first { $0.fault == "reset" }?.status == 0)
    }

    @Test func slowFaultDoesNotBlockTheEventLoop() throws {
        let idp = try IdP()
        let rt = try #require(idp.signIn()["refresh_token"] as? String)
        idp.provider.inject(.slow(milliseconds: 2500))
        nonisolated(unsafe) var slow: Reply?
        nonisolated(unsafe) var slowElapsed = 0.0
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let start = Date()
            slow = idp.refresh(rt)
            slowElapsed = Date().timeIntervalSince(start)
            group.leave()
        }
        // While the slow answer is pending, other requests are served (the delay is a timer on the
        // event loop, not a sleep): the quick request completes while the slow one is still waiting.
        Thread.sleep(forTimeInterval: 0.2)
        #expect(http("GET", "\(idp.base)/\(tid)/v2.0/.well-known/openid-configuration").status == 200)
        #expect(group.wait(timeout: .now()) == .timedOut, "the slow answer came before the quick one")
        group.wait()
        #expect(slow?.status == 200, "\(String(describing: slow))")
        #expect(slowElapsed >= 2.4)
        #expect(idp.provider.stats.tokenLog.last?.fault == "slow")
        #expect(idp.provider.stats.refreshRotations == 1)
    }
}
