import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

final class ServerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: HostileServer?
    var server: HostileServer? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

/// Answers in the order given, one per request; the last one again for any request after.
final class ScriptedAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [HostileServer.Behavior]

    init(_ answers: [HostileServer.Behavior]) { self.answers = answers }

    func next() -> HostileServer.Behavior {
        lock.withLock { answers.count > 1 ? answers.removeFirst() : answers[0] }
    }
}

/// Which grants are sent again, and when (docs/login.md, Network): an authorization code or
/// a refresh token only when the request certainly did not leave or the server answered 429;
/// a 5xx or a failure after the request was written ends the exchange with exit 3 and a hint
/// that the grant may have been used. Requests are counted on the server.
@Suite("grant retries")
struct GrantRetryTests {
    static let newAccess = "at-CANARY-retry-7f0"
    static let newRefresh = "rt-CANARY-retry-rotated-2d9"

    static var success: HostileServer.Behavior {
        Hostile.json(
            "200 OK",
            #"{"access_token":"\#(newAccess)","token_type":"Bearer","expires_in":3600,"refresh_token":"\#(newRefresh)"}"#
        )
    }

    static func server(_ answers: [HostileServer.Behavior]) throws -> HostileServer {
        let script = ScriptedAnswers(answers)
        return try HostileServer { _ in script.next() }
    }

    @Test(arguments: [
        ("500 Internal Server Error", "text/html"), ("502 Bad Gateway", "text/html"),
        ("503 Service Unavailable", nil), ("504 Gateway Timeout", "text/plain")
    ])
    func serverErrorOnRefreshIsOneRequestAndExit3(_ status: String, _ contentType: String?) throws {
        let server = try Self.server([
            HostileServer.response(status, contentType: contentType, body: contentType == nil ? "" : "upstream failed"),
            Self.success
        ])
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("answered HTTP \(status.prefix(3))"), "\(result.stderr)")
        #expect(
            result.stderr.contains("tokvault: hint: the identity provider failed after the request reached it"),
            "\(result.stderr)")
        #expect(
            result.stderr.contains("the refresh token is single-use and may have been used, so it was not sent again"),
            "\(result.stderr)")
        #expect(result.stderr.contains("`tokvault login adme`"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(server.requests.count == 1, "the refresh token was sent \(server.requests.count) times")
        #expect(server.requests.first?.bodyText.contains("refresh_token=" + Hostile.refreshToken) == true)
        Hostile.expectClean(
            result, secrets: [Hostile.clientSecret, Hostile.refreshToken, Self.newAccess, Self.newRefresh])
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before, "nothing stored")
    }

    @Test(arguments: [[("Retry-After", "0")], []])
    func tooManyRequestsThenSuccessIsTwoRequests(_ headers: [(String, String)]) throws {
        let server = try Self.server([
            HostileServer.response(
                "429 Too Many Requests", contentType: "application/json",
                body: #"{"error":"temporarily_unavailable"}"#, headers: headers),
            Self.success
        ])
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let result = e.run(["token", "adme"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == Self.newAccess + "\n")
        #expect(server.requests.count == 2)
        #expect(server.requests.allSatisfy { $0.bodyText.contains("refresh_token=" + Hostile.refreshToken) })
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, Self.newRefresh])
        // The rotated refresh token is the one sent next.
        let again = e.run(["refresh", "adme"])
        #expect(again.status == 0, "\(again)")
        #expect(server.requests.count == 3 && server.requests[2].bodyText.contains("refresh_token=" + Self.newRefresh))
    }

    @Test func tooManyRequestsEveryTimeIsExit3AfterThreeRequests() throws {
        let server = try HostileServer(
            always: HostileServer.response("429 Too Many Requests", contentType: nil, headers: [("Retry-After", "0")]))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("answered HTTP 429 with an empty body (3 attempts)"), "\(result.stderr)")
        #expect(
            result.stderr.contains("tokvault: hint: the identity provider is throttling requests; try again later"),
            "\(result.stderr)")
        #expect(server.requests.count == 3)
        Hostile.expectClean(result)
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    /// A 429 whose OAuth error would map to exit 1 is still "try again later".
    @Test func tooManyRequestsWithAnOAuthErrorIsExit3() throws {
        let server = try HostileServer(
            always: Hostile.json(
                "429 Too Many Requests", #"{"error":"invalid_request","error_description":"AADSTS50196: loop"}"#,
                headers: [("Retry-After", "0")]))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("invalid_request"), "\(result.stderr)")
        #expect(server.requests.count == 3)
    }

    @Test func clientCredentialsAreRetriedAfterABadGateway() throws {
        let server = try Self.server([
            HostileServer.response("502 Bad Gateway", contentType: "text/html", body: "<html>502</html>"),
            Hostile.json("200 OK", #"{"access_token":"\#(Self.newAccess)","token_type":"Bearer","expires_in":3600}"#)
        ])
        defer { server.stop() }
        let f = Fixture()
        let add = f.cli.run(
            [
                "add-app", "svc", "--tenant", Hostile.tenant, "--client-id", Hostile.clientID,
                "--authority-host", server.url, "--flow", "client-credentials", "--scope", "api://x/.default",
                "--secret-stdin", "--key-file", f.keyFile
            ], stdin: Hostile.clientSecret + "\n")
        #expect(add.status == 0, "\(add)")
        let result = f.cli.run(["token", "svc", "--key-file", f.keyFile])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == Self.newAccess + "\n")
        #expect(server.requests.count == 2)
        #expect(server.requests.allSatisfy { $0.bodyText.contains("grant_type=client_credentials") })
        Hostile.expectClean(result, secrets: [Hostile.clientSecret])
    }

    /// A connection refused is certainly before the request: retried for a refresh token too
    /// (at the library level, with more attempts, so that the server can start in between).
    @Test func refusedConnectionsAreRetriedForARefreshToken() async throws {
        // A port that refuses: bound, not listening.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let app = try FlowFixture.azureApp(
            tenant: Hostile.tenant, authorityHost: "http://127.0.0.1:\(port)", isPublic: true)
        var options = TokenClient.Options()
        // Attempts at 0, 0.25, 0.75, 1.75 and 3.75 s: the server listens from about 1.2 s on.
        options.maxAttempts = 5
        let client = TokenClient(options: options)
        // The server is started from a thread of its own: this process's async tasks can wait
        // long for a thread while other tests block theirs (a wall-clock bound is not checked
        // for the same reason).
        let started = ServerBox()
        Thread {
            usleep(1_200_000)
            close(holder)
            started.server = try? HostileServer(port: port) { _ in Self.success }
        }.start()
        let response = try await client.redeem(
            .refreshToken(secure(Hostile.refreshToken), scope: app.scope),
            app: app, credential: .none)
        // The answer can come before the thread has stored the server it just started.
        for _ in 0..<100 where started.server == nil { usleep(10_000) }
        let server = try #require(started.server)
        defer { server.stop() }
        #expect(plaintext(response.tokenSet.accessToken) == Self.newAccess)
        #expect(server.requests.count == 1, "one request reached the server")
    }

    /// Which errors count as "certainly not sent": only those of connecting, resolving and
    /// the TLS handshake; TLS errors after the handshake and every later failure count as sent.
    @Test func onlyErrorsBeforeTheRequestCountAsNotSent() {
        #expect(TokenClient.certainlyNotSent(IOError(errnoCode: ECONNREFUSED, reason: "connect")))
        #expect(TokenClient.certainlyNotSent(ChannelError.connectTimeout(.seconds(1))))
        #expect(TokenClient.certainlyNotSent(HTTPClientError.connectTimeout))
        #expect(TokenClient.certainlyNotSent(HTTPClientError.tlsHandshakeTimeout))
        #expect(TokenClient.certainlyNotSent(NIOSSLError.handshakeFailed(.sslError([]))))
        #expect(TokenClient.certainlyNotSent(NIOSSLExtraError.failedToValidateHostname))
        #expect(!TokenClient.certainlyNotSent(NIOSSLError.uncleanShutdown), "a TLS close after the head")
        #expect(!TokenClient.certainlyNotSent(BoringSSLError.sslError([])), "a TLS alert after the handshake")
        #expect(!TokenClient.certainlyNotSent(NIOSSLError.readInInvalidTLSState))
        #expect(!TokenClient.certainlyNotSent(IOError(errnoCode: ECONNRESET, reason: "read")))
        #expect(!TokenClient.certainlyNotSent(IOError(errnoCode: EPIPE, reason: "write")))
        #expect(!TokenClient.certainlyNotSent(HTTPClientError.readTimeout))
        #expect(!TokenClient.certainlyNotSent(HTTPClientError.remoteConnectionClosed))
        #expect(!TokenClient.certainlyNotSent(HTTPClientError.deadlineExceeded))
    }
}
