// Tests of the fake identity provider: the /_fake/... control endpoints (ControlEndpoints.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPControlTests {
    @Test func controlEndpoints() throws {
        let idp = try IdP()
        let form: [(String, String)] = [
            ("grant_type", "refresh_token"), ("client_id", publicID), ("scope", "openid"),
            ("refresh_token", "fake-rt-none")
        ]
        #expect(
            http("POST", "\(idp.base)/_fake/fault", form: [("kind", "429"), ("times", "1"), ("retry_after", "3")])
                .status == 200)
        #expect(
            http(
                "POST", "\(idp.base)/_fake/fault",
                form: [
                    ("kind", "oauth"), ("error", "invalid_grant"),
                    ("aadsts", "50173"), ("description", "revoked")
                ]
            ).status == 200)
        #expect(http("POST", "\(idp.base)/_fake/fault", form: [("kind", "bogus")]).status == 400)
        #expect(http("POST", idp.tokenURL, form: form).header("retry-after") == "3")
        expectAzureError(http("POST", idp.tokenURL, form: form), status: 400, error: "invalid_grant", code: 50173)

        #expect(http("POST", "\(idp.base)/_fake/deny", form: []).status == 200)
        #expect(queryItems(idp.authorize().header("location") ?? "")["error"] == "access_denied")

        let stats = http("GET", "\(idp.base)/_fake/stats")
        #expect(stats.status == 200)
        #expect(stats.json["authorize_requests"] as? Int == 1)
        #expect((stats.json["token_requests"] as? [String: Int])?["refresh_token"] == 2)
        #expect((stats.json["token_log"] as? [[String: Any]])?.first?["fault"] as? String == "429")
    }

    @Test func deviceControlEndpoints() throws {
        let idp = try IdP(configure: { $0.deviceCodeInterval = 0 })
        let first = idp.deviceCode()
        let second = idp.deviceCode()
        let firstUser = try #require(first["user_code"] as? String)
        let secondUser = try #require(second["user_code"] as? String)
        let list = http("GET", "\(idp.base)/_fake/device")
        #expect(list.status == 200 && list.json["pending_user_codes"] as? [String] == [firstUser, secondUser])
        let page = http("GET", "\(idp.base)/_fake/device", headers: ["Accept: text/html"])
        #expect(page.header("content-type")?.hasPrefix("text/html") == true)
        #expect(
            page.body.contains("<code>\(firstUser)</code>") && page.body.contains("action=\"/_fake/device/approve\""))

        // User codes match without regard to case and dashes, as people type them.
        let typed = firstUser.lowercased().prefix(4) + "-" + firstUser.lowercased().dropFirst(4)
        let approve = http("POST", "\(idp.base)/_fake/device/approve", form: [("user_code", String(typed))])
        #expect(approve.status == 200 && approve.json["changed"] as? Int == 1)
        #expect(http("POST", "\(idp.base)/_fake/device/approve", form: [("user_code", "ZZZZZZZZZ")]).status == 404)
        let decline = http("POST", "\(idp.base)/_fake/device/decline", form: [])
        #expect(decline.status == 200 && decline.json["changed"] as? Int == 1)
        #expect(http("GET", "\(idp.base)/_fake/device").json["pending_user_codes"] as? [String] == [])

        #expect(idp.pollDevice(first["device_code"] as? String ?? "").status == 200)
        expectAzureError(
            idp.pollDevice(second["device_code"] as? String ?? ""), status: 400,
            error: "authorization_declined", code: 65004)
        let stats = http("GET", "\(idp.base)/_fake/stats").json
        #expect(stats["device_authorizations"] as? Int == 2 && stats["device_polls"] as? Int == 2)
    }
}
