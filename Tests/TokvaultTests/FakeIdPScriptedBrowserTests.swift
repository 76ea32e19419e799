// Tests of the fake identity provider: the scripted browser (Support/scripted-browser.py) against the fake.
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPScriptedBrowserTests {
    static let browser = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Support/scripted-browser.py").path

    private func authorizeURL(
        _ idp: IdP, responseMode: String = "query", state: String? = "s-42",
        redirect: String? = nil
    ) -> String {
        var q: [(String, String)] = [
            ("client_id", publicID), ("response_type", "code"),
            ("redirect_uri", redirect ?? "\(idp.base)/_fake/callback"), ("scope", "openid offline_access"),
            ("code_challenge", challenge), ("code_challenge_method", "S256"), ("response_mode", responseMode)
        ]
        if let state { q.append(("state", state)) }
        return "\(idp.base)/organizations/oauth2/v2.0/authorize?" + encodeForm(q)
    }

    private func browse(
        _ idp: IdP, mode: String, responseMode: String = "query", state: String? = "s-42",
        env: [String: String] = [:]
    ) -> (status: Int32, url: String) {
        let url = authorizeURL(idp, responseMode: responseMode, state: state)
        var environment = ["PATH": "/usr/bin:/bin", "SCRIPTED_BROWSER_MODE": mode]
        environment.merge(env) { $1 }
        let result = runToEnd("/usr/bin/python3", [Self.browser, url], environment: environment)
        return (result.status, url)
    }

    @Test func scriptedBrowserDeliversByQueryAndFormPost() throws {
        let idp = try IdP(extraRedirects: ["http://127.0.0.1/_fake/callback"])
        #expect(browse(idp, mode: "normal").status == 0)
        var callbacks = idp.provider.stats.callbacks
        #expect(callbacks.count == 1)
        #expect(callbacks.last?.method == "GET")
        #expect(callbacks.last?.parameters["state"] == "s-42")
        let code = try #require(callbacks.last?.parameters["code"])
        let redeemed = http(
            "POST", idp.tokenURL,
            form: [
                ("grant_type", "authorization_code"), ("client_id", publicID),
                ("code", code), ("redirect_uri", "\(idp.base)/_fake/callback"), ("code_verifier", verifier)
            ])
        #expect(redeemed.status == 200)

        #expect(browse(idp, mode: "normal", responseMode: "form_post", state: "a&b=\"c\" d").status == 0)
        callbacks = idp.provider.stats.callbacks
        #expect(callbacks.count == 2)
        #expect(callbacks.last?.method == "POST")
        #expect(callbacks.last?.parameters["state"] == "a&b=\"c\" d")
        #expect(callbacks.last?.parameters["code"]?.hasPrefix("fake-ac-") == true)
    }

    @Test func scriptedBrowserModes() throws {
        let idp = try IdP(extraRedirects: ["http://127.0.0.1/_fake/callback"])
        #expect(browse(idp, mode: "wrong-state").status == 0)
        #expect(idp.provider.stats.callbacks.last?.parameters["state"] == "s-42-tampered")
        #expect(browse(idp, mode: "wrong-state", responseMode: "form_post").status == 0)
        #expect(idp.provider.stats.callbacks.last?.parameters["state"] == "s-42-tampered")
        #expect(browse(idp, mode: "no-state").status == 0)
        #expect(idp.provider.stats.callbacks.last?.parameters["state"] == nil)
        #expect(idp.provider.stats.callbacks.last?.parameters["code"] != nil)

        #expect(browse(idp, mode: "favicon-first").status == 0)
        #expect(idp.provider.stats.notFoundPaths == ["/favicon.ico"])
        #expect(idp.provider.stats.callbacks.count == 4)

        let before = idp.provider.stats.authorizeRequests
        #expect(browse(idp, mode: "never").status == 0)
        #expect(idp.provider.stats.authorizeRequests == before)

        let log = FileManager.default.temporaryDirectory.appendingPathComponent("browser-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let logged = browse(idp, mode: "log", env: ["SCRIPTED_BROWSER_LOG": log])
        #expect(logged.status == 0)
        #expect((try? String(contentsOfFile: log, encoding: .utf8)) == logged.url + "\n")
        #expect(idp.provider.stats.authorizeRequests == before)

        // An error page (unknown redirect URI) is not something a browser can deliver.
        let bad = authorizeURL(idp, redirect: "http://example.invalid/cb")
        #expect(runToEnd("/usr/bin/python3", [Self.browser, bad], environment: ["PATH": "/usr/bin:/bin"]).status == 1)
    }
}
