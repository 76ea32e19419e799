import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// The authorize URL, and the parser of the redirect that answers it (strict about duplicates,
/// lenient about what a user pastes).
@Suite("authorize request and redirect parsing")
struct AuthorizeRequestTests {
    static func query(of url: String) -> Substring {
        guard let q = url.firstIndex(of: "?") else { return "" }
        return url[url.index(after: q)...]
    }

    // MARK: - RedirectParser

    @Test(arguments: [
        "code=a&code=b&state=s", "code=a&state=s&state=t", "error=a&error=b&state=s", "state=s&code=a&code=a"
    ])
    func duplicatedParametersAreRefused(_ parameters: String) {
        #expect(throws: FlowError.self) { try RedirectParser.parse(parameters: parameters[...]) }
        do {
            _ = try RedirectParser.parse(parameters: parameters[...])
        } catch let error as FlowError {
            #expect(error.message.contains("more than one"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func codeRedirectIsParsed() throws {
        #expect(
            try RedirectParser.parse(parameters: "code=0.AXo%2Babc&state=s1&session_state=x")
                == .code("0.AXo+abc", state: "s1"))
        #expect(try RedirectParser.parse(parameters: "code=abc") == .code("abc", state: nil))
        // error_description may repeat without harm; only code/state/error are checked.
        #expect(try RedirectParser.parse(parameters: "code=abc&state=s&foo=1&foo=2") == .code("abc", state: "s"))
    }

    @Test func errorRedirectIsParsed() throws {
        let response = try RedirectParser.parse(
            parameters: "error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent.&state=s1")
        #expect(response == .error("access_denied", description: "AADSTS65004: User declined to consent.", state: "s1"))
        // An error wins over a code that came with it.
        #expect(
            try RedirectParser.parse(parameters: "code=abc&error=server_error")
                == .error("server_error", description: nil, state: nil))
    }

    @Test(arguments: ["state=s", "code=&state=s", "", "session_state=x&state=s", "code=%zz&state=s"])
    func redirectWithoutACodeIsRefused(_ parameters: String) {
        #expect(throws: FlowError.self) { try RedirectParser.parse(parameters: parameters[...]) }
    }

    @Test func pastedFullURLWithFragmentIsParsed() throws {
        #expect(
            try RedirectParser.parsePasted("http://localhost:8080/callback?code=abc&state=xyz#/some-spa-route")
                == .code("abc", state: "xyz"))
        #expect(
            try RedirectParser.parsePasted("  https://app.example.com/cb?state=xyz&code=a%2Bb\n")
                == .code("a+b", state: "xyz"))
        #expect(
            try RedirectParser.parsePasted("http://localhost/cb?error=access_denied&state=xyz#")
                == .error("access_denied", description: nil, state: "xyz"))
    }

    @Test func pastedPathOnlyURLIsParsed() throws {
        #expect(try RedirectParser.parsePasted("/callback?code=abc&state=xyz") == .code("abc", state: "xyz"))
    }

    @Test func pastedParametersAreParsed() throws {
        #expect(try RedirectParser.parsePasted("code=abc&state=xyz") == .code("abc", state: "xyz"))
        #expect(try RedirectParser.parsePasted("state=xyz&code=abc\r\n") == .code("abc", state: "xyz"))
    }

    @Test func pastedBareCodeIsParsed() throws {
        let code = "0.AXoAbC-dEf_gHi~jKl.mNo"
        #expect(try RedirectParser.parsePasted(code) == .code(code, state: nil))
        #expect(try RedirectParser.parsePasted("\t\(code)  \n") == .code(code, state: nil))
    }

    @Test(arguments: [
        "not a code at all", "", "   \n", "abc&def", "abc?def", "a=b", "code\u{7}bell", "café", "http://x/cb?state=s"
    ])
    func pastedGarbageIsRefused(_ text: String) {
        #expect(throws: FlowError.self) { try RedirectParser.parsePasted(text) }
    }

    @Test func pastedDuplicatesAreRefused() {
        #expect(throws: FlowError.self) { try RedirectParser.parsePasted("http://localhost/cb?code=a&state=s&code=b") }
        #expect(throws: FlowError.self) { try RedirectParser.parsePasted("code=a&state=s&state=t") }
    }

    @Test func redactedRemovesSecretsAndKeepsTheRest() {
        let url =
            "https://login.example.com/cb?code=SECRETCODE&state=SECRETSTATE&client_secret=SECRETCS&session_state=keep-me&foo=bar&Code=UPPER"
        let redacted = RedirectParser.redacted(url)
        for secret in ["SECRETCODE", "SECRETSTATE", "SECRETCS", "UPPER"] {
            #expect(!redacted.contains(secret), "\(secret) in \(redacted)")
        }
        #expect(redacted.hasPrefix("https://login.example.com/cb?"))
        #expect(redacted.contains("session_state=keep-me"))
        #expect(redacted.contains("foo=bar"))
        #expect(redacted.contains("code=REDACTED"))
        let more = RedirectParser.redacted(
            "https://x/t?refresh_token=RT1&access_token=AT1&id_token=IT1&code_verifier=V1&password=P1&scope=openid")
        for secret in ["RT1", "AT1", "IT1", "V1", "P1"] { #expect(!more.contains(secret), "\(secret) in \(more)") }
        #expect(more.hasSuffix("scope=openid"))
        #expect(RedirectParser.redacted("https://x/no-query") == "https://x/no-query")
    }

    // MARK: - AuthorizeRequest

    @Test func authorizeURLCarriesPKCEStateAndNonce() throws {
        let app = try FlowFixture.azureApp()
        let secrets = LoginSecrets()
        let request = AuthorizeRequest(app: app, redirectURI: "http://localhost:8080/callback", secrets: secrets)
        let url = request.url
        #expect(url.hasPrefix("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"))
        let f = FlowFixture.fields(Self.query(of: url))
        #expect(f["client_id"] == [FlowFixture.clientID])
        #expect(f["response_type"] == ["code"])
        #expect(f["redirect_uri"] == ["http://localhost:8080/callback"])
        #expect(f["code_challenge"] == [secrets.codeChallenge])
        #expect(f["code_challenge_method"] == ["S256"])
        #expect(f["state"] == [secrets.state])
        #expect(f["nonce"] == [secrets.nonce], "the default Azure scope has openid")
        #expect(f["response_mode"] == ["query"])
        #expect(f["prompt"] == nil && f["login_hint"] == nil && f["domain_hint"] == nil)
        #expect(f["scope"] == ["\(FlowFixture.clientID)/.default openid profile offline_access"])
        // Spaces in the scope are %20 (a + would be fine for a server, but the encoder never emits one).
        #expect(url.contains("scope=\(FlowFixture.clientID)%2F.default%20openid%20profile%20offline_access&"))
        #expect(url.contains("redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&"))
        #expect(!url.contains("+"))
        // Nothing secret: the verifier is not in the URL.
        #expect(!url.contains(plaintext(secrets.codeVerifier)))
    }

    @Test func nonceOnlyWhenTheScopeAsksForOpenID() throws {
        let secrets = LoginSecrets()
        for (scope, wantsNonce) in [
            ("api://x/.default offline_access", false), ("openidish offline_access", false),
            ("offline_access openid", true), ("openid", true)
        ] {
            let app = try FlowFixture.azureApp(scope: scope)
            let request = AuthorizeRequest(app: app, redirectURI: "http://localhost:8080", secrets: secrets)
            #expect(request.wantsIDToken == wantsNonce, "\(scope)")
            #expect((FlowFixture.fields(Self.query(of: request.url))["nonce"] != nil) == wantsNonce, "\(scope)")
        }
    }

    @Test func authorizeURLOptionalParameters() throws {
        let app = try FlowFixture.azureApp()
        var request = AuthorizeRequest(app: app, redirectURI: "http://localhost:8080", secrets: LoginSecrets())
        request.responseMode = .formPost
        request.prompt = "select_account"
        request.loginHint = "alice+test@contoso.example"
        request.domainHint = "contoso.example"
        let url = request.url
        let f = FlowFixture.fields(Self.query(of: url))
        #expect(f["response_mode"] == ["form_post"])
        #expect(f["prompt"] == ["select_account"])
        #expect(f["login_hint"] == ["alice+test@contoso.example"])
        #expect(f["domain_hint"] == ["contoso.example"])
        #expect(url.contains("login_hint=alice%2Btest%40contoso.example"))
        // Every field exactly once.
        #expect(f.values.allSatisfy { $0.count == 1 })
    }

    @Test func authorizeEndpointWithAQueryGetsAnAmpersand() throws {
        let app = try FlowFixture.genericApp()
        let url = AuthorizeRequest(app: app, redirectURI: "http://localhost:8080", secrets: LoginSecrets()).url
        #expect(url.hasPrefix("https://idp.example.com/authorize?tenant=x&client_id=my-client&"))
        #expect(url.filter { $0 == "?" }.count == 1)
    }
}
