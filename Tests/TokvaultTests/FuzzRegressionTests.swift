import Foundation
import NIOHTTP1
import Testing

@testable import TokvaultCLI
@testable import TokvaultExport
@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// Inputs the fuzzers in Fuzz/ found (docs/fuzzing.md), each checked against the behaviour
/// the fix gave it. The JSON and key file inputs are the saved libFuzzer artifacts.
@Suite("fuzz regressions")
struct FuzzRegressionTests {
    /// FuzzDeviceAuthorization: `"interval": 1e+300` trapped converting the Double to Int64
    /// (TokenResponseParser.FlexibleInt), killing `login --device` instead of clamping.
    @Test func hugeFloatIntervalIsClampedNotATrap() throws {
        let body =
            #"{"user_code": "ABCD1234E", "device_code": "DAQABAAEAAAD--DLA3VO7QrddgJg7WevrgDs_wQA9P8", "verification_uri": "https://microsoft.com/devicelogin", "expires_in": -5, "interval": 1e+300, "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD1234E to authenticate."}"#
        let authorization = try DeviceFlow.parse(
            Data(body.utf8), endpoint: "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode")
        #expect(authorization.interval == 60)
        #expect(authorization.expiresIn == 1)
    }

    /// The same decoder reads a token response's expires_in.
    @Test(arguments: ["1e300", "-1e300", "9.3e18", "-9.3e18", "3599.9"])
    func hugeFloatExpiresInIsClamped(_ number: String) throws {
        let body = #"{"access_token":"at","token_type":"Bearer","expires_in":\#(number)}"#
        let response = try TokenResponseParser.parseSuccess(
            Data(body.utf8), now: 1_700_000_000, endpoint: "https://idp.example.com/token")
        let expected: Int64 = number.hasPrefix("-") ? 0 : number == "3599.9" ? 3599 : 366 * 86400
        #expect(response.expiresIn == expected)
        #expect(response.tokenSet.expiresAt == 1_700_000_000 + expected)
    }

    /// FuzzKeyFile: libsodium 1.0.18 decodes every byte >= 0x80 in base64 as "_" (63). The key
    /// file text is read as UTF-8 with invalid bytes replaced by U+FFFD (3 bytes), so the
    /// artifact's four 0xFF bytes stood for twelve "_" and it was accepted as a key.
    @Test func keyFileWithNonASCIIBytesIsRefused() throws {
        var crash =
            Array("tokvault-keyfile-v1:AyA9WneUsc7rCCVCX3yHZI".utf8) + [0xFF, 0xFF, 0xFF, 0xFF]
            + Array("j1Ei9MaYY\n".utf8)
        #expect(KeyFile.parse(SecureBytes(consuming: &crash)) == nil)
        // The key it stood for, spelled with "_", is a key file.
        let spelled = "tokvault-keyfile-v1:AyA9WneUsc7rCCVCX3yHZI" + String(repeating: "_", count: 12) + "j1Ei9MaYY\n"
        var bytes = Array(spelled.utf8)
        #expect(KeyFile.parse(SecureBytes(consuming: &bytes)) != nil)
        // Non-ASCII in place of "_" ("é" is 2 bytes, an invalid byte becomes 3) is not.
        for (replaced, by) in [("__", "\u{E9}"), ("___", "\u{FFFD}")] {
            var text = Array(spelled.replacingOccurrences(of: "_" + replaced, with: "_" + by).utf8)
            #expect(KeyFile.parse(SecureBytes(consuming: &text)) == nil, "\(by.debugDescription) for \(replaced)")
        }
        #expect(Sodium.decodeBase64URL("AAA\u{C3}", into: 8) == nil)
        #expect(Sodium.decodeBase64URL("AAA_", into: 8)?.withUnsafeBytes { Array($0) } == [0, 0, 0x3F])
    }

    /// The JWT payload goes through the same decoder: characters outside base64url make the
    /// token "not a JWT" before libsodium sees them.
    @Test func idTokenWithNonASCIIPayloadIsNotAJWT() {
        let payload = Sodium.base64URL(Array(#"{"aud":"c"}"#.utf8))
        #expect((try? IDTokenClaims.decode("e30.\(payload).c2ln")) != nil)
        #expect((try? IDTokenClaims.decode("e30.\(payload)\u{E9}.c2ln")) == nil)
    }

    /// FuzzTokenError: the Content-Type of a non-OAuth error answer went into the message
    /// unfiltered. NIO passes header bytes >= 0x80, so C1 controls (U+009B is CSI) and tabs
    /// reached the terminal.
    @Test(arguments: ["text/plain\u{9B}2J", "applica\ttion/x"])
    func contentTypeInMessageIsPrintable(_ contentType: String) {
        let app = App(
            id: "x", name: "adme", provider: .azure, tenant: nil, cloud: nil, authorityHost: nil, clientID: "c",
            authorizeEndpoint: "", tokenEndpoint: "https://login.example.com/token", deviceEndpoint: nil,
            redirectURI: "http://localhost:8080", scope: "openid", flow: "authorization_code", clientAuth: .none,
            clientSecret: nil, createdAt: 0, updatedAt: 0)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        let error = TokenErrors.error(
            status: 401, data: Data("not json".utf8), headers: headers, app: app,
            grant: .clientCredentials(scope: "x/.default"), endpoint: app.tokenEndpoint)
        #expect(
            !error.message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) },
            "\(error.message.debugDescription)")
        #expect(error.exitCode == 1)
    }

    /// FuzzExport: python-dotenv reads files with universal newlines, so a "\r" in a dotenv
    /// value came back as "\n" (the artifact's value "a\nl\rmit\nb" read back as
    /// "a\nl\nmit\nb" by python-dotenv 1.2.2). Such values are now refused, naming the
    /// variable and not showing the value; shell and JSON still carry them.
    @Test(arguments: ["a\nl\rmit\nb", "x\r\ny", "\r"])
    func dotenvRefusesCarriageReturn(_ value: String) throws {
        do {
            _ = try ExportFormat.dotenv.render([ExportVariable(name: "SECRET_ONE", text: value, isSecret: true)])
            Issue.record("dotenv exported a value with a carriage return")
        } catch let error as ExportError {
            #expect(error.exitCode == 1)
            #expect(error.message.contains("SECRET_ONE") && error.message.contains("carriage return"))
            #expect(!error.message.contains(value))
        }
        let shell = try ExportFormat.shell.render([ExportVariable(name: "V", text: value)])
        #expect(shell.withUnsafeBytes { Array($0) } == Array("export V='\(value)'\n".utf8))
    }

    /// FuzzExport: CurlSnippet.quote escaped "'" with String.replacingOccurrences, which
    /// compares Characters: a "'" followed by a combining mark (U+064B in the artifact) is one
    /// Character and stayed unescaped, ending the quoting early, so a secret, endpoint, scope
    /// or header could run commands in the generated script. bash now reads them back.
    @Test(arguments: ["x'\u{301}$(echo INJECTED)'", "''\u{64B}\u{301}'", "plain'quote"])
    func curlScriptQuotesApostropheBeforeCombiningMark(_ secret: String) throws {
        let app = App(
            id: "x", name: "adme", provider: .oauth, tenant: nil, cloud: nil, authorityHost: nil, clientID: "c",
            authorizeEndpoint: "", tokenEndpoint: "https://idp.example.com/token'\u{301}", deviceEndpoint: nil,
            redirectURI: "http://localhost:8080", scope: "x/.default", flow: "client_credentials", clientAuth: .post,
            clientSecret: nil, createdAt: 0, updatedAt: 0)
        var snippet = CurlSnippet(app: app)
        var bytes = Array(secret.utf8)
        snippet.clientSecret = SecureBytes(consuming: &bytes)
        snippet.defineSecrets = true
        let script = try snippet.render(spelling: Failure.command(for:)).withUnsafeBytes {
            String(decoding: $0, as: UTF8.self)
        }
        let assignments = script.split(separator: "\n").filter {
            $0.hasPrefix("AZURE_CLIENT_SECRET=") || $0.hasPrefix("TOKEN_ENDPOINT=")
        }
        #expect(assignments.count == 2)
        let r = CLI.exec(
            [
                "/bin/bash", "-c",
                assignments.joined(separator: "\n") + "\nprintf '%s\\n%s' \"$AZURE_CLIENT_SECRET\" \"$TOKEN_ENDPOINT\""
            ],
            environment: ProcessInfo.processInfo.environment)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == secret + "\n" + app.tokenEndpoint, "bash read \(r.stdout.debugDescription)")
    }

    static let fuzzApp = App(
        id: "x", name: "adme", provider: .azure, tenant: nil, cloud: nil, authorityHost: nil, clientID: "c",
        authorizeEndpoint: "", tokenEndpoint: "https://login.example.com/token", deviceEndpoint: nil,
        redirectURI: "http://localhost:8080", scope: "openid", flow: "authorization_code", clientAuth: .none,
        clientSecret: nil, createdAt: 0, updatedAt: 0)

    /// `Retry-After: -1` on a 429 trapped in `UInt64($0) * 1_000_000_000` and killed `token`
    /// with SIGILL (found by hand, the reason FuzzResponseHead exists). It counts as absent:
    /// the back-off.
    @Test(arguments: ["-1", "-9223372036854775808", "99999999999999999999"])
    func negativeOrOverflowingRetryAfterIsTheBackOff(_ value: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: value)
        let outcome = TokenClient.outcome(
            status: 429, headers: headers, body: Data(), grant: .refreshToken(SecureBytes(count: 1), scope: "s"),
            attempt: 1, app: Self.fuzzApp, endpoint: Self.fuzzApp.tokenEndpoint, passing: [],
            options: TokenClient.Options(), now: 1_700_000_000)
        guard case .retry(let milliseconds) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(milliseconds == 500)
    }

    /// FuzzResponseHead: NIO's parser accepts any three digits as the status ("HTTP/1.1 040",
    /// the artifact); the harness had assumed 100...999. Such an answer is a final error.
    @Test func statusBelow100IsAFinalError() throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let outcome = TokenClient.outcome(
            status: 40, headers: headers, body: Data("{t-Lengtl: 33".utf8),
            grant: .refreshToken(SecureBytes(count: 1), scope: "s"), attempt: 1, app: Self.fuzzApp,
            endpoint: Self.fuzzApp.tokenEndpoint, passing: [], options: TokenClient.Options(),
            now: 1_700_000_000)
        guard case .failure(let error as FlowError) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(error.exitCode == 1)
        #expect(error.message.contains("answered HTTP 40 with a body that is not an OAuth error"), "\(error.message)")
    }
}
