// What the fake identity provider's test suites (FakeIdP*Tests.swift) share: HTTP through `curl`
// child processes, so the tests exercise the fake exactly as an outside client does (no
// URLSession/FoundationNetworking in the test process), a running fake with public and
// confidential clients, the Azure error check, and client assertions built independently of the fake.

import Foundation
import Testing
import TokvaultFakeIdP
import _CryptoExtras

// MARK: - Helpers

let tid = "00000000-0000-0000-0000-0000000000aa"
let publicID = "11111111-2222-3333-4444-555555555555"
let confidentialID = "99999999-8888-7777-6666-555555555555"
/// A secret with characters that must be escaped in form bodies and in Basic credentials.
let confidentialSecret = "s3cr+t/=:&%é~x"
/// A confidential client that authenticates only with certificate assertions.
let certificateID = "44444444-3333-2222-1111-000000000000"
/// A confidential client (secret) with "Allow public client flows".
let deviceID = "55555555-4444-3333-2222-111111111111"
let deviceSecret = "device-secret"
let deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
let jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
// PKCE pair computed independently (Python hashlib): BASE64URL(SHA256(verifier)).
let verifier = "dBjftJeZ4CVP-mJ92K9qpvxQtkBZuKo1XMT0RRJAMW0"
let challenge = "cFg839mit7lNaYqIpYmWuo52njjU5YM8BI-_lAOX_fU"

struct Reply: CustomStringConvertible {
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

func percentEncode(_ s: String) -> String {
    let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return s.addingPercentEncoding(withAllowedCharacters: allowed)!
}

func encodeForm(_ pairs: [(String, String)]) -> String {
    pairs.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
}

/// One request with curl; the response head and body are parsed from `curl -i`.
func http(
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

func queryItems(_ url: String) -> [String: String] {
    var items: [String: String] = [:]
    for item in URLComponents(string: url)?.queryItems ?? [] { items[item.name] = item.value ?? "" }
    return items
}

func base64URLDecode(_ s: Substring) -> Data? {
    var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while b.count % 4 != 0 { b += "=" }
    return Data(base64Encoded: b)
}

func basicHeader(_ id: String, _ secret: String) -> String {
    "Authorization: Basic " + Data("\(percentEncode(id)):\(percentEncode(secret))".utf8).base64EncodedString()
}

/// A running fake with a public and a confidential client; stopped when released.
final class IdP: Sendable {
    let provider: FakeIdentityProvider
    var base: String { provider.baseURL }
    var tokenURL: String { "\(base)/\(tid)/oauth2/v2.0/token" }

    /// `certificatePEMs` registers them for `certificateID` (no client is registered under that id
    /// otherwise); `configure` adjusts the configuration last.
    init(
        codeLifetime: Int = 600, extraRedirects: [String] = [], certificatePEMs: [String]? = nil,
        configure: (inout FakeIdPConfiguration) -> Void = { _ in }
    ) throws {
        let redirects =
            ["http://localhost", "http://127.0.0.1/callback", "https://app.contoso.example/auth"]
            + extraRedirects
        var clients = [
            FakeClient(clientID: publicID, clientSecret: nil, redirectURIs: redirects),
            FakeClient(clientID: confidentialID, clientSecret: confidentialSecret, redirectURIs: redirects),
            FakeClient(
                clientID: deviceID, clientSecret: deviceSecret, redirectURIs: redirects, allowPublicClientFlows: true)
        ]
        if let certificatePEMs {
            clients.append(
                FakeClient(clientID: certificateID, redirectURIs: redirects, certificatePEMs: certificatePEMs))
        }
        var configuration = FakeIdPConfiguration(tenant: tid, clients: clients, codeLifetime: codeLifetime)
        configure(&configuration)
        provider = FakeIdentityProvider(configuration)
        try provider.start()
    }

    /// client_credentials for `client` with extra form fields (credentials) and headers.
    func clientCredentials(
        client: String? = certificateID, scope: String? = "api://tokvault-test/.default",
        extra: [(String, String)] = [], headers: [String] = [], tenant: String = tid
    ) -> Reply {
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
        http(
            "POST", tokenURL,
            form: [("grant_type", deviceGrant), ("client_id", client), ("device_code", deviceCode)]
                + extra)
    }

    deinit { provider.stop() }

    func authorize(
        client: String = publicID, redirect: String = "http://localhost:43210/", tenant: String = "organizations",
        scope: String = "openid profile offline_access User.Read", state: String? = "st-1",
        challenge: String? = challenge, method: String? = "S256", extra: [(String, String)] = []
    ) -> Reply {
        var q: [(String, String)] = [
            ("client_id", client), ("response_type", "code"), ("redirect_uri", redirect),
            ("scope", scope)
        ]
        if let state { q.append(("state", state)) }
        if let challenge { q.append(("code_challenge", challenge)) }
        if let method { q.append(("code_challenge_method", method)) }
        return http("GET", "\(base)/\(tenant)/oauth2/v2.0/authorize?" + encodeForm(q + extra))
    }

    /// Authorize and return the code (expects success).
    func code(
        client: String = publicID, redirect: String = "http://localhost:43210/",
        scope: String = "openid profile offline_access User.Read", nonce: String? = nil
    ) -> String? {
        let reply = authorize(
            client: client, redirect: redirect, scope: scope, extra: nonce.map { [("nonce", $0)] } ?? [])
        guard reply.status == 302, let location = reply.header("location") else { return nil }
        return queryItems(location)["code"]
    }

    func redeem(
        _ code: String, client: String = publicID, redirect: String = "http://localhost:43210/",
        verifier: String? = verifier, extra: [(String, String)] = [], headers: [String] = []
    ) -> Reply {
        var form: [(String, String)] = [
            ("grant_type", "authorization_code"), ("client_id", client), ("code", code),
            ("redirect_uri", redirect)
        ]
        if let verifier { form.append(("code_verifier", verifier)) }
        return http("POST", tokenURL, form: form + extra, headers: headers)
    }

    func refresh(
        _ token: String, client: String = publicID, scope: String? = "openid offline_access User.Read",
        extra: [(String, String)] = []
    ) -> Reply {
        var form: [(String, String)] = [
            ("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", token)
        ]
        if let scope { form.append(("scope", scope)) }
        return http("POST", tokenURL, form: form + extra)
    }

    /// A full sign-in; returns the token response JSON.
    func signIn() -> [String: Any] {
        guard let code = code() else { return [:] }
        return redeem(code).json
    }
}

func expectAzureError(
    _ reply: Reply, status: Int, error: String, code: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
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
    #expect(
        json["trace_id"] is String && json["correlation_id"] is String && json["timestamp"] is String,
        sourceLocation: sourceLocation)
}

// MARK: - Client assertions (RFC 7523), built independently of the fake

/// The shared test certificate's key, parsed once.
let sharedKey: _RSA.Signing.PrivateKey = {
    do { return try TestCertificate.shared.privateKey() } catch { fatalError("\(error)") }
}()

/// A second key and certificate, registered nowhere.
let otherCertificate: (certificate: TestCertificate, key: _RSA.Signing.PrivateKey) = {
    do {
        let certificate = try TestCertificate.make(commonName: "tokvault-other")
        return (certificate, try certificate.privateKey())
    } catch { fatalError("\(error)") }
}()

func jsonSegment(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// The claims Microsoft documents for a certificate credential, valid for ten minutes from `now`.
func assertionClaims(
    audience: String, client: String = certificateID, now: Date = Date(),
    lifetime: Int = 600
) -> [String: Any] {
    let t = Int(now.timeIntervalSince1970)
    return [
        "aud": audience, "iss": client, "sub": client, "jti": UUID().uuidString, "nbf": t, "iat": t,
        "exp": t + lifetime
    ]
}

/// A compact JWS: `header` (alg PS256 with x5t#S256 of the shared certificate unless overridden;
/// a nil value removes a member), `claims`, signed with `key` using `alg`'s padding (PSS unless RS256).
func makeAssertion(
    claims: [String: Any], header overrides: [String: Any?] = [:],
    key: _RSA.Signing.PrivateKey = sharedKey
) throws -> String {
    var header: [String: Any] = ["alg": "PS256", "typ": "JWT", "x5t#S256": TestCertificate.shared.sha256Thumbprint]
    for (name, value) in overrides { header[name] = value }
    let input = jsonSegment(header) + "." + jsonSegment(claims)
    let padding: _RSA.Signing.Padding = header["alg"] as? String == "RS256" ? .insecurePKCS1v1_5 : .PSS
    let signature = try key.signature(for: SHA256.hash(data: Data(input.utf8)), padding: padding)
    return input + "."
        + Data(signature.rawRepresentation).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func assertionForm(_ assertion: String) -> [(String, String)] {
    [("client_assertion_type", jwtBearer), ("client_assertion", assertion)]
}

func descriptionOf(_ reply: Reply) -> String { reply.json["error_description"] as? String ?? "" }
