// Tests of the fake identity provider: the authorize endpoint (AuthorizeEndpoint.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPAuthorizeTests {
    @Test func redirectURIWithQueryGetsAmpersandAndFormPostEscapes() throws {
        let idp = try IdP(extraRedirects: ["https://app.contoso.example/cb?tenant=x"])
        let query = idp.authorize(redirect: "https://app.contoso.example/cb?tenant=x")
        #expect(query.header("location")?.hasPrefix("https://app.contoso.example/cb?tenant=x&code=") == true)

        let state = "a\"b<c>&d'e f"
        let form = idp.authorize(
            redirect: "http://127.0.0.1:5050/callback", state: state,
            extra: [("response_mode", "form_post")])
        #expect(form.status == 200)
        #expect(form.header("content-type")?.hasPrefix("text/html") == true)
        #expect(form.body.contains("<form method=\"POST\" action=\"http://127.0.0.1:5050/callback\">"))
        #expect(form.body.contains("name=\"code\" value=\"fake-ac-"))
        #expect(form.body.contains("name=\"state\" value=\"a&quot;b&lt;c&gt;&amp;d&#39;e f\""))
        #expect(form.body.contains(".submit()"))

        let fragment = idp.authorize(extra: [("response_mode", "fragment")])
        #expect(fragment.header("location")?.hasPrefix("http://localhost:43210/#code=") == true)
    }

    @Test func authorizeValidation() throws {
        let idp = try IdP()
        // Unknown application: an error page, no redirect.
        let unknown = idp.authorize(client: "00000000-dead-beef-0000-000000000000")
        #expect(unknown.status == 400 && unknown.header("location") == nil)
        #expect(unknown.header("content-type")?.hasPrefix("text/html") == true)
        #expect(unknown.body.contains("AADSTS700016"))
        // Loopback: any port, same host and path; localhost and 127.0.0.1 are different hosts.
        #expect(idp.authorize(redirect: "http://localhost:1/").status == 302)
        #expect(idp.authorize(redirect: "http://localhost").status == 302)
        #expect(idp.authorize(redirect: "http://127.0.0.1:65535/callback").status == 302)
        let wrongPath = idp.authorize(redirect: "http://localhost:8080/other")
        #expect(wrongPath.status == 400 && wrongPath.body.contains("AADSTS50011"))
        #expect(idp.authorize(redirect: "http://127.0.0.1:8080/").body.contains("AADSTS50011"))
        #expect(idp.authorize(redirect: "https://localhost:8080/").body.contains("AADSTS50011"))
        // Non-loopback URIs must match exactly, port included.
        #expect(idp.authorize(redirect: "https://app.contoso.example/auth").status == 302)
        #expect(idp.authorize(redirect: "https://app.contoso.example:8443/auth").body.contains("AADSTS50011"))
        // Wrong tenant.
        #expect(idp.authorize(tenant: "fabrikam.example").body.contains("AADSTS90002"))
        #expect(idp.authorize(tenant: "common").status == 302)
        #expect(idp.authorize(tenant: tid).status == 302)

        func redirectError(_ reply: Reply) -> [String: String] {
            #expect(reply.status == 302, "\(reply)")
            return queryItems(reply.header("location") ?? "")
        }
        let noChallenge = redirectError(idp.authorize(challenge: nil))
        #expect(noChallenge["error"] == "invalid_request" && noChallenge["state"] == "st-1")
        #expect(noChallenge["error_description"]?.hasPrefix("AADSTS900144") == true)
        let plain = redirectError(idp.authorize(method: "plain"))
        #expect(plain["error"] == "invalid_request")
        let noMethod = redirectError(idp.authorize(method: nil))
        #expect(noMethod["error"] == "invalid_request")
        let shortChallenge = redirectError(idp.authorize(challenge: "abc"))
        #expect(shortChallenge["error_description"]?.hasPrefix("AADSTS501491") == true)
        let tokenType = http(
            "GET",
            "\(idp.base)/organizations/oauth2/v2.0/authorize?"
                + encodeForm([
                    ("client_id", publicID), ("response_type", "token"), ("redirect_uri", "http://localhost:1/"),
                    ("scope", "openid"), ("state", "s"), ("code_challenge", challenge),
                    ("code_challenge_method", "S256")
                ]))
        #expect(queryItems(tokenType.header("location") ?? "")["error"] == "unsupported_response_type")
        let noScope = redirectError(idp.authorize(scope: ""))
        #expect(noScope["error"] == "invalid_request")
        #expect(idp.provider.stats.codesIssued == 6)
    }

    @Test func duplicatedAuthorizeParameterIsAnErrorPage() throws {
        let idp = try IdP()
        let reply = idp.authorize(extra: [("state", "again")])
        #expect(reply.status == 400 && reply.body.contains("AADSTS9002313"))
    }

    @Test func deniedAuthorizationRedirectsWithError() throws {
        let idp = try IdP()
        idp.provider.denyNextAuthorization(
            error: "access_denied", description: "AADSTS65004: User declined to consent.")
        let denied = queryItems(idp.authorize().header("location") ?? "")
        #expect(denied["error"] == "access_denied")
        #expect(denied["error_description"] == "AADSTS65004: User declined to consent.")
        #expect(denied["state"] == "st-1" && denied["code"] == nil)
        #expect(queryItems(idp.authorize().header("location") ?? "")["code"] != nil)
    }
}
