import Foundation
import FuzzSupport
import NIOHTTP1
@testable import TokvaultFlow
@testable import TokvaultVault

// A token endpoint's non-200 answer: TokenErrors.error with any status, Content-Type and
// body (OAuth error JSON, an HTML page from a proxy, nothing, a lot).
//
// Input: 2 bytes status (mod 1000), 1 byte options (bits 0-1 grant, bit 2 certificate app,
// bits 3 and 4 both set: a 1 MiB body, the rest followed by that much JSON white space), a length-prefixed
// Content-Type, then the body.

enum Fixture {
    static func app(certificate: Bool) -> App {
        App(id: "3f1c2a9e-5b7d-4e21-9c3a-8d6f0b1e2a47", name: "adme", provider: .azure, tenant: "contoso.onmicrosoft.com",
            cloud: "public", authorityHost: nil, clientID: "11111111-2222-3333-4444-555555555555",
            authorizeEndpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
            tokenEndpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            deviceEndpoint: nil, redirectURI: "http://localhost:8080", scope: "openid offline_access",
            flow: "authorization_code", clientAuth: certificate ? .privateKeyJWT : .post, clientSecret: nil,
            createdAt: 0, updatedAt: 0)
    }
    static let apps = [app(certificate: false), app(certificate: true)]
    static let grants: [TokenClient.Grant] = [
        .authorizationCode(code: SecureBytes(count: 4), verifier: SecureBytes(count: 43), redirectURI: "http://localhost:8080"),
        .refreshToken(SecureBytes(count: 8), scope: "openid"),
        .clientCredentials(scope: "api://x/.default"),
        .deviceCode(SecureBytes(count: 8)),
    ]
    static let padding = Data(repeating: UInt8(ascii: " "), count: 1 << 20)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenError(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let status = Int(input.uint16()) % 1000
    let options = input.byte()
    // Only what NIO's HTTP/1 parser lets through in a header value: HTAB, SP, VCHAR and
    // obs-text (bytes >= 0x80, which UTF-8 decoding can turn into C1 controls).
    let contentType = String(decoding: input.chunk().filter { $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 }, as: UTF8.self)
        .trimmingCharacters(in: .whitespaces)
    var body = Data(input.rest())
    if options & 0x18 == 0x18 { body += Fixture.padding }

    var headers = HTTPHeaders()
    if !contentType.isEmpty { headers.add(name: "Content-Type", value: contentType) }
    let app = Fixture.apps[Int(options >> 2) & 1]
    let error = TokenErrors.error(status: status, data: body, headers: headers, app: app,
                                  grant: Fixture.grants[Int(options & 3)], endpoint: app.tokenEndpoint)
    require([.failed, .loginRequired, .unreachable].contains(error.kind),
            "kind \(error.kind)")
    require(!error.message.isEmpty, "empty message")
    // The message and hint go to the terminal as they are: nothing from the body may carry
    // control characters (escape sequences) there.
    require(isPrintable(error.message), "control characters in message \(error.message.debugDescription)")
    require(error.hint.map { isPrintable($0.description) } ?? true, "control characters in hint \(error.hint!.description.debugDescription)")

    if let parsed = try? JSONDecoder().decode(OAuthErrorBody.self, from: body) {
        _ = parsed.summary
        if let code = parsed.aadstsCode {
            require(code.hasPrefix("AADSTS"), "aadstsCode \(code)")
        }
    }
    return 0
}

runFuzzer { fuzzTokenError($0 ?? emptyInput, $1) }
