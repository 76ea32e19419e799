import Foundation
import Testing

@Suite("hostile input: device authorization and discovery")
struct HostileInputDeviceAndDiscoveryTests {
    static let deviceCases: [HostileAnswerCase] = [
        HostileAnswerCase(
            name: "HTML page with 200",
            behavior: HostileServer.response("200 OK", contentType: "text/html", body: "<html>portal</html>"),
            status: 1,
            needle:
                "the device authorization endpoint 127.0.0.1 answered 200 with a body that is not a device authorization"
        ),
        HostileAnswerCase(
            name: "no device_code",
            behavior: Hostile.json(
                "200 OK", #"{"user_code":"ABCD","verification_uri":"https://microsoft.com/devicelogin"}"#),
            status: 1, needle: "answered without device_code, user_code or verification_uri"),
        HostileAnswerCase(
            name: "javascript: verification_uri",
            behavior: Hostile.json(
                "200 OK", #"{"device_code":"dc-CANARY","user_code":"ABCD","verification_uri":"javascript:alert(1)"}"#),
            status: 1, needle: "answered a verification_uri that is not a web address"),
        HostileAnswerCase(
            name: "10 MB body",
            behavior: .flood(
                head:
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Hostile.tenMiB)\r\nConnection: close",
                count: Hostile.tenMiB, filler: 0x20),
            status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(
            name: "302 redirect",
            behavior: HostileServer.response(
                "302 Found", contentType: nil, headers: [("Location", "http://127.0.0.1:9/x")]),
            status: 1, needle: "answered HTTP 302 with an empty body"),
        HostileAnswerCase(
            name: "connection closed", behavior: .close,
            status: 3, needle: "the connection was closed before an answer"),
        HostileAnswerCase(
            name: "OAuth error with control characters",
            behavior: Hostile.json(
                "400 Bad Request", #"{"error":"invalid_client\u001b[2J","error_description":"AADSTS7000218: no\u0007"}"#
            ),
            status: 1, needle: "the identity provider refused the request: invalid_client?[2J (AADSTS7000218: no?)")
    ]

    @Test(arguments: deviceCases)
    func misbehavingDeviceAuthorizationEndpoint(_ c: HostileAnswerCase) throws {
        let server = try HostileServer(always: c.behavior)
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        _ = try e.runRefused(["login", "adme", "--device"], c, canaries: ["dc-CANARY"])
        #expect(
            server.requests.count == 1 && Hostile.isDevicePath(server.requests[0]), "\(server.requests.map(\.target))")
    }

    static let deviceGrant =
        #"{"device_code":"dc-CANARY-poll","user_code":"AB\u001b[2JCD","verification_uri":"https://microsoft.com/devicelogin","expires_in":3,"interval":1,"message":"\u001b]0;pwned\u0007 enter the code"}"#

    @Test func pendingForeverEndsWhenTheCodeExpires() throws {
        let server = try HostileServer { request in
            Hostile.isDevicePath(request)
                ? Hostile.json("200 OK", Self.deviceGrant)
                : Hostile.json(
                    "400 Bad Request",
                    #"{"error":"authorization_pending","error_description":"AADSTS70016: pending\u001b[2J"}"#)
        }
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let started = Date()
        let result = e.run(["login", "adme", "--device"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("the device code expired before the sign-in was completed"), "\(result)")
        #expect(
            result.stderr.contains("AB?[2JCD"),
            "the user code is shown, its control characters replaced: \(result.stderr.debugDescription)")
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, "dc-CANARY"])
        #expect(Date().timeIntervalSince(started) < 9)
        #expect(server.requests.filter(Hostile.isTokenPath).count >= 1)
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    @Test(arguments: ["html", "redirect", "slow-down"])
    func misbehavingPollAnswers(_ mode: String) throws {
        let server = try HostileServer { request in
            if Hostile.isDevicePath(request) {
                return Hostile.json("200 OK", Self.deviceGrant)
            }
            switch mode {
            case "html": return HostileServer.response("200 OK", contentType: "text/html", body: "<html>ok</html>")
            case "redirect":
                return HostileServer.response(
                    "307 Temporary Redirect", contentType: nil, headers: [("Location", "http://127.0.0.1:9/x")])
            default: return Hostile.json("400 Bad Request", #"{"error":"slow_down"}"#)
            }
        }
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["login", "adme", "--device"])
        #expect(result.status == 1, "\(result)")
        switch mode {
        case "html":
            #expect(result.stderr.contains("answered 200 with a body that is not a token response"), "\(result)")
        case "redirect": #expect(result.stderr.contains("answered HTTP 307"), "\(result)")
        default:
            // slow_down adds 5 s to a 1 s interval: the 3 s code expires after the first poll.
            #expect(result.stderr.contains("the device code expired"), "\(result)")
            #expect(server.requests.filter(Hostile.isTokenPath).count == 1)
        }
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, "dc-CANARY"])
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    /// A discovery document served at `/.well-known/openid-configuration`; `{ISSUER}` is
    /// replaced by the server's own URL, so that the issuer check itself passes.
    static func document(_ template: String) -> @Sendable (HostileServer.Request) -> HostileServer.Behavior {
        { request in
            let issuer = "http://" + (request.headers["host"] ?? "")
            return Hostile.json("200 OK", template.replacingOccurrences(of: "{ISSUER}", with: issuer))
        }
    }

    static let endpoints = #""authorization_endpoint":"{ISSUER}/authorize","token_endpoint":"{ISSUER}/token""#

    static let discoveryCases: [HostileAnswerCase] = [
        HostileAnswerCase(
            name: "issuer with control characters",
            behavior: Hostile.json(
                "200 OK",
                #"{"issuer":"https://evil.example\u001b]0;pwned\u0007","authorization_endpoint":"https://evil.example/a","token_endpoint":"https://evil.example/t"}"#
            ),
            status: 1, needle: "names another issuer: https://evil.example?]0;pwned?"),
        HostileAnswerCase(
            name: "HTML page with 200",
            behavior: HostileServer.response("200 OK", contentType: "text/html", body: "<html>login</html>"),
            status: 1, needle: "is not OpenID Connect metadata"),
        HostileAnswerCase(
            name: "302 redirect",
            behavior: HostileServer.response(
                "302 Found", contentType: nil,
                headers: [("Location", "https://evil.example/.well-known/openid-configuration")]),
            status: 1, needle: "/.well-known/openid-configuration answered HTTP 302"),
        HostileAnswerCase(
            name: "10 MB body",
            behavior: .flood(
                head:
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Hostile.tenMiB)\r\nConnection: close",
                count: Hostile.tenMiB, filler: 0x20),
            status: 3, needle: "cannot fetch http://127.0.0.1:"),
        HostileAnswerCase(
            name: "connection closed", behavior: .close, status: 3, needle: "the connection was closed before an answer"
        )
    ]

    @Test(arguments: discoveryCases)
    func misbehavingDiscoveryDocument(_ c: HostileAnswerCase) throws {
        let server = try HostileServer(always: c.behavior)
        defer { server.stop() }
        try expectIssuerRefused(server, status: c.status, needle: c.needle)
    }

    @Test(arguments: [
        (
            #"{"issuer":"{ISSUER}",\#(endpoints.replacingOccurrences(of: "\"{ISSUER}/token\"", with: "\"http://evil.example/token\""))}"#,
            Int32(64), "token_endpoint (discovery): \"http://evil.example/token\" is not https"
        ),
        (
            #"{"issuer":"{ISSUER}",\#(endpoints),"device_authorization_endpoint":"http://evil.example/device"}"#,
            Int32(64), "device_authorization_endpoint (discovery): \"http://evil.example/device\" is not https"
        ),
        (
            #"{"issuer":"{ISSUER}",\#(endpoints.replacingOccurrences(of: "\"{ISSUER}/authorize\"", with: "\"https://user:pw@evil.example/a\""))}"#,
            Int32(64), "credentials in the URL are not allowed"
        ),
        (#"{"issuer":"{ISSUER}/",\#(endpoints)}"#, Int32(1), "names another issuer"),
        (
            #"{"issuer":"{ISSUER}","authorization_endpoint":42,"token_endpoint":"{ISSUER}/token"}"#, Int32(1),
            "is not OpenID Connect metadata"
        )
    ])
    func discoveryDocumentPointingElsewhereIsRefused(_ template: String, _ status: Int32, _ needle: String) throws {
        let server = try HostileServer(Self.document(template))
        defer { server.stop() }
        try expectIssuerRefused(server, status: status, needle: needle)
    }

    func expectIssuerRefused(
        _ server: HostileServer, status: Int32, needle: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let f = Fixture()
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(
            ["add-app", "oidc", "--issuer", server.url, "--client-id", "c", "--secret-stdin", "--key-file", f.keyFile],
            stdin: Hostile.clientSecret + "\n")
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(needle), "\(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        Hostile.expectClean(result)
        #expect(
            server.requests.count == 1 && server.requests[0].target == "/.well-known/openid-configuration",
            "\(server.requests.map(\.target))", sourceLocation: sourceLocation)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "nothing was added", sourceLocation: sourceLocation)
    }

    @Test func plainHTTPIssuerOfARemoteHostIsRefusedBeforeAnyRequest() throws {
        let f = Fixture()
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["add-app", "oidc", "--issuer", "http://idp.example.com", "--client-id", "c", "--public"]
        )
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("--issuer: \"http://idp.example.com\" is not https"), "\(result)")
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }
}
