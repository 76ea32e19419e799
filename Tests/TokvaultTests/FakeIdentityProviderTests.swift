// Tests of the fake Microsoft identity platform (TokvaultFakeIdP) and of the scripted browser.
// HTTP goes through `curl` child processes, so these tests exercise the fake exactly as an
// outside client does (no URLSession/FoundationNetworking in the test process).

import Foundation
import Testing
import TokvaultFakeIdP
import _CryptoExtras

// MARK: - Helpers

private let tid = "00000000-0000-0000-0000-0000000000aa"
private let publicID = "11111111-2222-3333-4444-555555555555"
private let confidentialID = "99999999-8888-7777-6666-555555555555"
/// A secret with characters that must be escaped in form bodies and in Basic credentials.
private let confidentialSecret = "s3cr+t/=:&%é~x"
/// A confidential client that authenticates only with certificate assertions.
private let certificateID = "44444444-3333-2222-1111-000000000000"
/// A confidential client (secret) with "Allow public client flows".
private let deviceID = "55555555-4444-3333-2222-111111111111"
private let deviceSecret = "device-secret"
private let deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
private let jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
// PKCE pair computed independently (Python hashlib): BASE64URL(SHA256(verifier)).
private let verifier = "dBjftJeZ4CVP-mJ92K9qpvxQtkBZuKo1XMT0RRJAMW0"
private let challenge = "cFg839mit7lNaYqIpYmWuo52njjU5YM8BI-_lAOX_fU"

private struct Reply: CustomStringConvertible {
    var curlStatus: Int32
    var status: Int
    var headers: [String: String]
    var body: String

    func header(_ name: String) -> String? { headers[name.lowercased()] }
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
    var errorCodes: [Int] { json["error_codes"] as? [Int] ?? [] }
    var description: String { "curl \(curlStatus) HTTP \(status) \(headers) \(body.prefix(400))" }
}

private func percentEncode(_ s: String) -> String {
    let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return s.addingPercentEncoding(withAllowedCharacters: allowed)!
}

private func encodeForm(_ pairs: [(String, String)]) -> String {
    pairs.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
}

/// One request with curl; the response head and body are parsed from `curl -i`.
private func http(
    _ method: String, _ url: String, form: [(String, String)]? = nil, body: String? = nil,
    contentType: String? = nil, headers: [String] = [], maxTime: Double = 5
) -> Reply {
    var args = ["-sS", "-i", "--max-time", String(maxTime), "-X", method, "-H", "Expect:"]
    for header in headers { args += ["-H", header] }
    var payload: Data?
    if let form {
        payload = Data(encodeForm(form).utf8)
        args += ["-H", "Content-Type: \(contentType ?? "application/x-www-form-urlencoded")"]
    } else if let body {
        payload = Data(body.utf8)
        if let contentType { args += ["-H", "Content-Type: \(contentType)"] }
    }
    if payload != nil { args += ["--data-binary", "@-"] }
    args.append(url)
    let result = runToEnd("/usr/bin/curl", args, stdin: payload ?? nil)
    let text = String(decoding: result.stdout, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else {
        return Reply(curlStatus: result.status, status: 0, headers: [:], body: text)
    }
    let headLines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let status = headLines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    var parsed: [String: String] = [:]
    for line in headLines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        parsed[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return Reply(curlStatus: result.status, status: status, headers: parsed, body: String(text[split.upperBound...]))
}

private func queryItems(_ url: String) -> [String: String] {
    var items: [String: String] = [:]
    for item in URLComponents(string: url)?.queryItems ?? [] { items[item.name] = item.value ?? "" }
    return items
}

private func base64URLDecode(_ s: Substring) -> Data? {
    var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while b.count % 4 != 0 { b += "=" }
    return Data(base64Encoded: b)
}

private func basicHeader(_ id: String, _ secret: String) -> String {
    "Authorization: Basic " + Data("\(percentEncode(id)):\(percentEncode(secret))".utf8).base64EncodedString()
}

/// A running fake with a public and a confidential client; stopped when released.
private final class IdP: Sendable {
    let provider: FakeIdentityProvider
    var base: String { provider.baseURL }
    var tokenURL: String { "\(base)/\(tid)/oauth2/v2.0/token" }

    /// `certificatePEMs` registers them for `certificateID` (no client is registered under that id
    /// otherwise); `configure` adjusts the configuration last.
    init(codeLifetime: Int = 600, extraRedirects: [String] = [], certificatePEMs: [String]? = nil,
         configure: (inout FakeIdPConfiguration) -> Void = { _ in }) throws {
        let redirects = ["http://localhost", "http://127.0.0.1/callback", "https://app.contoso.example/auth"]
            + extraRedirects
        var clients = [
            FakeClient(clientID: publicID, clientSecret: nil, redirectURIs: redirects),
            FakeClient(clientID: confidentialID, clientSecret: confidentialSecret, redirectURIs: redirects),
            FakeClient(clientID: deviceID, clientSecret: deviceSecret, redirectURIs: redirects, allowPublicClientFlows: true),
        ]
        if let certificatePEMs {
            clients.append(FakeClient(clientID: certificateID, redirectURIs: redirects, certificatePEMs: certificatePEMs))
        }
        var configuration = FakeIdPConfiguration(tenant: tid, clients: clients, codeLifetime: codeLifetime)
        configure(&configuration)
        provider = FakeIdentityProvider(configuration)
        try provider.start()
    }

    /// client_credentials for `client` with extra form fields (credentials) and headers.
    func clientCredentials(client: String? = certificateID, scope: String? = "api://tokvault-test/.default",
                           extra: [(String, String)] = [], headers: [String] = [], tenant: String = tid) -> Reply {
        var form: [(String, String)] = [("grant_type", "client_credentials")]
        if let client { form.append(("client_id", client)) }
        if let scope { form.append(("scope", scope)) }
        return http("POST", "\(base)/\(tenant)/oauth2/v2.0/token", form: form + extra, headers: headers)
    }

    /// POST /devicecode; returns the JSON answer (expects success).
    func deviceCode(client: String = publicID, scope: String = "openid offline_access User.Read") -> [String: Any] {
        http("POST", "\(base)/\(tid)/oauth2/v2.0/devicecode", form: [("client_id", client), ("scope", scope)]).json
    }

    func pollDevice(_ deviceCode: String, client: String = publicID, extra: [(String, String)] = []) -> Reply {
        http("POST", tokenURL, form: [("grant_type", deviceGrant), ("client_id", client), ("device_code", deviceCode)]
            + extra)
    }

    deinit { provider.stop() }

    func authorize(
        client: String = publicID, redirect: String = "http://localhost:43210/", tenant: String = "organizations",
        scope: String = "openid profile offline_access User.Read", state: String? = "st-1",
        challenge: String? = challenge, method: String? = "S256", extra: [(String, String)] = []
    ) -> Reply {
        var q: [(String, String)] = [("client_id", client), ("response_type", "code"), ("redirect_uri", redirect),
            ("scope", scope)]
        if let state { q.append(("state", state)) }
        if let challenge { q.append(("code_challenge", challenge)) }
        if let method { q.append(("code_challenge_method", method)) }
        return http("GET", "\(base)/\(tenant)/oauth2/v2.0/authorize?" + encodeForm(q + extra))
    }

    /// Authorize and return the code (expects success).
    func code(client: String = publicID, redirect: String = "http://localhost:43210/",
              scope: String = "openid profile offline_access User.Read", nonce: String? = nil) -> String? {
        let reply = authorize(client: client, redirect: redirect, scope: scope, extra: nonce.map { [("nonce", $0)] } ?? [])
        guard reply.status == 302, let location = reply.header("location") else { return nil }
        return queryItems(location)["code"]
    }

    func redeem(_ code: String, client: String = publicID, redirect: String = "http://localhost:43210/",
                verifier: String? = verifier, extra: [(String, String)] = [], headers: [String] = []) -> Reply {
        var form: [(String, String)] = [("grant_type", "authorization_code"), ("client_id", client), ("code", code),
            ("redirect_uri", redirect)]
        if let verifier { form.append(("code_verifier", verifier)) }
        return http("POST", tokenURL, form: form + extra, headers: headers)
    }

    func refresh(_ token: String, client: String = publicID, scope: String? = "openid offline_access User.Read",
                 extra: [(String, String)] = []) -> Reply {
        var form: [(String, String)] = [("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", token)]
        if let scope { form.append(("scope", scope)) }
        return http("POST", tokenURL, form: form + extra)
    }

    /// A full sign-in; returns the token response JSON.
    func signIn() -> [String: Any] {
        guard let code = code() else { return [:] }
        return redeem(code).json
    }
}

private func expectAzureError(_ reply: Reply, status: Int, error: String, code: Int,
                              sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.header("content-type")?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
    let json = reply.json
    #expect(json["error"] as? String == error, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.errorCodes == [code], "\(reply)", sourceLocation: sourceLocation)
    let description = json["error_description"] as? String ?? ""
    #expect(description.hasPrefix("AADSTS\(code): "), sourceLocation: sourceLocation)
    #expect(description.contains("\r\nTrace ID: "), sourceLocation: sourceLocation)
    #expect(description.contains("\r\nCorrelation ID: "), sourceLocation: sourceLocation)
    #expect(description.contains("\r\nTimestamp: "), sourceLocation: sourceLocation)
    #expect(json["trace_id"] is String && json["correlation_id"] is String && json["timestamp"] is String,
            sourceLocation: sourceLocation)
}

// MARK: - Client assertions (RFC 7523), built independently of the fake

/// The shared test certificate's key, parsed once.
private let sharedKey: _RSA.Signing.PrivateKey = {
    do { return try TestCertificate.shared.privateKey() } catch { fatalError("\(error)") }
}()

/// A second key and certificate, registered nowhere.
private let otherCertificate: (certificate: TestCertificate, key: _RSA.Signing.PrivateKey) = {
    do {
        let certificate = try TestCertificate.make(commonName: "tokvault-other")
        return (certificate, try certificate.privateKey())
    } catch { fatalError("\(error)") }
}()

private func jsonSegment(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// The claims Microsoft documents for a certificate credential, valid for ten minutes from `now`.
private func assertionClaims(audience: String, client: String = certificateID, now: Date = Date(),
                             lifetime: Int = 600) -> [String: Any] {
    let t = Int(now.timeIntervalSince1970)
    return ["aud": audience, "iss": client, "sub": client, "jti": UUID().uuidString, "nbf": t, "iat": t,
            "exp": t + lifetime]
}

/// A compact JWS: `header` (alg PS256 with x5t#S256 of the shared certificate unless overridden;
/// a nil value removes a member), `claims`, signed with `key` using `alg`'s padding (PSS unless RS256).
private func makeAssertion(claims: [String: Any], header overrides: [String: Any?] = [:],
                           key: _RSA.Signing.PrivateKey = sharedKey) throws -> String {
    var header: [String: Any] = ["alg": "PS256", "typ": "JWT", "x5t#S256": TestCertificate.shared.sha256Thumbprint]
    for (name, value) in overrides { header[name] = value }
    let input = jsonSegment(header) + "." + jsonSegment(claims)
    let padding: _RSA.Signing.Padding = header["alg"] as? String == "RS256" ? .insecurePKCS1v1_5 : .PSS
    let signature = try key.signature(for: SHA256.hash(data: Data(input.utf8)), padding: padding)
    return input + "." + Data(signature.rawRepresentation).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

private func assertionForm(_ assertion: String) -> [(String, String)] {
    [("client_assertion_type", jwtBearer), ("client_assertion", assertion)]
}

private func descriptionOf(_ reply: Reply) -> String { reply.json["error_description"] as? String ?? "" }

// MARK: - Tests

@Suite struct FakeIdentityProviderTests {
    @Test func sha256AndPKCEMatchIndependentValues() {
        let abc = FakeSHA256.hash(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(abc == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let empty = FakeSHA256.hash([UInt8]()).map { String(format: "%02x", $0) }.joined()
        #expect(empty == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // 56..64-byte messages exercise the padding that spills into a second block.
        let long = FakeSHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            .map { String(format: "%02x", $0) }.joined()
        #expect(long == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(FakePKCE.s256Challenge(for: verifier) == challenge)
    }

    @Test func discoveryDocument() throws {
        let idp = try IdP()
        let reply = http("GET", "\(idp.base)/\(tid)/v2.0/.well-known/openid-configuration")
        #expect(reply.status == 200)
        let doc = reply.json
        #expect(doc["issuer"] as? String == "\(idp.base)/\(tid)/v2.0")
        #expect(doc["authorization_endpoint"] as? String == "\(idp.base)/\(tid)/oauth2/v2.0/authorize")
        #expect(doc["token_endpoint"] as? String == "\(idp.base)/\(tid)/oauth2/v2.0/token")
        #expect(doc["device_authorization_endpoint"] as? String == "\(idp.base)/\(tid)/oauth2/v2.0/devicecode")
        #expect(doc["token_endpoint_auth_methods_supported"] as? [String]
            == ["client_secret_post", "private_key_jwt", "client_secret_basic"])
        #expect(doc["code_challenge_methods_supported"] as? [String] == ["S256"])
        #expect((doc["response_modes_supported"] as? [String])?.contains("form_post") == true)
        // Like Azure, the multi-tenant aliases publish a placeholder issuer.
        let common = http("GET", "\(idp.base)/common/v2.0/.well-known/openid-configuration").json
        #expect(common["issuer"] as? String == "\(idp.base)/{tenantid}/v2.0")
        #expect(common["token_endpoint"] as? String == "\(idp.base)/common/oauth2/v2.0/token")
        let bad = http("GET", "\(idp.base)/contoso.example/v2.0/.well-known/openid-configuration")
        #expect(bad.status == 400 && bad.errorCodes == [90002])
        let device = http("POST", "\(idp.base)/\(tid)/oauth2/v2.0/devicecode",
                          form: [("client_id", publicID), ("scope", "openid")])
        #expect(device.status == 200 && device.json["device_code"] is String)
    }

    @Test func unknownPathsAre404() throws {
        let idp = try IdP()
        #expect(http("GET", "\(idp.base)/favicon.ico").status == 404)
        #expect(http("GET", "\(idp.base)/\(tid)/oauth2/v2.0/nothing").status == 404)
        #expect(idp.provider.stats.notFound == 2)
        #expect(idp.provider.stats.notFoundPaths.first == "/favicon.ico")
    }

    @Test func authorizationCodeWithPKCE() throws {
        let idp = try IdP()
        let authorize = idp.authorize(extra: [("nonce", "n-0S6"), ("prompt", "select_account"),
                                              ("login_hint", "alice@contoso.example")])
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
        #expect(header["alg"] as? String == "RS256" && header["typ"] as? String == "JWT" && header["kid"] as? String == "fake")
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

    @Test func redirectURIWithQueryGetsAmpersandAndFormPostEscapes() throws {
        let idp = try IdP(extraRedirects: ["https://app.contoso.example/cb?tenant=x"])
        let query = idp.authorize(redirect: "https://app.contoso.example/cb?tenant=x")
        #expect(query.header("location")?.hasPrefix("https://app.contoso.example/cb?tenant=x&code=") == true)

        let state = "a\"b<c>&d'e f"
        let form = idp.authorize(redirect: "http://127.0.0.1:5050/callback", state: state,
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
        let tokenType = http("GET", "\(idp.base)/organizations/oauth2/v2.0/authorize?" + encodeForm([
            ("client_id", publicID), ("response_type", "token"), ("redirect_uri", "http://localhost:1/"),
            ("scope", "openid"), ("state", "s"), ("code_challenge", challenge), ("code_challenge_method", "S256"),
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
        idp.provider.denyNextAuthorization(error: "access_denied", description: "AADSTS65004: User declined to consent.")
        let denied = queryItems(idp.authorize().header("location") ?? "")
        #expect(denied["error"] == "access_denied")
        #expect(denied["error_description"] == "AADSTS65004: User declined to consent.")
        #expect(denied["state"] == "st-1" && denied["code"] == nil)
        #expect(queryItems(idp.authorize().header("location") ?? "")["code"] != nil)
    }

    @Test func wrongVerifierIsRefusedAndTheCodeSurvives() throws {
        let idp = try IdP()
        let code = try #require(idp.code())
        expectAzureError(idp.redeem(code, verifier: "x" + verifier.dropFirst()), status: 400, error: "invalid_grant",
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
        expectAzureError(idp.redeem("fake-ac-unknown"), status: 400, error: "invalid_grant", code: 9002313)
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
        expectAzureError(idp.redeem(code, redirect: "http://localhost:43211/"), status: 400, error: "invalid_grant",
                         code: 50011)
        expectAzureError(idp.redeem(code, redirect: "http://localhost:43210"), status: 400, error: "invalid_grant",
                         code: 50011)
        #expect(idp.redeem(code, redirect: "http://localhost:43210/").status == 200)
    }

    @Test func codeIsBoundToItsClient() throws {
        let idp = try IdP()
        let code = try #require(idp.code(client: publicID))
        let reply = idp.redeem(code, client: confidentialID, extra: [("client_secret", confidentialSecret)])
        expectAzureError(reply, status: 400, error: "invalid_grant", code: 70000)
    }

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
        expectAzureError(idp.refresh("fake-rt-nonsense"), status: 400, error: "invalid_grant", code: 9002313)
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
        let basic = http("POST", idp.tokenURL, form: [("grant_type", "authorization_code"), ("code", code2),
            ("redirect_uri", redirect), ("code_verifier", verifier)],
            headers: [basicHeader(confidentialID, confidentialSecret)])
        #expect(basic.status == 200, "\(basic)")
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .basic)
        #expect(idp.provider.stats.tokenLog.last?.clientID == confidentialID)

        let code3 = try #require(idp.code(client: confidentialID))
        let wrongPost = idp.redeem(code3, client: confidentialID, extra: [("client_secret", "nope")])
        expectAzureError(wrongPost, status: 401, error: "invalid_client", code: 7000215)
        #expect((wrongPost.json["error_description"] as? String)?.contains("Invalid client secret provided") == true)
        let wrongBasic = idp.redeem(code3, client: confidentialID, headers: [basicHeader(confidentialID, "nope")])
        expectAzureError(wrongBasic, status: 401, error: "invalid_client", code: 7000215)
        expectAzureError(idp.redeem(code3, client: confidentialID), status: 401, error: "invalid_client", code: 7000218)
        // Unencoded Basic credentials do not match a secret with reserved characters.
        let raw = "Authorization: Basic " + Data("\(confidentialID):\(confidentialSecret)".utf8).base64EncodedString()
        #expect(idp.redeem(code3, client: confidentialID, headers: [raw]).status == 401)
        let both = idp.redeem(code3, client: confidentialID, extra: [("client_secret", confidentialSecret)],
                              headers: [basicHeader(confidentialID, confidentialSecret)])
        expectAzureError(both, status: 400, error: "invalid_request", code: 9002313)
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .both)
        // The code is still good after all the failed attempts.
        #expect(idp.redeem(code3, client: confidentialID, extra: [("client_secret", confidentialSecret)]).status == 200)

        // A public client must not send a secret.
        let code4 = try #require(idp.code())
        expectAzureError(idp.redeem(code4, extra: [("client_secret", "x")]), status: 401, error: "invalid_client",
                         code: 700025)
        expectAzureError(idp.redeem(code4, headers: [basicHeader(publicID, "x")]), status: 401, error: "invalid_client",
                         code: 700025)
        // Unknown client.
        expectAzureError(idp.redeem(code4, client: "nobody"), status: 400, error: "unauthorized_client", code: 700016)
    }

    @Test func malformedTokenRequests() throws {
        let idp = try IdP()
        let dup = http("POST", idp.tokenURL, body: "grant_type=refresh_token&scope=a&scope=b&client_id=\(publicID)",
                       contentType: "application/x-www-form-urlencoded")
        expectAzureError(dup, status: 400, error: "invalid_request", code: 9002313)
        let unsupported = http("POST", idp.tokenURL, form: [("grant_type", "password"), ("client_id", publicID)])
        expectAzureError(unsupported, status: 400, error: "unsupported_grant_type", code: 70003)
        #expect(idp.provider.stats.tokenRequests["password"] == 1)
        expectAzureError(http("GET", idp.tokenURL), status: 400, error: "invalid_request", code: 900561)
        let json = http("POST", idp.tokenURL, body: "{\"grant_type\":\"refresh_token\"}", contentType: "application/json")
        expectAzureError(json, status: 400, error: "invalid_request", code: 900144)
        // '+' is a space and %XX a byte: a scope sent as "a+b%20c" arrives as "a b c".
        let rt = try #require(idp.signIn()["refresh_token"] as? String)
        let plus = http("POST", idp.tokenURL,
                        body: "grant_type=refresh_token&client_id=\(publicID)&refresh_token=\(percentEncode(rt))&scope=openid+offline_access%20User.Read",
                        contentType: "application/x-www-form-urlencoded; charset=utf-8")
        #expect(plus.status == 200, "\(plus)")
        #expect(plus.json["scope"] as? String == "openid offline_access User.Read")
        // Bodies over 64 KiB.
        let big = http("POST", idp.tokenURL, body: "grant_type=" + String(repeating: "a", count: 70_000),
                       contentType: "application/x-www-form-urlencoded")
        #expect(big.status == 413)
    }

    @Test func faultsApplyToTheNextTokenRequests() throws {
        let idp = try IdP()
        let form: [(String, String)] = [("grant_type", "refresh_token"), ("client_id", publicID), ("scope", "openid"),
            ("refresh_token", "fake-rt-none")]

        idp.provider.inject(.emptyBody400, times: 2)
        // Faults do not touch the other endpoints.
        #expect(idp.authorize().status == 302)
        for _ in 0..<2 {
            let empty = http("POST", idp.tokenURL, form: form)
            #expect(empty.status == 400 && empty.body.isEmpty && empty.header("content-length") == "0")
        }
        #expect(http("POST", idp.tokenURL, form: form).errorCodes == [9002313])

        idp.provider.inject(.html502)
        let html = http("POST", idp.tokenURL, form: form)
        #expect(html.status == 502 && html.header("content-type")?.hasPrefix("text/html") == true)
        #expect(html.body.contains("Bad Gateway"))

        idp.provider.inject(.tooManyRequests(retryAfter: 7))
        let throttled = http("POST", idp.tokenURL, form: form)
        #expect(throttled.status == 429 && throttled.header("retry-after") == "7")
        #expect(throttled.json["error"] as? String == "temporarily_unavailable" && !throttled.errorCodes.isEmpty)

        idp.provider.inject(.oauthError(status: 400, error: "invalid_grant", aadsts: 50076,
                                        description: "Due to a configuration change, you must use multi-factor authentication."))
        expectAzureError(http("POST", idp.tokenURL, form: form), status: 400, error: "invalid_grant", code: 50076)

        idp.provider.inject(.connectionReset)
        let reset = http("POST", idp.tokenURL, form: form)
        #expect(reset.status == 0)
        #expect(reset.curlStatus == 56 || reset.curlStatus == 52, "\(reset)")
        // The listener is fine afterwards.
        #expect(http("POST", idp.tokenURL, form: form).errorCodes == [9002313])

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

    @Test func controlEndpoints() throws {
        let idp = try IdP()
        let form: [(String, String)] = [("grant_type", "refresh_token"), ("client_id", publicID), ("scope", "openid"),
            ("refresh_token", "fake-rt-none")]
        #expect(http("POST", "\(idp.base)/_fake/fault", form: [("kind", "429"), ("times", "1"), ("retry_after", "3")]).status == 200)
        #expect(http("POST", "\(idp.base)/_fake/fault", form: [("kind", "oauth"), ("error", "invalid_grant"),
            ("aadsts", "50173"), ("description", "revoked")]).status == 200)
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

    @Test func stopClosesTheListenerAndRestartWorks() throws {
        let provider = FakeIdentityProvider(FakeIdPConfiguration())
        let port = try provider.start()
        #expect(port > 0 && provider.baseURL == "http://127.0.0.1:\(port)")
        #expect(throws: FakeIdPError.self) { try provider.start() }
        #expect(http("GET", "\(provider.baseURL)/favicon.ico").status == 404)
        provider.stop()
        let refused = http("GET", "http://127.0.0.1:\(port)/favicon.ico", maxTime: 2)
        #expect(refused.status == 0 && refused.curlStatus == 7)
        provider.stop()
        let again = try provider.start()
        #expect(http("GET", "http://127.0.0.1:\(again)/favicon.ico").status == 404)
        provider.stop()
    }

    // MARK: Client credentials and certificate assertions

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

        let basic = idp.clientCredentials(client: nil, scope: "\(confidentialID)/.default",
                                          headers: [basicHeader(confidentialID, confidentialSecret)])
        #expect(basic.status == 200, "\(basic)")
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .basic)

        expectAzureError(idp.clientCredentials(client: confidentialID, extra: [("client_secret", "nope")]),
                         status: 401, error: "invalid_client", code: 7000215)
        expectAzureError(idp.clientCredentials(client: confidentialID), status: 401, error: "invalid_client",
                         code: 7000218)
        let stats = idp.provider.stats
        #expect(stats.tokenRequests == ["client_credentials": 4])
        #expect(stats.tokensIssued == 2)
        #expect(stats.assertionsAccepted == 0 && stats.assertionsRejected.isEmpty)
    }

    @Test func clientCredentialsScopesAndClients() throws {
        let idp = try IdP()
        let secret = [("client_secret", confidentialSecret)]
        // A public client has no credential to send; Azure answers as for a missing one.
        expectAzureError(idp.clientCredentials(client: publicID), status: 401, error: "invalid_client", code: 7000218)
        expectAzureError(idp.clientCredentials(client: publicID, extra: [("client_secret", "x")]), status: 401,
                         error: "invalid_client", code: 700025)
        expectAzureError(idp.clientCredentials(client: confidentialID, scope: nil, extra: secret), status: 400,
                         error: "invalid_request", code: 90014)
        for scope in ["User.Read", "openid", "offline_access", "https://graph.microsoft.com/User.Read",
                      "api://x/.default offline_access", "/.default"] {
            let reply = idp.clientCredentials(client: confidentialID, scope: scope, extra: secret)
            expectAzureError(reply, status: 400, error: "invalid_scope", code: 1002012)
            #expect(descriptionOf(reply).contains("must have a scope value with /.default suffixed"))
        }
        expectAzureError(idp.clientCredentials(client: confidentialID, scope: "api://a/.default api://b/.default",
                                               extra: secret), status: 400, error: "invalid_scope", code: 70011)
        for scope in ["\(confidentialID)/.default", "https://graph.microsoft.com/.default", "api://x/.default"] {
            #expect(idp.clientCredentials(client: confidentialID, scope: scope, extra: secret).status == 200)
        }
        expectAzureError(idp.clientCredentials(client: "nobody", extra: secret), status: 400,
                         error: "unauthorized_client", code: 700016)
        #expect(idp.provider.stats.tokensIssued == 3)
    }

    @Test func certificateAssertionPS256AndRS256() throws {
        let certificate = TestCertificate.shared
        // The fake's own thumbprint computation agrees with the helper's.
        #expect(FakeClient.certificateThumbprints(pem: certificate.certificatePEM) == [certificate.sha256Thumbprint])
        #expect(certificate.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(certificate.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(certificate.privateKeyPKCS1PEM.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(certificate.sha1Thumbprint.count == 27 && certificate.sha256Thumbprint.count == 43)

        let idp = try IdP(certificatePEMs: [certificate.certificatePEM])
        let ps256 = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL))
        let first = idp.clientCredentials(extra: assertionForm(ps256))
        #expect(first.status == 200, "\(first)")
        #expect(idp.provider.stats.lastAssertionHeader
            == ["alg": "PS256", "typ": "JWT", "x5t#S256": certificate.sha256Thumbprint])
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .assertion)
        let info = try #require(idp.provider.accessTokenInfo(first.json["access_token"] as? String ?? ""))
        #expect(info.clientID == certificateID && info.userOID == nil)

        let rs256 = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL),
                                      header: ["alg": "RS256", "x5t#S256": nil, "x5t": certificate.sha1Thumbprint])
        #expect(idp.clientCredentials(extra: assertionForm(rs256)).status == 200)
        #expect(idp.provider.stats.lastAssertionHeader
            == ["alg": "RS256", "typ": "JWT", "x5t": certificate.sha1Thumbprint])

        // RFC 7523 §3: without client_id the client is the assertion's iss/sub; typ is optional.
        let bare = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL), header: ["typ": nil])
        #expect(idp.clientCredentials(client: nil, extra: assertionForm(bare)).status == 200)

        // The audience is the token endpoint the request was sent to, alias included.
        let organizations = "\(idp.base)/organizations/oauth2/v2.0/token"
        let viaAlias = try makeAssertion(claims: assertionClaims(audience: organizations))
        #expect(idp.clientCredentials(extra: assertionForm(viaAlias), tenant: "organizations").status == 200)
        let tenantAudience = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL))
        expectAzureError(idp.clientCredentials(extra: assertionForm(tenantAudience), tenant: "organizations"),
                         status: 401, error: "invalid_client", code: 700023)

        let stats = idp.provider.stats
        #expect(stats.assertionsAccepted == 4)
        #expect(stats.assertionsRejected == ["audience": 1])
        #expect(stats.tokenRequests == ["client_credentials": 5])
    }

    @Test func certificateAssertionRejections() throws {
        let idp = try IdP(certificatePEMs: [TestCertificate.shared.certificatePEM])
        let aud = idp.tokenURL
        func send(_ assertion: String, client: String? = certificateID) -> Reply {
            idp.clientCredentials(client: client, extra: assertionForm(assertion))
        }

        // Signed by a key other than the certificate's.
        let wrongKey = send(try makeAssertion(claims: assertionClaims(audience: aud), key: otherCertificate.key))
        expectAzureError(wrongKey, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(wrongKey).contains("Client assertion failed signature validation."))
        // A payload swapped after signing (same claims, other jti).
        let good = try makeAssertion(claims: assertionClaims(audience: aud))
        let parts = good.split(separator: ".")
        let tampered = "\(parts[0]).\(jsonSegment(assertionClaims(audience: aud))).\(parts[2])"
        expectAzureError(send(tampered), status: 401, error: "invalid_client", code: 700027)
        // A PS256 signature announced as RS256.
        let rsHeader = jsonSegment(["alg": "RS256", "typ": "JWT", "x5t#S256": TestCertificate.shared.sha256Thumbprint])
        expectAzureError(send("\(rsHeader).\(parts[1]).\(parts[2])"), status: 401, error: "invalid_client", code: 700027)
        // Certificates that are not registered, by either thumbprint.
        let unknownS256 = send(try makeAssertion(
            claims: assertionClaims(audience: aud), header: ["x5t#S256": otherCertificate.certificate.sha256Thumbprint],
            key: otherCertificate.key))
        expectAzureError(unknownS256, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(unknownS256).contains("is not registered on application"))
        let unknownSHA1 = send(try makeAssertion(
            claims: assertionClaims(audience: aud),
            header: ["alg": "RS256", "x5t#S256": nil, "x5t": otherCertificate.certificate.sha1Thumbprint],
            key: otherCertificate.key))
        expectAzureError(unknownSHA1, status: 401, error: "invalid_client", code: 700027)
        expectAzureError(send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["x5t#S256": nil])),
                         status: 401, error: "invalid_client", code: 700027)

        // Claims.
        let wrongAudience = send(try makeAssertion(claims: assertionClaims(audience: "https://login.microsoftonline.com/\(tid)/oauth2/v2.0/token")))
        expectAzureError(wrongAudience, status: 401, error: "invalid_client", code: 700023)
        let expired = send(try makeAssertion(claims: assertionClaims(audience: aud, now: Date() - 1200)))
        expectAzureError(expired, status: 401, error: "invalid_client", code: 700024)
        #expect(descriptionOf(expired).contains("not within its valid time range"))
        expectAzureError(send(try makeAssertion(claims: assertionClaims(audience: aud, now: Date() + 600))),
                         status: 401, error: "invalid_client", code: 700024)
        expectAzureError(send(try makeAssertion(claims: assertionClaims(audience: aud, lifetime: 7200))),
                         status: 401, error: "invalid_client", code: 700024)
        var otherIssuer = assertionClaims(audience: aud)
        otherIssuer["iss"] = confidentialID
        expectAzureError(send(try makeAssertion(claims: otherIssuer)), status: 401, error: "invalid_client", code: 700021)
        var otherSubject = assertionClaims(audience: aud)
        otherSubject["sub"] = publicID
        expectAzureError(send(try makeAssertion(claims: otherSubject)), status: 401, error: "invalid_client", code: 700021)
        // client_id in the form and the assertion's iss/sub disagree.
        var forOther = assertionClaims(audience: aud, client: confidentialID)
        forOther["jti"] = "x"
        expectAzureError(send(try makeAssertion(claims: forOther)), status: 401, error: "invalid_client", code: 700021)
        var noJTI = assertionClaims(audience: aud)
        noJTI["jti"] = nil
        expectAzureError(send(try makeAssertion(claims: noJTI)), status: 400, error: "invalid_request", code: 50027)

        // Replay: the same assertion twice.
        #expect(send(good).status == 200)
        let replay = send(good)
        expectAzureError(replay, status: 401, error: "invalid_client", code: 7000274)
        #expect(descriptionOf(replay).contains("already used"))

        // Form and header.
        expectAzureError(send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["alg": "HS256"])),
                         status: 400, error: "invalid_request", code: 5002730)
        expectAzureError(send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["alg": "none"])),
                         status: 400, error: "invalid_request", code: 5002730)
        expectAzureError(send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["typ": "JWS"])),
                         status: 400, error: "invalid_request", code: 50027)
        expectAzureError(send("abc.def"), status: 400, error: "invalid_request", code: 50027)
        // "not json" as the header.
        expectAzureError(send("bm90IGpzb24.\(parts[1]).\(parts[2])"), status: 400, error: "invalid_request", code: 50027)
        let fresh = try makeAssertion(claims: assertionClaims(audience: aud))
        expectAzureError(idp.clientCredentials(extra: [("client_assertion_type", "urn:x"), ("client_assertion", fresh)]),
                         status: 400, error: "invalid_request", code: 9002313)
        expectAzureError(idp.clientCredentials(extra: [("client_assertion", fresh)]), status: 400,
                         error: "invalid_request", code: 900144)
        // A secret and an assertion together.
        let both = idp.clientCredentials(client: confidentialID,
                                         extra: assertionForm(fresh) + [("client_secret", confidentialSecret)])
        expectAzureError(both, status: 400, error: "invalid_request", code: 9002313)
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .both)
        // Clients without registered certificates.
        var forConfidential = assertionClaims(audience: aud, client: confidentialID)
        forConfidential["jti"] = UUID().uuidString
        expectAzureError(idp.clientCredentials(client: confidentialID, extra: assertionForm(try makeAssertion(claims: forConfidential))),
                         status: 401, error: "invalid_client", code: 700027)
        expectAzureError(idp.clientCredentials(client: publicID, extra: assertionForm(fresh)), status: 401,
                         error: "invalid_client", code: 700025)
        // The rejected `fresh` assertions did not spend its jti.
        #expect(send(fresh).status == 200)

        let stats = idp.provider.stats
        #expect(stats.assertionsAccepted == 2)
        #expect(stats.assertionsRejected == [
            "signature": 3, "unknown_key": 4, "audience": 1, "time": 3, "issuer": 3, "jti": 1, "replay": 1,
            "alg": 2, "malformed": 3, "assertion_type": 2,
        ])
        #expect(stats.tokensIssued == 2)
    }

    @Test func expiredCertificateIsRefused() throws {
        let expired = try TestCertificate.make(key: sharedKey, notValidBefore: Date() - 86400 * 30,
                                               notValidAfter: Date() - 86400)
        let idp = try IdP(certificatePEMs: [expired.certificatePEM])
        let reply = idp.clientCredentials(extra: assertionForm(try makeAssertion(
            claims: assertionClaims(audience: idp.tokenURL), header: ["x5t#S256": expired.sha256Thumbprint])))
        expectAzureError(reply, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(reply).contains("The key used is expired."))
        #expect(idp.provider.stats.assertionsRejected == ["expired_key": 1])

        // The fake's clock decides: a valid certificate expires when the clock passes notValidAfter.
        let current = try IdP(certificatePEMs: [TestCertificate.shared.certificatePEM])
        #expect(current.clientCredentials(extra: assertionForm(try makeAssertion(
            claims: assertionClaims(audience: current.tokenURL)))).status == 200)
        current.provider.advanceClock(seconds: 366 * 86400)
        let later = current.clientCredentials(extra: assertionForm(try makeAssertion(
            claims: assertionClaims(audience: current.tokenURL, now: Date() + 366 * 86400))))
        expectAzureError(later, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(later).contains("expired"))
    }

    @Test func assertionAuthenticatesEveryGrant() throws {
        let idp = try IdP(certificatePEMs: [TestCertificate.shared.certificatePEM])
        func fresh() throws -> [(String, String)] {
            assertionForm(try makeAssertion(claims: assertionClaims(audience: idp.tokenURL)))
        }
        let code = try #require(idp.code(client: certificateID))
        expectAzureError(idp.redeem(code, client: certificateID), status: 401, error: "invalid_client", code: 7000218)
        // A certificate-only client has no secret to match.
        expectAzureError(idp.redeem(code, client: certificateID, extra: [("client_secret", "guess")]), status: 401,
                         error: "invalid_client", code: 7000215)
        let redeemed = idp.redeem(code, client: certificateID, extra: try fresh())
        #expect(redeemed.status == 200, "\(redeemed)")
        let rt = try #require(redeemed.json["refresh_token"] as? String)
        expectAzureError(idp.refresh(rt, client: certificateID), status: 401, error: "invalid_client", code: 7000218)
        let refreshed = idp.refresh(rt, client: certificateID, extra: try fresh())
        #expect(refreshed.status == 200, "\(refreshed)")

        let device = idp.deviceCode(client: certificateID)
        let deviceCode = try #require(device["device_code"] as? String)
        expectAzureError(idp.pollDevice(deviceCode, client: certificateID), status: 401, error: "invalid_client",
                         code: 7000218)
        idp.provider.approveDevice()
        let polled = idp.pollDevice(deviceCode, client: certificateID, extra: try fresh())
        #expect(polled.status == 200, "\(polled)")
        #expect(idp.provider.stats.assertionsAccepted == 3)
        #expect(idp.provider.stats.tokenRequests
            == ["authorization_code": 3, "refresh_token": 2, deviceGrant: 2])
    }

    // MARK: Device authorization grant

    @Test func deviceCodePendingThenApproved() throws {
        let idp = try IdP()
        let device = http("POST", "\(idp.base)/\(tid)/oauth2/v2.0/devicecode",
                          form: [("client_id", publicID), ("scope", "openid profile offline_access User.Read")])
        #expect(device.status == 200, "\(device)")
        let json = device.json
        let userCode = try #require(json["user_code"] as? String)
        let deviceCode = try #require(json["device_code"] as? String)
        #expect(userCode.wholeMatch(of: /[A-Z0-9]{9}/) != nil)
        #expect(deviceCode.count >= 64)
        #expect(json["verification_uri"] as? String == "\(idp.base)/_fake/device")
        #expect(json["expires_in"] as? Int == 900 && json["interval"] as? Int == 5)
        #expect(json["message"] as? String
            == "To sign in, use a web browser to open the page \(idp.base)/_fake/device and enter the code \(userCode) to authenticate.")
        #expect(idp.provider.pendingDeviceUserCodes == [userCode])

        let pending = idp.pollDevice(deviceCode)
        expectAzureError(pending, status: 400, error: "authorization_pending", code: 70016)
        idp.provider.advanceClock(seconds: 5)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
        #expect(idp.provider.approveDevice(userCode: userCode.lowercased()) == 1)
        #expect(idp.provider.pendingDeviceUserCodes.isEmpty)
        idp.provider.advanceClock(seconds: 5)
        let tokens = idp.pollDevice(deviceCode)
        #expect(tokens.status == 200, "\(tokens)")
        let accessToken = try #require(tokens.json["access_token"] as? String)
        #expect(tokens.json["scope"] as? String == "openid profile offline_access User.Read")
        #expect((tokens.json["refresh_token"] as? String)?.hasPrefix("fake-rt-") == true)
        #expect((tokens.json["id_token"] as? String)?.split(separator: ".").count == 3)
        #expect(idp.provider.accessTokenInfo(accessToken)?.userOID == FakeUser.alice.oid)
        // The refresh token works like one from a code.
        #expect(idp.refresh(tokens.json["refresh_token"] as? String ?? "").status == 200)

        // Single use.
        idp.provider.advanceClock(seconds: 5)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "invalid_grant", code: 54005)
        let stats = idp.provider.stats
        #expect(stats.deviceAuthorizations == 1 && stats.devicePolls == 4 && stats.deviceSlowDowns == 0)
        #expect(stats.tokenRequests[deviceGrant] == 4)
    }

    @Test func deviceCodeWithoutOfflineAccessHasNoRefreshToken() throws {
        let idp = try IdP(configure: { $0.deviceApproval = .approveAfterPolls(0) })
        let deviceCode = try #require(idp.deviceCode(scope: "User.Read")["device_code"] as? String)
        let tokens = idp.pollDevice(deviceCode)
        #expect(tokens.status == 200, "\(tokens)")
        #expect(tokens.json["access_token"] is String)
        #expect(tokens.json["refresh_token"] == nil && tokens.json["id_token"] == nil)
    }

    @Test func deviceCodeDeclinedAndExpired() throws {
        let idp = try IdP(configure: { $0.deviceCodeLifetime = 60; $0.deviceCodeInterval = 0 })
        let declined = try #require(idp.deviceCode()["device_code"] as? String)
        let waiting = try #require(idp.deviceCode()["device_code"] as? String)
        #expect(idp.provider.pendingDeviceUserCodes.count == 2)
        let first = try #require(idp.provider.pendingDeviceUserCodes.first)
        #expect(idp.provider.declineDevice(userCode: first) == 1)
        expectAzureError(idp.pollDevice(declined), status: 400, error: "authorization_declined", code: 65004)
        expectAzureError(idp.pollDevice(declined), status: 400, error: "authorization_declined", code: 65004)
        expectAzureError(idp.pollDevice(waiting), status: 400, error: "authorization_pending", code: 70016)

        idp.provider.advanceClock(seconds: 61)
        #expect(idp.provider.pendingDeviceUserCodes.isEmpty)
        #expect(idp.provider.approveDevice() == 0)
        let expired = idp.pollDevice(waiting)
        expectAzureError(expired, status: 400, error: "expired_token", code: 70020)
        #expect(descriptionOf(expired).contains("This device code has expired."))
    }

    @Test func deviceCodeSlowDown() throws {
        let idp = try IdP()
        let deviceCode = try #require(idp.deviceCode()["device_code"] as? String)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
        // Sooner than the 5 s interval: slow_down, and the interval becomes 10 s (RFC 8628 §3.5).
        let slow = idp.pollDevice(deviceCode)
        expectAzureError(slow, status: 400, error: "slow_down", code: 70016)
        #expect(descriptionOf(slow).contains("10 seconds"))
        idp.provider.advanceClock(seconds: 6)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "slow_down", code: 70016)
        idp.provider.advanceClock(seconds: 15)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
        #expect(idp.provider.stats.deviceSlowDowns == 2 && idp.provider.stats.devicePolls == 4)

        // The first N polls answer slow_down whatever their timing; they do not count as pending polls.
        let forced = try IdP(configure: {
            $0.deviceCodeInterval = 0; $0.deviceSlowDownPolls = 2; $0.deviceApproval = .approveAfterPolls(1)
        })
        let code = try #require(forced.deviceCode()["device_code"] as? String)
        expectAzureError(forced.pollDevice(code), status: 400, error: "slow_down", code: 70016)
        forced.provider.advanceClock(seconds: 60)
        expectAzureError(forced.pollDevice(code), status: 400, error: "slow_down", code: 70016)
        forced.provider.advanceClock(seconds: 10)
        expectAzureError(forced.pollDevice(code), status: 400, error: "authorization_pending", code: 70016)
        forced.provider.advanceClock(seconds: 10)
        #expect(forced.pollDevice(code).status == 200)
        #expect(forced.provider.stats.deviceSlowDowns == 2)
    }

    @Test func deviceCodeScriptedApproval() throws {
        let approving = try IdP(configure: { $0.deviceCodeInterval = 0; $0.deviceApproval = .approveAfterPolls(2) })
        let a = try #require(approving.deviceCode()["device_code"] as? String)
        expectAzureError(approving.pollDevice(a), status: 400, error: "authorization_pending", code: 70016)
        expectAzureError(approving.pollDevice(a), status: 400, error: "authorization_pending", code: 70016)
        #expect(approving.pollDevice(a).status == 200)

        let declining = try IdP(configure: { $0.deviceCodeInterval = 0; $0.deviceApproval = .declineAfterPolls(1) })
        let d = try #require(declining.deviceCode()["device_code"] as? String)
        expectAzureError(declining.pollDevice(d), status: 400, error: "authorization_pending", code: 70016)
        expectAzureError(declining.pollDevice(d), status: 400, error: "authorization_declined", code: 65004)

        let never = try IdP(configure: { $0.deviceCodeInterval = 0; $0.deviceApproval = .never })
        let n = try #require(never.deviceCode()["device_code"] as? String)
        #expect(never.provider.approveDevice() == 0)
        #expect(http("POST", "\(never.base)/_fake/device/approve", form: []).json["changed"] as? Int == 0)
        expectAzureError(never.pollDevice(n), status: 400, error: "authorization_pending", code: 70016)
        never.provider.advanceClock(seconds: 900)
        expectAzureError(never.pollDevice(n), status: 400, error: "expired_token", code: 70020)
    }

    @Test func deviceCodeErrors() throws {
        let idp = try IdP(configure: { $0.deviceCodeInterval = 0 })
        let endpoint = "\(idp.base)/\(tid)/oauth2/v2.0/devicecode"
        expectAzureError(http("POST", endpoint, form: [("client_id", "nobody"), ("scope", "openid")]), status: 400,
                         error: "unauthorized_client", code: 700016)
        expectAzureError(http("POST", endpoint, form: [("client_id", publicID)]), status: 400,
                         error: "invalid_request", code: 900144)
        expectAzureError(http("POST", endpoint, form: [("scope", "openid")]), status: 400,
                         error: "invalid_request", code: 900144)
        expectAzureError(http("GET", endpoint), status: 400, error: "invalid_request", code: 900561)
        expectAzureError(http("POST", "\(idp.base)/fabrikam.example/oauth2/v2.0/devicecode",
                              form: [("client_id", publicID), ("scope", "openid")]),
                         status: 400, error: "invalid_request", code: 90002)
        #expect(idp.provider.stats.deviceAuthorizations == 0)

        expectAzureError(idp.pollDevice("fake-dc-unknown"), status: 400, error: "bad_verification_code", code: 70018)
        expectAzureError(http("POST", idp.tokenURL, form: [("grant_type", deviceGrant), ("client_id", publicID)]),
                         status: 400, error: "invalid_request", code: 900144)
        // A device code belongs to the client that asked for it.
        let deviceCode = try #require(idp.deviceCode(client: publicID)["device_code"] as? String)
        expectAzureError(idp.pollDevice(deviceCode, client: deviceID), status: 400, error: "invalid_grant", code: 70000)
        // A public client must not authenticate here either.
        expectAzureError(idp.pollDevice(deviceCode, extra: [("client_secret", "x")]), status: 401,
                         error: "invalid_client", code: 700025)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
    }

    @Test func deviceCodeConfidentialClients() throws {
        let idp = try IdP(configure: { $0.deviceCodeInterval = 0 })
        // Without "Allow public client flows" a confidential client must authenticate.
        let confidential = try #require(idp.deviceCode(client: confidentialID)["device_code"] as? String)
        expectAzureError(idp.pollDevice(confidential, client: confidentialID), status: 401, error: "invalid_client",
                         code: 7000218)
        expectAzureError(idp.pollDevice(confidential, client: confidentialID, extra: [("client_secret", "nope")]),
                         status: 401, error: "invalid_client", code: 7000215)
        expectAzureError(idp.pollDevice(confidential, client: confidentialID,
                                        extra: [("client_secret", confidentialSecret)]),
                         status: 400, error: "authorization_pending", code: 70016)
        // With it, no credential is needed, but a wrong one is still refused.
        let allowed = try #require(idp.deviceCode(client: deviceID)["device_code"] as? String)
        expectAzureError(idp.pollDevice(allowed, client: deviceID), status: 400, error: "authorization_pending",
                         code: 70016)
        expectAzureError(idp.pollDevice(allowed, client: deviceID, extra: [("client_secret", "nope")]), status: 401,
                         error: "invalid_client", code: 7000215)
        #expect(idp.provider.approveDevice() == 2)
        #expect(idp.pollDevice(allowed, client: deviceID).status == 200)
        #expect(idp.pollDevice(confidential, client: confidentialID, extra: [("client_secret", confidentialSecret)])
            .status == 200)
        // "Allow public client flows" does not extend to the other grants.
        let code = try #require(idp.code(client: deviceID))
        expectAzureError(idp.redeem(code, client: deviceID), status: 401, error: "invalid_client", code: 7000218)
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
        #expect(page.body.contains("<code>\(firstUser)</code>") && page.body.contains("action=\"/_fake/device/approve\""))

        // User codes match without regard to case and dashes, as people type them.
        let typed = firstUser.lowercased().prefix(4) + "-" + firstUser.lowercased().dropFirst(4)
        let approve = http("POST", "\(idp.base)/_fake/device/approve", form: [("user_code", String(typed))])
        #expect(approve.status == 200 && approve.json["changed"] as? Int == 1)
        #expect(http("POST", "\(idp.base)/_fake/device/approve", form: [("user_code", "ZZZZZZZZZ")]).status == 404)
        let decline = http("POST", "\(idp.base)/_fake/device/decline", form: [])
        #expect(decline.status == 200 && decline.json["changed"] as? Int == 1)
        #expect(http("GET", "\(idp.base)/_fake/device").json["pending_user_codes"] as? [String] == [])

        #expect(idp.pollDevice(first["device_code"] as? String ?? "").status == 200)
        expectAzureError(idp.pollDevice(second["device_code"] as? String ?? ""), status: 400,
                         error: "authorization_declined", code: 65004)
        let stats = http("GET", "\(idp.base)/_fake/stats").json
        #expect(stats["device_authorizations"] as? Int == 2 && stats["device_polls"] as? Int == 2)
    }

    // MARK: Standalone binary

    static let binary: String = {
        if let env = ProcessInfo.processInfo.environment["TOKVAULT_FAKE_IDP_BIN"], !env.isEmpty { return env }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("tokvault-fake-idp").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "tokvault-fake-idp"
    }()

    @Test func standaloneExecutable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let secretFile = dir.appendingPathComponent("secret").path
        try Data("bin-secret\n".utf8).write(to: URL(fileURLWithPath: secretFile))

        let (process, out, base) = try launchStandalone(["--port", "0", "--client-id", "app-1", "--client-secret-file", secretFile,
                                                         "--public-client", "app-2", "--redirect-uri", "http://localhost", "--tenant", tid])
        defer { if process.isRunning { process.terminate() } }

        let code = http("GET", "\(base)/\(tid)/oauth2/v2.0/authorize?" + encodeForm([
            ("client_id", "app-1"), ("response_type", "code"), ("redirect_uri", "http://localhost:9999"),
            ("scope", "offline_access User.Read"), ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]))
        let codeValue = try #require(queryItems(code.header("location") ?? "")["code"], "\(code)")
        let token = http("POST", "\(base)/organizations/oauth2/v2.0/token", form: [
            ("grant_type", "authorization_code"), ("code", codeValue), ("redirect_uri", "http://localhost:9999"),
            ("code_verifier", verifier),
        ], headers: [basicHeader("app-1", "bin-secret")])
        #expect(token.status == 200, "\(token)")
        #expect(http("GET", "\(base)/_fake/stats").json["tokens_issued"] as? Int == 1)

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        #expect(rest.isEmpty, "stdout must carry exactly one line")
    }

    @Test func standaloneExecutableRejectsBadArguments() {
        let missing = runToEnd(Self.binary, ["--client-id", "x"])
        #expect(missing.status == 2)
        let unknown = runToEnd(Self.binary, ["--bogus"])
        #expect(unknown.status == 2 && unknown.stdout.isEmpty)
    }

    /// Starts the standalone binary and returns it, its stdout and its base URL from the first stdout line.
    private func launchStandalone(_ arguments: [String]) throws -> (process: Process, stdout: Pipe, base: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(10)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let base = text.wholeMatch(of: /listening on (http:\/\/127\.0\.0\.1:\d+)\n/).map({ String($0.1) }) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "first line: \(text)"])
        }
        return (process, out, base)
    }

    @Test func standaloneExecutableCertificatesAndDeviceFlow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let certificateFile = dir.appendingPathComponent("app.pem").path
        try Data(TestCertificate.shared.certificatePEM.utf8).write(to: URL(fileURLWithPath: certificateFile))

        let (process, _, base) = try launchStandalone([
            "--tenant", tid, "--client-id", "app-cert", "--client-certificate", certificateFile,
            "--allow-public-client-flows", "--public-client", "app-public", "--device-interval", "0",
            "--device-code-lifetime", "120", "--device-approval", "after:1",
        ])
        defer { if process.isRunning { process.terminate() } }

        let tokenURL = "\(base)/\(tid)/oauth2/v2.0/token"
        let assertion = try makeAssertion(claims: assertionClaims(audience: tokenURL, client: "app-cert"))
        let credentials = http("POST", tokenURL, form: [("grant_type", "client_credentials"), ("client_id", "app-cert"),
            ("scope", "api://x/.default")] + assertionForm(assertion))
        #expect(credentials.status == 200, "\(credentials)")

        let device = http("POST", "\(base)/\(tid)/oauth2/v2.0/devicecode",
                          form: [("client_id", "app-cert"), ("scope", "offline_access User.Read")]).json
        #expect(device["expires_in"] as? Int == 120 && device["interval"] as? Int == 0)
        let deviceCode = try #require(device["device_code"] as? String)
        let poll: [(String, String)] = [("grant_type", deviceGrant), ("client_id", "app-cert"), ("device_code", deviceCode)]
        // No credentials needed (--allow-public-client-flows); approved after one pending poll.
        expectAzureError(http("POST", tokenURL, form: poll), status: 400, error: "authorization_pending", code: 70016)
        let tokens = http("POST", tokenURL, form: poll)
        #expect(tokens.status == 200 && tokens.json["refresh_token"] is String, "\(tokens)")
        let stats = http("GET", "\(base)/_fake/stats").json
        #expect(stats["assertions_accepted"] as? Int == 1 && stats["device_polls"] as? Int == 2)
        #expect((stats["last_assertion_header"] as? [String: String])?["alg"] == "PS256")

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }

    @Test func standaloneExecutableRejectsBadClientAndDeviceOptions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let notPEM = dir.appendingPathComponent("not.pem").path
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: notPEM))
        let cases: [[String]] = [
            ["--client-certificate", notPEM],
            ["--client-id", "x", "--client-certificate", dir.appendingPathComponent("missing.pem").path],
            ["--client-id", "x", "--client-certificate", notPEM],
            ["--allow-public-client-flows"],
            ["--public-client", "p", "--allow-public-client-flows"],
            ["--client-id", "x", "--allow-public-client-flows"],
            ["--device-approval", "sometimes"],
            ["--device-approval", "after:-1"],
            ["--device-interval", "soon"],
        ]
        for arguments in cases {
            let result = runToEnd(Self.binary, arguments)
            #expect(result.status == 2 && result.stdout.isEmpty, "\(arguments)")
        }
    }

    // MARK: Scripted browser

    static let browser = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Support/scripted-browser.py").path

    private func authorizeURL(_ idp: IdP, responseMode: String = "query", state: String? = "s-42",
                              redirect: String? = nil) -> String {
        var q: [(String, String)] = [("client_id", publicID), ("response_type", "code"),
            ("redirect_uri", redirect ?? "\(idp.base)/_fake/callback"), ("scope", "openid offline_access"),
            ("code_challenge", challenge), ("code_challenge_method", "S256"), ("response_mode", responseMode)]
        if let state { q.append(("state", state)) }
        return "\(idp.base)/organizations/oauth2/v2.0/authorize?" + encodeForm(q)
    }

    private func browse(_ idp: IdP, mode: String, responseMode: String = "query", state: String? = "s-42",
                        env: [String: String] = [:]) -> (status: Int32, url: String) {
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
        let redeemed = http("POST", idp.tokenURL, form: [("grant_type", "authorization_code"), ("client_id", publicID),
            ("code", code), ("redirect_uri", "\(idp.base)/_fake/callback"), ("code_verifier", verifier)])
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
