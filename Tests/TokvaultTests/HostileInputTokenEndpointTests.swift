import Foundation
import GRDB
import NIOCore
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

@Suite("hostile input: token endpoint")
struct HostileInputTokenEndpointTests {
    static let cases: [HostileAnswerCase] = [
        HostileAnswerCase(
            name: "HTML page with 200",
            behavior: HostileServer.response(
                "200 OK", contentType: "text/html", body: "<html><body>Sign in to the Wi-Fi</body></html>"),
            status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(
            name: "XML with 200",
            behavior: HostileServer.response(
                "200 OK", contentType: "application/xml",
                body: "<?xml version=\"1.0\"?><token><access_token>x</access_token></token>"),
            status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(
            name: "JSON with wrong types",
            behavior: Hostile.json("200 OK", #"{"access_token":12345,"token_type":"Bearer","expires_in":"soon"}"#),
            status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(
            name: "expires_in as an object",
            behavior: Hostile.json("200 OK", #"{"access_token":"at-CANARY-obj","expires_in":{"s":1}}"#),
            status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(
            name: "empty 200", behavior: HostileServer.response("200 OK", contentType: "application/json"),
            status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(
            name: "200 without access_token",
            behavior: Hostile.json(
                "200 OK", #"{"token_type":"Bearer","expires_in":3600,"refresh_token":"rt-CANARY-new"}"#),
            status: 1, needle: "answered without an access_token"),
        HostileAnswerCase(
            name: "token_type mac with an escape",
            behavior: Hostile.json(
                "200 OK", #"{"access_token":"at-CANARY-mac","token_type":"mac\u001b[31m","expires_in":3600}"#),
            status: 1, needle: "answered token_type \"mac?[31m\"; tokvault handles Bearer tokens"),
        // An id_token that is garbage or fails its checks no longer ends a refresh: the rotated
        // refresh token is stored (RefreshIDTokenTests).
        HostileAnswerCase(
            name: "10 MB body with a length",
            behavior: .flood(
                head:
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Hostile.tenMiB)\r\nConnection: close",
                count: Hostile.tenMiB, filler: 0x20),
            status: 3, needle: "no answer from the identity provider at 127.0.0.1", hint: "it was not sent again"),
        HostileAnswerCase(
            name: "10 MB body until close",
            behavior: .flood(
                head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close", count: Hostile.tenMiB,
                filler: 0x20),
            status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(
            name: "connection closed without an answer", behavior: .close,
            status: 3, needle: "the connection was closed before an answer", hint: "it was not sent again"),
        HostileAnswerCase(
            name: "not HTTP", behavior: .bytes(Array("HELLO WORLD\r\n\r\n".utf8)),
            status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(
            name: "OAuth error with control characters",
            behavior: Hostile.json(
                "400 Bad Request",
                #"{"error":"invalid_grant\u001b]0;pwned\u0007","error_description":"AADSTS70000: bad\u001b[2J\r\nTrace ID: x","trace_id":"t\u001b[31m","correlation_id":"c\u0007"}"#
            ),
            status: 1,
            needle:
                "the identity provider refused the request: invalid_grant?]0;pwned? (AADSTS70000: bad?[2J) [trace id t?[31m, correlation id c?]"
        ),
        HostileAnswerCase(
            name: "400 with a control character in the content type",
            behavior: .bytes(
                Array(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/\u{1b}[31mplain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
                        .utf8)),
            status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(
            name: "429 with Retry-After 120",
            behavior: HostileServer.response(
                "429 Too Many Requests", contentType: "text/html", body: "<html>slow down</html>",
                headers: [("Retry-After", "120")]),
            status: 3, needle: "answered HTTP 429 with an HTML page",
            hint: "the identity provider is throttling requests; try again later"),
        HostileAnswerCase(
            name: "429 with Retry-After as a date",
            behavior: HostileServer.response(
                "429 Too Many Requests", contentType: nil, body: "",
                headers: [("Retry-After", "Wed, 21 Oct 2065 07:28:00 GMT")]),
            status: 3, needle: "answered HTTP 429 with an empty body", requests: 1,
            hint: "longer than the 30 s tokvault waits"),
        HostileAnswerCase(
            name: "503 with an empty body",
            behavior: HostileServer.response("503 Service Unavailable", contentType: nil),
            status: 3, needle: "answered HTTP 503 with an empty body", requests: 1,
            hint: "the refresh token is single-use and may have been used"),
        HostileAnswerCase(
            name: "401 JSON that is not an OAuth error",
            behavior: Hostile.json("401 Unauthorized", #"{"message":"who are you"}"#),
            status: 1, needle: "answered HTTP 401 with a body that is not an OAuth error (application/json)")
    ]

    @Test(arguments: cases)
    func misbehavingTokenEndpoint(_ c: HostileAnswerCase) throws {
        let server = try HostileServer(always: c.behavior)
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let started = Date()
        let result = try e.runRefused(["token", "adme"], c, canaries: ["at-CANARY"])
        #expect(Date().timeIntervalSince(started) < 8)
        #expect(result.stderr.hasPrefix("tokvault: error: "), "\(result)")
        if let hint = c.hint {
            #expect(
                result.stderr.contains("tokvault: hint: ") && result.stderr.contains(hint),
                "\(result.stderr.debugDescription)")
        }
        #expect(result.stdout.isEmpty, "no token printed")
        #expect(server.requests.count == c.requests, "\(server.requests.map(\.target))")
        #expect(server.requests.allSatisfy { $0.method == "POST" && Hostile.isTokenPath($0) })
    }

    @Test(arguments: ["302 Found", "303 See Other", "307 Temporary Redirect", "308 Permanent Redirect"])
    func redirectsAreNeverFollowed(_ status: String) throws {
        let elsewhere = try HostileServer(
            always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-stolen","expires_in":3600}"#))
        defer { elsewhere.stop() }
        let server = try HostileServer(
            always: HostileServer.response(status, contentType: nil, headers: [("Location", elsewhere.url + "/steal")]))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        let code = status.prefix(3)
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderr.contains("the token endpoint 127.0.0.1 answered HTTP \(code) with an empty body"), "\(result)"
        )
        #expect(result.stderr.contains("a proxy or firewall may be answering"), "\(result)")
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, "at-CANARY"])
        #expect(server.requests.count == 1)
        #expect(elsewhere.requests.isEmpty, "the refresh token never goes to the Location")
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    @Test func redirectLoopIsOneRequest() throws {
        let server = try HostileServer { request in
            HostileServer.response("307 Temporary Redirect", contentType: nil, headers: [("Location", request.target)])
        }
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let result = e.run(["token", "adme"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("answered HTTP 307"), "\(result)")
        #expect(server.requests.count == 1)
    }

    @Test func tlsToAPlainPortCannotReachAndSendsNothing() throws {
        let server = try HostileServer(
            always: HostileServer.response("400 Bad Request", contentType: "text/plain", body: "plain HTTP here"))
        defer { server.stop() }
        // A bare host:port authority is https.
        let e = Hostile.Endpoint(authorityHost: "127.0.0.1:\(server.port)")
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let started = Date()
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("cannot reach the identity provider at 127.0.0.1"), "\(result)")
        #expect(result.stderr.contains("nothing was sent"), "\(result)")
        Hostile.expectClean(result)
        // A handshake failure is certainly before the request: retried, and only hellos arrive.
        #expect(server.requests.count == 3, "\(server.requests)")
        #expect(server.requests.allSatisfy { $0.isTLS })
        #expect(Date().timeIntervalSince(started) < 8)
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    @Test(arguments: ["407", "close", "200-then-garbage"])
    func hostileProxySeesOnlyTheConnect(_ mode: String) throws {
        let proxy = try HostileServer(
            always: {
                switch mode {
                case "407":
                    return HostileServer.response(
                        "407 Proxy Authentication Required", contentType: "text/html", body: "<html>log in</html>",
                        headers: [("Proxy-Authenticate", "Basic realm=\"corp\"")])
                case "close": return .close
                default: return .bytes(Array("HTTP/1.1 200 Connection established\r\n\r\nthis is not TLS\r\n".utf8))
                }
            }())
        defer { proxy.stop() }
        // An app at the real Azure host: only the proxy is ever contacted.
        let f = Fixture()
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        #expect(
            f.cli.run(
                ["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: Hostile.refreshToken + "\n"
            ).status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(
            ["token", "adme", "--key-file", f.keyFile], env: ["HTTPS_PROXY": proxy.url, "NO_PROXY": ""])
        #expect(result.status == 3, "\(result)")
        let needle =
            [
                "407":
                    "no answer from the identity provider at login.microsoftonline.com: Proxy authentication required",
                "close": "the connection was closed before an answer"
            ][mode] ?? "the identity provider at login.microsoftonline.com"
        #expect(result.stderr.contains(needle), "\(result)")
        Hostile.expectClean(result)
        #expect(proxy.requests.count >= 1)
        #expect(
            proxy.requests.allSatisfy {
                $0.method == "CONNECT" && $0.target == "login.microsoftonline.com:443" && $0.bodyLength == 0
            },
            "\(proxy.requests)")
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    /// expires_in below zero: the token is printed once, stored as already expired, and the
    /// next call refreshes again rather than serving it.
    @Test func negativeExpiresInIsStoredAsExpired() throws {
        let server = try HostileServer(
            always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-neg","token_type":"Bearer","expires_in":-100}"#)
        )
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let first = e.run(["token", "adme"])
        #expect(first.status == 0 && first.stdout == "at-CANARY-neg\n", "\(first)")
        let second = e.run(["token", "adme"])
        #expect(second.status == 0, "\(second)")
        #expect(server.requests.count == 2, "an expired token is never served from the cache")
        let lifetime = try DatabaseQueue(path: e.cli.vaultPath).read {
            try Int64.fetchOne($0, sql: "SELECT expires_at - obtained_at FROM access_token")
        }
        #expect(
            lifetime.map { $0 <= 1 } == true, "stored as expired on arrival: \(lifetime.map(String.init) ?? "none")")
    }

    @Test func hugeExpiresInIsClampedToAYear() throws {
        let server = try HostileServer(
            always: Hostile.json(
                "200 OK", #"{"access_token":"at-CANARY-huge","token_type":"Bearer","expires_in":"99999999999999"}"#))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let first = e.run(["token", "adme"])
        #expect(first.status == 0 && first.stdout == "at-CANARY-huge\n", "\(first)")
        let lifetime = try DatabaseQueue(path: e.cli.vaultPath).read {
            try Int64.fetchOne($0, sql: "SELECT expires_at - obtained_at FROM access_token")
        }
        let year: Int64 = 366 * 86400
        let seconds = try #require(lifetime)
        #expect(seconds <= year + 1 && seconds > year - 86400, "\(seconds)")
    }

    // MARK: Slow servers, at the library level with short timeouts

    static func shortTimeoutClient() -> TokenClient {
        var options = TokenClient.Options()
        options.connectTimeout = .seconds(1)
        options.readTimeout = .seconds(1)
        return TokenClient(options: options)
    }

    static func app(_ server: HostileServer) throws -> App {
        try FlowFixture.azureApp(tenant: Hostile.tenant, authorityHost: server.url, isPublic: true)
    }

    /// Runs a refresh against `server` with 1 s timeouts and returns its error. How soon the
    /// client gave up is read from the server (`hangUps`): this process's async tasks can wait
    /// long for a thread while other tests block theirs, which would distort a clock read here.
    static func refresh(against server: HostileServer) async throws -> FlowError? {
        let app = try Self.app(server)
        let client = Self.shortTimeoutClient()
        // swift-format-ignore: OnlyOneTrailingClosureArgument
        let outcome = await Hostile.within(60, onTimeout: { server.stop() }) {
            try await client.redeem(
                .refreshToken(secure(Hostile.refreshToken), scope: app.scope), app: app, credential: .none)
        }
        switch outcome {
        case nil:
            Issue.record("still waiting after 60 s")
            return nil
        case .success?:
            Issue.record("a misbehaving server produced tokens")
            return nil
        case .failure(let error)?:
            return error as? FlowError
        }
    }

    /// The client hung up on its single connection, within `seconds` of connecting.
    static func expectHungUp(
        _ server: HostileServer, within seconds: Double, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        #expect(
            server.requests.count == 1, "a refresh token that may have arrived is never resent",
            sourceLocation: sourceLocation)
        // The server notices at its next poll or write.
        for _ in 0..<100 where server.hangUps.isEmpty { try? await Task.sleep(nanoseconds: 20_000_000) }
        let hangUps = server.hangUps
        #expect(
            hangUps.count == 1 && hangUps.allSatisfy { $0 < seconds }, "hang-ups after \(hangUps) s",
            sourceLocation: sourceLocation)
    }

    @Test func silentServerEndsAtTheReadTimeoutAndIsNotAskedTwice() async throws {
        let server = try HostileServer(always: .silence)
        defer { server.stop() }
        let error = try await Self.refresh(against: server)
        #expect(error?.exitCode == 3, "\(String(describing: error))")
        #expect(
            error?.message.contains(
                "no answer from the identity provider at 127.0.0.1: timed out waiting for the answer") == true,
            "\(String(describing: error))")
        #expect(error?.shownHint?.contains("it was not sent again") == true)
        await Self.expectHungUp(server, within: 4)
    }

    @Test func tricklingHeadersEndAtTheReadTimeout() async throws {
        // One byte every 300 ms, for a minute: the head must still come within the read timeout.
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + String(repeating: "p", count: 200)
            + "\r\n\r\n"
        let server = try HostileServer(always: .trickle(Array(head.utf8), milliseconds: 300))
        defer { server.stop() }
        let error = try await Self.refresh(against: server)
        #expect(error?.exitCode == 3, "\(String(describing: error))")
        #expect(
            error?.message.contains("no answer from the identity provider at 127.0.0.1") == true,
            "\(String(describing: error))")
        await Self.expectHungUp(server, within: 4)
    }

    @Test func tricklingBodyEndsAtTheDeadline() async throws {
        // The head at once, then the body one byte every 100 ms for a minute: every byte restarts
        // the read timeout, so only the request's deadline (1 + 1 + 5 s here) can end it. (On a
        // loaded machine a gap may still exceed the 1 s read timeout and end it sooner.)
        let body = "{\"access_token\":\"at-CANARY-slow\",\"expires_in\":3600" + String(repeating: " ", count: 600) + "}"
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        let server = try HostileServer(
            always: .headThenTrickle(head: Array(head.utf8), body: Array(body.utf8), milliseconds: 100))
        defer { server.stop() }
        let error = try await Self.refresh(against: server)
        #expect(error?.exitCode == 3, "\(String(describing: error))")
        #expect(
            error?.message.contains("no answer from the identity provider at 127.0.0.1: timed out") == true,
            "\(String(describing: error))")
        #expect(error?.shownHint?.contains("it was not sent again") == true)
        await Self.expectHungUp(server, within: 10)
    }

    @Test func silentDeviceAuthorizationEndpointEndsAtTheReadTimeout() async throws {
        let server = try HostileServer(always: .silence)
        defer { server.stop() }
        let app = try Self.app(server)
        let flow = DeviceFlow(client: Self.shortTimeoutClient())
        // swift-format-ignore: OnlyOneTrailingClosureArgument
        let outcome = await Hostile.within(60, onTimeout: { server.stop() }) {
            try await flow.start(app: app, credential: .none)
        }
        guard case .failure(let error as FlowError)? = outcome else {
            Issue.record("\(String(describing: outcome))")
            return
        }
        #expect(error.exitCode == 3)
        #expect(error.message.contains("timed out waiting for the answer"), "\(error.message)")
        #expect(server.requests.count == 1 && Hostile.isDevicePath(server.requests[0]))
        await Self.expectHungUp(server, within: 4)
    }
}
