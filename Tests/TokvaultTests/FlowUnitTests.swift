import Foundation
import NIOHTTP1
import Testing
import TokvaultFakeIdP
@testable import TokvaultFlow
@testable import TokvaultVault

/// Unit tests of the OAuth protocol layer: encoding, redirect parsing, the authorize URL,
/// PKCE, token request bodies, error mapping, token responses, ID token checks and proxies.
@Suite("flow units")
struct FlowUnitTests {
    static func query(of url: String) -> Substring {
        guard let q = url.firstIndex(of: "?") else { return "" }
        return url[url.index(after: q)...]
    }

    // MARK: - FormEncoding

    @Test func encodeKeepsOnlyUnreservedCharacters() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        #expect(FormEncoding.encode(unreserved) == unreserved)
        #expect(FormEncoding.encode("a+b") == "a%2Bb", "+ must not reach the server as a space")
        #expect(FormEncoding.encode("a b") == "a%20b")
        #expect(FormEncoding.encode("a&b=c") == "a%26b%3Dc")
        #expect(FormEncoding.encode("100%") == "100%25")
        #expect(FormEncoding.encode("/?#[]@!$'()*,;:") == "%2F%3F%23%5B%5D%40%21%24%27%28%29%2A%2C%3B%3A")
        #expect(FormEncoding.encode("é") == "%C3%A9")
        #expect(FormEncoding.encode("😀") == "%F0%9F%98%80")
        #expect(FormEncoding.encode("\n\r\t\0") == "%0A%0D%09%00")
        #expect(FormEncoding.encode("") == "")
        // Every byte outside the unreserved set becomes %XX with upper-case hex.
        for byte in UInt8(0)...UInt8(127) {
            let scalar = Character(Unicode.Scalar(byte))
            let encoded = FormEncoding.encode(String(scalar))
            if unreserved.contains(scalar) {
                #expect(encoded == String(scalar))
            } else {
                #expect(encoded == String(format: "%%%02X", byte), "byte \(byte)")
            }
        }
    }

    @Test func decodeReadsPlusAsSpaceAndPercentEscapes() {
        #expect(FormEncoding.decode("a+b") == "a b")
        #expect(FormEncoding.decode("a%20b%2Bc") == "a b+c")
        #expect(FormEncoding.decode("%2f%2F") == "//", "hex digits of either case")
        #expect(FormEncoding.decode("%C3%A9t%C3%A9") == "été")
        #expect(FormEncoding.decode("plain-text_~.") == "plain-text_~.")
        #expect(FormEncoding.decode("") == "")
    }

    @Test(arguments: ["%", "%4", "a%", "%zz", "%G0", "%0G", "%%41", "%FF", "%C3", "%C3%28", "abc%2"])
    func malformedPercentEncodingIsRefused(_ input: String) {
        #expect(FormEncoding.decode(input[...]) == nil, "\(input)")
    }

    @Test func parseSplitsFieldsAndKeepsRepeats() throws {
        let parsed = try #require(FormEncoding.parse("a=1&b=x+y&&c&a=2&d="))
        #expect(parsed.map(\.name) == ["a", "b", "c", "a", "d"])
        #expect(parsed.map(\.value) == ["1", "x y", "", "2", ""])
        #expect(FormEncoding.parse("a=%zz") == nil)
        #expect(FormEncoding.parse("%zz=1") == nil)
        #expect(FormEncoding.parse("k=a=b")?.first?.value == "a=b", "only the first = separates")
    }

    /// decode(encode(s)) == s for random strings drawn heavily from characters that have a
    /// meaning in URLs and forms, plus arbitrary Unicode.
    @Test func roundTripOverRandomHostileStrings() {
        var rng = SplitMix64(seed: 0x70C7A0)
        let hostile: [Unicode.Scalar] = Array("+ &=%?#/\\:;@!$'\"()*,[]{}<>|^`~-._\t\n\r\0".unicodeScalars)
            + ["\u{7F}", "\u{80}", "\u{A0}", "é", "\u{FEFF}", "\u{202E}", "\u{FFFD}", "\u{10FFFF}", "😀", "%"]
        for iteration in 0..<2000 {
            let length = Int(rng.next() % 40)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                switch rng.next() % 3 {
                case 0: scalars.append(hostile[Int(rng.next() % UInt64(hostile.count))])
                case 1: scalars.append(Unicode.Scalar(UInt8(0x20 + rng.next() % 0x5F)))
                default:
                    var value = UInt32(rng.next() % 0x110000)
                    if (0xD800...0xDFFF).contains(value) { value = 0xFFFD }
                    scalars.append(Unicode.Scalar(value)!)
                }
            }
            let original = String(scalars)
            let encoded = FormEncoding.encode(original)
            #expect(encoded.utf8.allSatisfy { FormEncoding.unreserved.contains($0) || $0 == UInt8(ascii: "%") },
                    "iteration \(iteration): only unreserved characters and escapes")
            #expect(!encoded.contains("+") && !encoded.contains("&") && !encoded.contains("="))
            #expect(FormEncoding.decode(encoded[...]) == original, "iteration \(iteration)")
            // And as a form field, next to another one.
            let form = "k=\(encoded)&other=\(FormEncoding.encode(original + "&x=1"))"
            let parsed = FormEncoding.parse(form[...])
            #expect(parsed?.count == 2)
            #expect(parsed?.first?.value == original && parsed?.last?.value == original + "&x=1")
        }
    }

    @Test func roundTripOverRandomByteStrings() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<1000 {
            var bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var encoded: [UInt8] = []
            bytes.withUnsafeBytes { FormEncoding.encode($0, into: &encoded) }
            #expect(encoded.count == bytes.reduce(0) { $0 + (FormEncoding.unreserved.contains($1) ? 1 : 3) })
            let decoded = FormEncoding.decode(String(decoding: encoded, as: UTF8.self)[...])
            if let valid = String(validating: bytes, as: UTF8.self) {
                #expect(decoded == valid)
            } else {
                #expect(decoded == nil, "bytes that are not UTF-8 do not decode to a string")
            }
            bytes.removeAll()
        }
    }

    @Test func formBodyEncodesNamesAndSecretValues() {
        var form = FormBody()
        form.add("grant_type", "authorization_code")
        form.add("client_secret", secret: secure("a+b&c=d%e f"))
        form.add("we ird", "é")
        #expect(form.names == ["grant_type", "client_secret", "we ird"])
        #expect(plaintext(form.encoded()) == "grant_type=authorization_code&client_secret=a%2Bb%26c%3Dd%25e%20f&we%20ird=%C3%A9")
    }

    // MARK: - RedirectParser

    @Test(arguments: ["code=a&code=b&state=s", "code=a&state=s&state=t", "error=a&error=b&state=s", "state=s&code=a&code=a"])
    func duplicatedParametersAreRefused(_ parameters: String) {
        #expect(throws: VaultError.self) { try RedirectParser.parse(parameters: parameters[...]) }
        do {
            _ = try RedirectParser.parse(parameters: parameters[...])
        } catch let error as VaultError {
            #expect(error.message.contains("more than one"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func codeRedirectIsParsed() throws {
        #expect(try RedirectParser.parse(parameters: "code=0.AXo%2Babc&state=s1&session_state=x") == .code("0.AXo+abc", state: "s1"))
        #expect(try RedirectParser.parse(parameters: "code=abc") == .code("abc", state: nil))
        // error_description may repeat without harm; only code/state/error are checked.
        #expect(try RedirectParser.parse(parameters: "code=abc&state=s&foo=1&foo=2") == .code("abc", state: "s"))
    }

    @Test func errorRedirectIsParsed() throws {
        let response = try RedirectParser.parse(
            parameters: "error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent.&state=s1")
        #expect(response == .error("access_denied", description: "AADSTS65004: User declined to consent.", state: "s1"))
        // An error wins over a code that came with it.
        #expect(try RedirectParser.parse(parameters: "code=abc&error=server_error") == .error("server_error", description: nil, state: nil))
    }

    @Test(arguments: ["state=s", "code=&state=s", "", "session_state=x&state=s", "code=%zz&state=s"])
    func redirectWithoutACodeIsRefused(_ parameters: String) {
        #expect(throws: VaultError.self) { try RedirectParser.parse(parameters: parameters[...]) }
    }

    @Test func pastedFullURLWithFragmentIsParsed() throws {
        #expect(try RedirectParser.parsePasted("http://localhost:8080/callback?code=abc&state=xyz#/some-spa-route")
            == .code("abc", state: "xyz"))
        #expect(try RedirectParser.parsePasted("  https://app.example.com/cb?state=xyz&code=a%2Bb\n")
            == .code("a+b", state: "xyz"))
        #expect(try RedirectParser.parsePasted("http://localhost/cb?error=access_denied&state=xyz#")
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

    @Test(arguments: ["not a code at all", "", "   \n", "abc&def", "abc?def", "a=b", "code\u{7}bell", "café", "http://x/cb?state=s"])
    func pastedGarbageIsRefused(_ text: String) {
        #expect(throws: VaultError.self) { try RedirectParser.parsePasted(text) }
    }

    @Test func pastedDuplicatesAreRefused() {
        #expect(throws: VaultError.self) { try RedirectParser.parsePasted("http://localhost/cb?code=a&state=s&code=b") }
        #expect(throws: VaultError.self) { try RedirectParser.parsePasted("code=a&state=s&state=t") }
    }

    @Test func redactedRemovesSecretsAndKeepsTheRest() {
        let url = "https://login.example.com/cb?code=SECRETCODE&state=SECRETSTATE&client_secret=SECRETCS&session_state=keep-me&foo=bar&Code=UPPER"
        let redacted = RedirectParser.redacted(url)
        for secret in ["SECRETCODE", "SECRETSTATE", "SECRETCS", "UPPER"] {
            #expect(!redacted.contains(secret), "\(secret) in \(redacted)")
        }
        #expect(redacted.hasPrefix("https://login.example.com/cb?"))
        #expect(redacted.contains("session_state=keep-me"))
        #expect(redacted.contains("foo=bar"))
        #expect(redacted.contains("code=REDACTED"))
        let more = RedirectParser.redacted("https://x/t?refresh_token=RT1&access_token=AT1&id_token=IT1&code_verifier=V1&password=P1&scope=openid")
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
        for (scope, wantsNonce) in [("api://x/.default offline_access", false), ("openidish offline_access", false),
                                    ("offline_access openid", true), ("openid", true)] {
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

    // MARK: - PKCE and state

    @Test func rfc7636AppendixBExample() {
        let verifier = secure("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(LoginSecrets.challenge(for: verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        // The fake provider's independent SHA-256 agrees.
        #expect(FakePKCE.s256Challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test func loginSecretsAreWellFormedAndFresh() {
        let base64URL = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var verifiers = Set<String>()
        var states = Set<String>()
        for _ in 0..<50 {
            let s = LoginSecrets()
            let verifier = plaintext(s.codeVerifier)
            #expect(verifier.utf8.count == 43)
            #expect(verifier.utf8.allSatisfy { base64URL.contains($0) })
            #expect(s.codeChallenge.utf8.count == 43)
            #expect(s.codeChallenge == FakePKCE.s256Challenge(for: verifier), "base64url(SHA256(verifier)), computed independently")
            #expect(s.codeChallenge == LoginSecrets.challenge(for: s.codeVerifier))
            #expect(s.state.utf8.count == 43 && s.nonce.utf8.count == 43)
            #expect(s.state.utf8.allSatisfy { base64URL.contains($0) } && s.nonce.utf8.allSatisfy { base64URL.contains($0) })
            #expect(s.state != s.nonce)
            verifiers.insert(verifier)
            states.insert(s.state)
        }
        #expect(verifiers.count == 50 && states.count == 50)
    }

    @Test func stateMatchesOnlyTheExactState() {
        let s = LoginSecrets()
        #expect(s.stateMatches(nil) == false)
        #expect(s.stateMatches("") == false)
        #expect(s.stateMatches("x") == false)
        #expect(s.stateMatches(String(s.state.dropLast())) == false, "a prefix is not a match")
        #expect(s.stateMatches(s.state + "x") == false)
        #expect(s.stateMatches(s.state.uppercased()) == (s.state.uppercased() == s.state))
        #expect(s.stateMatches(LoginSecrets().state) == false)
        #expect(s.stateMatches(s.state) == true)
        #expect(s.stateMatches(String(decoding: Array(s.state.utf8), as: UTF8.self)) == true)
    }

    // MARK: - TokenClient.requestBody

    @Test func clientSecretPostForCodeGrant() throws {
        let app = try FlowFixture.azureApp()
        #expect(app.clientAuth == .post)
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .authorizationCode(code: secure("the-code"), verifier: secure("the-verifier"), redirectURI: "http://localhost:8080/cb"),
            clientSecret: secure("s3cr+t&="))
        #expect(basic == nil)
        let encoded = plaintext(body.encoded())
        let f = FlowFixture.fields(encoded[...])
        #expect(f["grant_type"] == ["authorization_code"])
        #expect(f["code"] == ["the-code"])
        #expect(f["code_verifier"] == ["the-verifier"])
        #expect(f["redirect_uri"] == ["http://localhost:8080/cb"])
        #expect(f["scope"] == [app.scope])
        #expect(f["client_id"] == [FlowFixture.clientID])
        #expect(f["client_secret"] == ["s3cr+t&="])
        #expect(encoded.contains("client_secret=s3cr%2Bt%26%3D"))
        #expect(f.values.allSatisfy { $0.count == 1 })
    }

    @Test func clientSecretPostForRefreshGrantSendsTheGivenScope() throws {
        let app = try FlowFixture.azureApp()
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .refreshToken(secure("rt-1"), scope: "other/.default offline_access"), clientSecret: secure("s"))
        #expect(basic == nil)
        let f = FlowFixture.fields(plaintext(body.encoded())[...])
        #expect(f["grant_type"] == ["refresh_token"])
        #expect(f["refresh_token"] == ["rt-1"])
        #expect(f["scope"] == ["other/.default offline_access"])
        #expect(f["client_secret"] == ["s"])
        #expect(f["code_verifier"] == nil && f["code"] == nil)
    }

    @Test func clientSecretBasicFormEncodesIdAndSecretBeforeBase64() throws {
        let app = try FlowFixture.genericApp(clientID: "my.client:1")
        #expect(app.clientAuth == .basic)
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .refreshToken(secure("rt"), scope: app.scope), clientSecret: secure("p@ss:w+rd é"))
        let f = FlowFixture.fields(plaintext(body.encoded())[...])
        #expect(f["client_secret"] == nil && f["client_id"] == nil, "basic auth keeps the credentials out of the body")
        #expect(f["scope"] == ["openid offline_access"])
        // Independently: form-encode by hand, then base64.
        let pair = "my.client%3A1:p%40ss%3Aw%2Brd%20%C3%A9"
        let expected = "Basic " + Data(pair.utf8).base64EncodedString()
        #expect(basic.map(plaintext) == expected)
    }

    @Test func publicClientSendsNoSecret() throws {
        let app = try FlowFixture.azureApp(isPublic: true)
        #expect(app.clientAuth == .none)
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .authorizationCode(code: secure("c"), verifier: secure("v"), redirectURI: "http://localhost"),
            clientSecret: secure("ignored-secret"))
        #expect(basic == nil)
        let encoded = plaintext(body.encoded())
        #expect(!encoded.contains("ignored-secret") && !encoded.contains("client_secret"))
        let f = FlowFixture.fields(encoded[...])
        #expect(f["client_id"] == [FlowFixture.clientID])
        #expect(f["code_verifier"] == ["v"])
        #expect(f["scope"] == [app.scope])
    }

    @Test func confidentialClientWithoutSecretIsRefused() throws {
        for app in [try FlowFixture.azureApp(), try FlowFixture.genericApp()] {
            do {
                _ = try TokenClient.requestBody(app: app, grant: .refreshToken(secure("rt"), scope: "x"), clientSecret: nil)
                Issue.record("\(app.clientAuth) without a secret was accepted")
            } catch let error as VaultError {
                #expect(error.exitCode == 1)
                #expect(error.hint?.contains("--secret-prompt") == true)
            }
        }
    }

    // MARK: - TokenErrors

    static func mapped(_ json: String, status: Int = 400, grant: TokenClient.Grant? = nil, contentType: String = "application/json") throws -> VaultError {
        let app = try FlowFixture.azureApp()
        return TokenErrors.error(status: status, data: Data(json.utf8), headers: HTTPHeaders([("Content-Type", contentType)]),
                                 app: app, grant: grant ?? .refreshToken(secure("rt"), scope: app.scope),
                                 endpoint: app.tokenEndpoint)
    }

    static var codeGrant: TokenClient.Grant {
        .authorizationCode(code: secure("c"), verifier: secure("v"), redirectURI: "http://localhost:8080")
    }

    static func azureError(_ error: String, _ code: Int, _ text: String) -> String {
        #"{"error":"\#(error)","error_description":"AADSTS\#(code): \#(text)\r\nTrace ID: 11111111-aaaa-bbbb-cccc-000000000001\r\nCorrelation ID: 22222222-aaaa-bbbb-cccc-000000000002\r\nTimestamp: 2025-01-01 00:00:00Z","error_codes":[\#(code)],"trace_id":"11111111-aaaa-bbbb-cccc-000000000001","correlation_id":"22222222-aaaa-bbbb-cccc-000000000002"}"#
    }

    @Test func invalidGrantOnRefreshMeansLoginRequired() throws {
        let error = try Self.mapped(Self.azureError("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity."))
        #expect(error.exitCode == 2)
        #expect(error.message.contains("login required for app \"adme\""))
        #expect(error.message.contains("AADSTS70008"))
        #expect(error.message.contains("trace id 11111111-aaaa-bbbb-cccc-000000000001"))
        #expect(!error.message.contains("Timestamp"), "only the first line of the description")
        #expect(error.hint?.contains("tokvault login adme") == true)
    }

    @Test func invalidGrantOnCodeIsAFailure() throws {
        let error = try Self.mapped(Self.azureError("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."), grant: Self.codeGrant)
        #expect(error.exitCode == 1)
        #expect(error.hint?.contains("tokvault login adme") == true)
        #expect(error.hint?.contains("PKCE") == true)
    }

    @Test(arguments: ["interaction_required", "login_required"])
    func interactionRequiredMeansLoginRequired(_ code: String) throws {
        let error = try Self.mapped(Self.azureError(code, 50076, "Due to a configuration change made by your administrator, you must use multi-factor authentication."))
        #expect(error.exitCode == 2)
        #expect(error.hint?.contains("tokvault login adme") == true)
    }

    @Test(arguments: [7000215, 7000222])
    func invalidClientPointsAtTheSecret(_ code: Int) throws {
        let error = try Self.mapped(Self.azureError("invalid_client", code, "Invalid client secret provided."), status: 401)
        #expect(error.exitCode == 1)
        #expect(error.hint?.contains("tokvault set adme --secret-prompt") == true, "\(error.hint ?? "")")
        if code == 7000222 { #expect(error.hint?.contains("expired") == true) }
    }

    /// Every invalid_client answer: exit 1, the provider's code in the message, and advice that
    /// depends on the code, on the app's credential (secret or certificate) and on the grant.
    @Test(arguments: [
        (false, 7000222, false, "the client secret has expired"),
        (false, 700025, false, "registered as a public client: `tokvault set adme --public`"),
        (false, 7000218, false, "the app needs a client secret"),
        (false, 7000218, true, "enable 'Allow public client flows'"),
        (false, 7000215, false, "the client secret (or client id) is wrong"),
        (true, 700024, false, "check this machine's clock"),
        (true, 700023, false, "expects another audience than the token endpoint https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"),
        (true, 700021, false, "is not the application the certificate is registered on"),
        (true, 700027, false, "the certificate is not registered on the app"),
        (true, 7000218, false, "the certificate is not registered on the app"),
        (true, 7000218, true, "enable 'Allow public client flows'"),
        (true, 7000222, false, "the certificate is not registered on the app"),
    ])
    func invalidClientAdviceFollowsTheCredential(_ certificate: Bool, _ code: Int, _ device: Bool, _ hint: String) throws {
        var app = try FlowFixture.azureApp()
        if certificate { app.clientAuth = .privateKeyJWT }
        let grant: TokenClient.Grant = device ? .deviceCode(secure("dc")) : .refreshToken(secure("rt"), scope: app.scope)
        let error = TokenErrors.error(status: 401, data: Data(Self.azureError("invalid_client", code, "Refused.").utf8),
                                      headers: HTTPHeaders([("Content-Type", "application/json")]), app: app, grant: grant,
                                      endpoint: app.tokenEndpoint)
        #expect(error.exitCode == 1)
        #expect(error.message.contains("invalid_client (AADSTS\(code): Refused.)"), "\(error.message)")
        #expect(error.hint?.contains(hint) == true, "\(error.hint ?? "no hint")")
    }

    @Test(arguments: ["invalid_grant", "invalid_request"])
    func redirectMismatchGetsTheRedirectHint(_ oauthError: String) throws {
        let error = try Self.mapped(Self.azureError(oauthError, 50011, "The redirect URI 'http://localhost:1' does not match."), grant: Self.codeGrant)
        #expect(error.exitCode == 1)
        #expect(error.hint?.contains("redirect URI") == true)
        #expect(error.hint?.contains("http://localhost:8080") == true, "names the app's redirect URI: \(error.hint ?? "")")
    }

    @Test func temporarilyUnavailableIsUnreachable() throws {
        let error = try Self.mapped(Self.azureError("temporarily_unavailable", 50196, "The server encountered a client request loop."), status: 503)
        #expect(error.exitCode == 3)
    }

    @Test func emptyBody400IsAFailure() throws {
        let error = try Self.mapped("", status: 400, contentType: "")
        #expect(error.exitCode == 1)
        #expect(error.message.contains("HTTP 400 with an empty body"))
        #expect(error.message.contains("login.microsoftonline.com"))
    }

    @Test func htmlBadGatewayIsUnreachable() throws {
        let error = try Self.mapped("<html><body><h1>502 Bad Gateway</h1></body></html>", status: 502, contentType: "text/html; charset=utf-8")
        #expect(error.exitCode == 3)
        #expect(error.message.contains("an HTML page"))
        #expect(error.hint?.contains("try again later") == true)
    }

    @Test func nonOAuthJSONIsDescribed() throws {
        let error = try Self.mapped(#"{"message":"nope"}"#, status: 403)
        #expect(error.exitCode == 1)
        #expect(error.message.contains("not an OAuth error (application/json)"))
    }

    // MARK: - TokenResponseParser

    static let endpoint = "https://login.example.com/token"

    @Test func expiresInAsNumberOrString() throws {
        for raw in ["3599", "\"3599\"", "\" 3599 \"", "3599.0"] {
            let json = #"{"access_token":"at-1","token_type":"Bearer","expires_in":\#(raw),"refresh_token":"rt-1","scope":"a b"}"#
            let response = try TokenResponseParser.parseSuccess(Data(json.utf8), now: 1_700_000_000, endpoint: Self.endpoint)
            #expect(response.expiresIn == 3599, "\(raw)")
            #expect(response.tokenSet.expiresAt == 1_700_003_599, "\(raw): counted from now")
            #expect(plaintext(response.tokenSet.accessToken) == "at-1")
            #expect(response.tokenSet.refreshToken.map(plaintext) == "rt-1")
            #expect(response.tokenSet.grantedScope == "a b")
            #expect(response.tokenSet.tokenType == "Bearer")
            #expect(response.idTokenClaims == nil)
        }
    }

    @Test func expiryDefaultsAndClamps() throws {
        let missing = try TokenResponseParser.parseSuccess(Data(#"{"access_token":"a"}"#.utf8), now: 100, endpoint: Self.endpoint)
        #expect(missing.tokenSet.expiresAt == 3700, "one hour when expires_in is missing")
        #expect(missing.tokenSet.refreshToken == nil)
        let negative = try TokenResponseParser.parseSuccess(Data(#"{"access_token":"a","expires_in":-5}"#.utf8), now: 100, endpoint: Self.endpoint)
        #expect(negative.tokenSet.expiresAt == 100)
        let huge = try TokenResponseParser.parseSuccess(Data(#"{"access_token":"a","expires_in":99999999999}"#.utf8), now: 0, endpoint: Self.endpoint)
        #expect(huge.tokenSet.expiresAt == 366 * 86400)
    }

    @Test(arguments: [#"{"token_type":"Bearer","expires_in":3600}"#, #"{"access_token":"","expires_in":3600}"#,
                      #"{"access_token":null}"#, "not json", "", #"{"access_token":"a","expires_in":"soon"}"#])
    func responsesWithoutAUsableAccessTokenAreRejected(_ json: String) {
        #expect(throws: VaultError.self) {
            try TokenResponseParser.parseSuccess(Data(json.utf8), now: 0, endpoint: Self.endpoint)
        }
    }

    @Test func nonBearerTokenTypeIsRejected() {
        for type in ["mac", "N_A", "DPoP-ish"] {
            #expect(throws: VaultError.self, "\(type)") {
                try TokenResponseParser.parseSuccess(Data(#"{"access_token":"a","token_type":"\#(type)"}"#.utf8), now: 0, endpoint: Self.endpoint)
            }
        }
        #expect(throws: Never.self) {
            try TokenResponseParser.parseSuccess(Data(#"{"access_token":"a","token_type":"bearer"}"#.utf8), now: 0, endpoint: Self.endpoint)
        }
    }

    @Test func idTokenClaimsAreDecoded() throws {
        let jwt = unsignedJWT(["aud": FlowFixture.clientID, "iss": "https://login.microsoftonline.com/tid-1/v2.0", "preferred_username": "alice@contoso.example",
                            "nonce": "n-1", "tid": "tid-1", "exp": 2_000_000_000])
        let json = #"{"access_token":"a","expires_in":60,"id_token":"\#(jwt)"}"#
        let response = try TokenResponseParser.parseSuccess(Data(json.utf8), now: 0, endpoint: Self.endpoint)
        #expect(response.idTokenClaims?.account == "alice@contoso.example")
        #expect(response.tokenSet.account == "alice@contoso.example")
        #expect(response.tokenSet.idToken.map(plaintext) == jwt)
        // An unreadable ID token is reported with the answer (a refresh keeps its other tokens),
        // and the token set carries none.
        let garbage = try TokenResponseParser.parseSuccess(Data(#"{"access_token":"a","refresh_token":"r","id_token":"not-a-jwt"}"#.utf8),
                                                           now: 0, endpoint: Self.endpoint)
        #expect(garbage.idTokenProblem?.message == "the token endpoint returned an id_token that is not a JWT")
        #expect(garbage.tokenSet.idToken == nil && garbage.tokenSet.account == nil)
        #expect(garbage.tokenSet.refreshToken.map(plaintext) == "r")
        #expect(throws: VaultError.self) {
            try garbage.validateIDToken(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: nil, now: 0)
        }
    }

    // MARK: - IDTokenClaims.validate

    static func claims(_ values: [String: Any]) throws -> IDTokenClaims {
        try IDTokenClaims.decode(unsignedJWT(values))
    }

    static let now: Int64 = 1_700_000_000
    static let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"

    static var goodClaims: [String: Any] {
        ["aud": FlowFixture.clientID, "iss": "https://login.microsoftonline.com/\(tid)/v2.0", "tid": tid, "nonce": "nonce-1", "exp": now + 3600]
    }

    @Test func validClaimsPass() throws {
        let c = try Self.claims(Self.goodClaims)
        try c.validate(clientID: FlowFixture.clientID, expectedIssuer: "https://login.microsoftonline.com/{tenantid}/v2.0", nonce: "nonce-1", now: Self.now)
        try c.validate(clientID: FlowFixture.clientID, expectedIssuer: "https://login.microsoftonline.com/\(Self.tid)/v2.0", nonce: nil, now: Self.now)
        try c.validate(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: "nonce-1", now: Self.now)
        var multi = Self.goodClaims
        multi["aud"] = ["other", FlowFixture.clientID]
        try Self.claims(multi).validate(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: nil, now: Self.now)
        // Five minutes of clock skew are allowed.
        try c.validate(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: nil, now: Self.now + 3600 + 300)
    }

    func expectRejected(_ values: [String: Any], issuer: String? = "https://login.microsoftonline.com/{tenantid}/v2.0",
                        nonce: String? = "nonce-1", now: Int64 = Self.now, _ why: String) throws {
        let c = try Self.claims(values)
        do {
            try c.validate(clientID: FlowFixture.clientID, expectedIssuer: issuer, nonce: nonce, now: now)
            Issue.record("accepted: \(why)")
        } catch let error as VaultError {
            #expect(error.exitCode == 1)
            #expect(error.message.contains(why), "\(error.message)")
            #expect(error.message.contains("the tokens were not stored"))
        }
    }

    @Test func audienceMismatchIsRejected() throws {
        var v = Self.goodClaims
        v["aud"] = "11111111-2222-3333-4444-555555555555"
        try expectRejected(v, "audience")
        v.removeValue(forKey: "aud")
        try expectRejected(v, "audience")
    }

    @Test func nonceMismatchIsRejected() throws {
        var v = Self.goodClaims
        v["nonce"] = "nonce-2"
        try expectRejected(v, "nonce")
        v.removeValue(forKey: "nonce")
        try expectRejected(v, "nonce")
    }

    @Test func issuerTemplateIsFilledFromTid() throws {
        var v = Self.goodClaims
        v["tid"] = "00000000-0000-0000-0000-000000000bad"
        // The tid fills the template, and the result must then match iss.
        try expectRejected(v, "issuer")
        v.removeValue(forKey: "tid")
        try expectRejected(v, "tid")
        v = Self.goodClaims
        v["iss"] = "https://evil.example.com/\(Self.tid)/v2.0"
        try expectRejected(v, "issuer")
        try expectRejected(Self.goodClaims, issuer: "https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/v2.0", "issuer")
    }

    @Test func expiredIDTokenIsRejected() throws {
        var v = Self.goodClaims
        v["exp"] = Self.now - 301
        try expectRejected(v, "expired")
    }

    // MARK: - ProxySettings

    static func env(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    @Test func httpsProxyIsUsedForHTTPSHosts() throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy.example.com:3128"])
        let proxy = try ProxySettings.forURL("https://login.microsoftonline.com/t/oauth2/v2.0/token", environment: e)
        #expect(proxy == ProxySettings(host: "proxy.example.com", port: 3128, username: nil, password: nil))
        // A scheme-less proxy is http; the default port is 80.
        #expect(try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["https_proxy": "proxy.example.com"]))
            == ProxySettings(host: "proxy.example.com", port: 80, username: nil, password: nil))
        #expect(try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["ALL_PROXY": "http://p:1"]))?.host == "p")
        #expect(try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env([:])) == nil)
        #expect(try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": ""])) == nil)
        // HTTPS_PROXY is not for plain http URLs.
        #expect(try ProxySettings.forURL("http://idp.example.com/t", environment: e) == nil)
    }

    @Test(arguments: [
        ("login.microsoftonline.com", true),
        ("microsoftonline.com", true),
        (".microsoftonline.com", true),
        ("*.microsoftonline.com", true),
        ("*", true),
        ("example.com, login.microsoftonline.com", true),
        ("LOGIN.MicrosoftOnline.com", true),
        ("login.microsoftonline.com:443", true),
        ("login.microsoftonline.com:8443", false),
        ("online.com", false),
        ("gin.microsoftonline.com", false),
        ("example.com", false),
        ("", false),
    ])
    func noProxy(_ noProxy: String, _ bypassed: Bool) throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy.example.com:3128", "NO_PROXY": noProxy])
        let proxy = try ProxySettings.forURL("https://login.microsoftonline.com/t/oauth2/v2.0/token", environment: e)
        #expect((proxy == nil) == bypassed, "NO_PROXY=\(noProxy)")
    }

    @Test func noProxyWithAPortMatchesOnlyThatPort() throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy:3128", "no_proxy": "idp.example.com:8443"])
        #expect(try ProxySettings.forURL("https://idp.example.com:8443/token", environment: e) == nil)
        #expect(try ProxySettings.forURL("https://idp.example.com/token", environment: e) != nil)
    }

    @Test(arguments: ["https://localhost/t", "https://localhost:8443/t", "https://127.0.0.1:8443/t", "https://127.1.2.3/t",
                      "https://[::1]:8443/t", "http://127.0.0.1:1234/t", "https://LOCALHOST/t"])
    func loopbackIsNeverProxied(_ url: String) throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy:3128", "ALL_PROXY": "http://proxy:3128"])
        #expect(try ProxySettings.forURL(url, environment: e) == nil, "\(url)")
    }

    @Test func proxyCredentialsAreParsed() throws {
        let e = Self.env(["HTTPS_PROXY": "http://alice:s3cret@proxy.example.com:3128"])
        let proxy = try #require(try ProxySettings.forURL("https://idp.example.com/t", environment: e))
        #expect(proxy.host == "proxy.example.com" && proxy.port == 3128)
        #expect(proxy.username == "alice")
        #expect(proxy.password == "s3cret")
        let escaped = try #require(try ProxySettings.forURL(
            "https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": "http://dom%5Calice:p%40ss%3Aword@proxy:8080"])))
        #expect(escaped.username == "dom\\alice")
        #expect(escaped.password == "p@ss:word")
    }

    /// Percent-encoded `+` and `%` in proxy credentials must come out as `+` and `%`.
    @Test func proxyCredentialsWithPlusAndPercent() throws {
        let e = Self.env(["HTTPS_PROXY": "http://bob:a%2Bb%25c@proxy:8080"])
        let proxy = try #require(try ProxySettings.forURL("https://idp.example.com/t", environment: e))
        let plus = try #require(try ProxySettings.forURL(
            "https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": "http://bob:a+b@proxy:8080"])))
        #expect(proxy.password == "a+b%c")
        #expect(plus.password == "a+b")
    }

    @Test(arguments: ["socks5://proxy:1080", "https://proxy:443", "ftp://proxy"])
    func nonHTTPProxySchemeIsRefused(_ raw: String) {
        do {
            _ = try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": raw]))
            Issue.record("\(raw) was accepted")
        } catch let error as VaultError {
            #expect(error.exitCode == 64)
            #expect(error.message.contains("only http://"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func malformedProxyIsRefusedWithoutItsPassword() {
        do {
            _ = try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": "http://u:hunter2@"]))
            Issue.record("accepted a proxy without a host")
        } catch let error as VaultError {
            #expect(error.exitCode == 64)
            #expect(!error.message.contains("hunter2"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: - TokenService.expectedIssuer

    @Test func expectedIssuerForAGUIDTenant() throws {
        let app = try FlowFixture.azureApp(tenant: "72F988BF-86F1-41AF-91AB-2D7CD011DB47")
        #expect(TokenService.expectedIssuer(for: app) == "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0")
    }

    @Test(arguments: ["contoso.onmicrosoft.com", "organizations", "common"])
    func expectedIssuerForADomainTenantIsATemplate(_ tenant: String) throws {
        let app = try FlowFixture.azureApp(tenant: tenant)
        #expect(TokenService.expectedIssuer(for: app) == "https://login.microsoftonline.com/{tenantid}/v2.0")
    }

    @Test func expectedIssuerKeepsSchemeAndPortOfALoopbackAuthority() throws {
        let app = try FlowFixture.azureApp(tenant: "00000000-0000-0000-0000-0000000000aa", authorityHost: "http://127.0.0.1:49152")
        #expect(app.tokenEndpoint.hasPrefix("http://127.0.0.1:49152/"))
        #expect(TokenService.expectedIssuer(for: app) == "http://127.0.0.1:49152/00000000-0000-0000-0000-0000000000aa/v2.0")
        let sovereign = try FlowFixture.azureApp(tenant: "contoso.onmicrosoft.us", authorityHost: "login.microsoftonline.us")
        #expect(TokenService.expectedIssuer(for: sovereign) == "https://login.microsoftonline.us/{tenantid}/v2.0")
    }

    @Test func expectedIssuerIsUnknownForGenericServers() throws {
        var app = try FlowFixture.genericApp()
        #expect(TokenService.expectedIssuer(for: app) == nil)
        // Apps added by discovery carry their issuer, which wins.
        app.issuer = "https://idp.example.com"
        #expect(TokenService.expectedIssuer(for: app) == "https://idp.example.com")
    }

    @Test func scopeKeyNormalizesAndDefaults() throws {
        let app = try FlowFixture.azureApp()
        #expect(TokenService.scopeKey(nil, app: app) == "")
        #expect(TokenService.scopeKey(app.scope, app: app) == "")
        #expect(TokenService.scopeKey("  other/.default   offline_access ", app: app) == "other/.default offline_access")
    }
}
