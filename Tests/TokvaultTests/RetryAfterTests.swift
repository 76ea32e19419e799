import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import Testing

@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// `Retry-After` (RFC 9110 §10.2.3) and the retry decision, as pure functions.
@Suite("retry decision")
struct RetryAfterTests {
    static let now: Int64 = 1_700_000_000  // Tue, 14 Nov 2023 22:13:20 GMT

    @Test func deltaSecondsAreReadExactly() {
        #expect(RetryAfter.seconds("0", now: Self.now) == 0)
        #expect(RetryAfter.seconds("7", now: Self.now) == 7)
        #expect(RetryAfter.seconds(" 120\t", now: Self.now) == 120)
        #expect(RetryAfter.seconds("007", now: Self.now) == 7)
        #expect(RetryAfter.seconds("9223372036854775807", now: Self.now) == Int64.max)
    }

    @Test(arguments: [
        "-1", "-0", "+5", "1.5", "1e3", "5 s", "", "  ", "99999999999999999999", "9223372036854775808",
        "garbage", "0x10", "\u{0}", "Wed, 21 Oct 2015 07:28:00 GMT", "Tue, 14 Nov 2023 22:13:20 GMT",
        "Tue, 14 Nov 2023 22:13:21 GMTx", "Tue, 32 Nov 2023 22:13:21 GMT", "Tue, 14 Nov 2023 25:13:21 GMT",
        "Tue, 14 Nov 2023 22:13:21 UTC", String(repeating: "9", count: 5000)
    ])
    func negativeUnparsableOverflowingOrPastValuesAreAbsent(_ value: String) {
        #expect(RetryAfter.seconds(value, now: Self.now) == nil, "\(value.debugDescription)")
    }

    @Test func httpDatesInTheFutureAreSecondsFromNow() {
        #expect(RetryAfter.seconds("Tue, 14 Nov 2023 22:13:30 GMT", now: Self.now) == 10)
        // The obsolete forms recipients must accept (RFC 9110 §5.6.7).
        #expect(RetryAfter.seconds("Tuesday, 14-Nov-23 22:13:30 GMT", now: Self.now) == 10)
        #expect(RetryAfter.seconds("Tue Nov 14 22:13:30 2023", now: Self.now) == 10)
        #expect(RetryAfter.seconds("Wed, 21 Oct 2065 07:28:00 GMT", now: Self.now) == 1_323_335_680)
    }

    static func decide(
        _ status: Int, grant: TokenClient.Grant = .refreshToken(SecureBytes(count: 1), scope: "s"), attempt: Int = 1,
        retryAfter: String? = nil
    ) -> RetryDecision {
        RetryPolicy.decide(
            status: status, singleUseGrant: grant.isSingleUse, attempt: attempt, retryAfter: retryAfter,
            now: Self.now, maxAttempts: 3, maxRetryAfter: 30)
    }

    static let code = TokenClient.Grant.authorizationCode(
        code: SecureBytes(count: 1), verifier: SecureBytes(count: 1), redirectURI: "x")
    static let client = TokenClient.Grant.clientCredentials(scope: "api://x/.default")
    static let device = TokenClient.Grant.deviceCode(SecureBytes(count: 1))

    @Test func singleUseGrantsStopAtAServerError() {
        for status in [500, 501, 502, 503, 504, 599] {
            #expect(Self.decide(status) == .stop(.mayHaveBeenUsed))
            #expect(Self.decide(status, grant: Self.code) == .stop(.mayHaveBeenUsed))
            #expect(Self.decide(status, grant: Self.client) == .retry(afterMilliseconds: 500))
            #expect(
                Self.decide(status, grant: Self.device, attempt: 2, retryAfter: "3") == .retry(afterMilliseconds: 3000))
            #expect(Self.decide(status, grant: Self.client, attempt: 3) == .stop(.attemptsExhausted))
        }
    }

    @Test func tooManyRequestsIsRetriedForEveryGrantWithinTheCap() {
        for grant in [
            TokenClient.Grant.refreshToken(SecureBytes(count: 1), scope: "s"), Self.code, Self.client, Self.device
        ] {
            #expect(Self.decide(429, grant: grant) == .retry(afterMilliseconds: 500))
            #expect(Self.decide(429, grant: grant, attempt: 2) == .retry(afterMilliseconds: 1000))
            #expect(Self.decide(429, grant: grant, retryAfter: "30") == .retry(afterMilliseconds: 30_000))
            #expect(Self.decide(429, grant: grant, retryAfter: "31") == .stop(.retryAfterTooLong(31)))
            #expect(
                Self.decide(429, grant: grant, retryAfter: "-1") == .retry(afterMilliseconds: 500),
                "absent: the back-off")
            #expect(Self.decide(429, grant: grant, attempt: 3, retryAfter: "1") == .stop(.attemptsExhausted))
        }
    }

    @Test func otherAnswersAreFinal() {
        for status in [200, 201, 301, 302, 400, 401, 403, 404, 408, 428, 430, 499, 600, 999, 0, -1] {
            #expect(Self.decide(status, grant: Self.client, retryAfter: "1") == .stop(.final), "\(status)")
        }
    }

    @Test func transportFailuresAreRetriedOnlyWhenNotSent() {
        #expect(
            RetryPolicy.decide(transportFailureNotSent: true, attempt: 1, maxAttempts: 3)
                == .retry(afterMilliseconds: 250))
        #expect(
            RetryPolicy.decide(transportFailureNotSent: true, attempt: 2, maxAttempts: 3)
                == .retry(afterMilliseconds: 500))
        #expect(
            RetryPolicy.decide(transportFailureNotSent: true, attempt: 3, maxAttempts: 3) == .stop(.attemptsExhausted))
        #expect(RetryPolicy.decide(transportFailureNotSent: false, attempt: 1, maxAttempts: 3) == .stop(.maybeSent))
        // The back-off stops growing (no shift past 64 bits, whatever maxAttempts is).
        #expect(
            RetryPolicy.decide(transportFailureNotSent: true, attempt: 500, maxAttempts: 1000)
                == .retry(afterMilliseconds: 250 << 8))
    }

    /// The answer's error for each stop: exit 3 for 429 and for a 5xx to a single-use grant.
    @Test func stoppedAnswersHaveTheDocumentedExitAndHint() throws {
        let app = try FlowFixture.azureApp()
        var options = TokenClient.Options()
        options.maxAttempts = 3
        func outcome(
            _ status: Int, _ grant: TokenClient.Grant, attempt: Int = 1, retryAfter: String? = nil,
            body: String = ""
        ) -> FlowError? {
            var headers = HTTPHeaders()
            if let retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
            if case .failure(let error as FlowError) = TokenClient.outcome(
                status: status, headers: headers, body: Data(body.utf8), grant: grant, attempt: attempt, app: app,
                endpoint: app.tokenEndpoint, passing: [], options: options, now: Self.now)
            {
                return error
            }
            return nil
        }
        let refresh = TokenClient.Grant.refreshToken(SecureBytes(count: 1), scope: "s")
        let used = try #require(outcome(502, refresh, body: #"{"error":"invalid_grant"}"#))
        #expect(used.exitCode == 3)
        #expect(used.shownHint?.contains("the refresh token is single-use and may have been used") == true, "\(used)")
        let code = try #require(outcome(503, Self.code))
        #expect(code.exitCode == 3)
        #expect(
            code.shownHint?.contains("the authorization code is single-use and may have been used") == true, "\(code)")
        let throttled = try #require(outcome(429, refresh, attempt: 3, body: #"{"error":"invalid_scope"}"#))
        #expect(throttled.exitCode == 3 && throttled.message.contains("(3 attempts)"), "\(throttled)")
        let tooLong = try #require(outcome(429, Self.client, retryAfter: "3600"))
        #expect(
            tooLong.exitCode == 3
                && tooLong.shownHint?.contains("it asked to wait 3600 s, longer than the 30 s tokvault waits") == true,
            "\(tooLong)")
        #expect(outcome(429, refresh, retryAfter: "-1") == nil, "retried")
    }

    /// docs/vault-format.md §6: a process waiting for an app's refresh lock waits at least as
    /// long as the holder's exchange can legitimately take.
    @Test func refreshLockWaitCoversTheLongestLegitimateHold() throws {
        let defaults = TokenClient.Options()
        // Every attempt to its deadline (connect 10 + read 30 + 5 s), and the 30 s Retry-After
        // cap before each of the two retries.
        let longestHold: Double = 3 * (10 + 30 + 5) + 2 * 30
        #expect(TokenService.refreshLockWait(for: defaults) >= longestHold)
        let f = Fixture()
        let vault = try Vault.open(path: f.cli.vaultPath)
        #expect(TokenService(vault: vault).lockTimeout >= longestHold, "the wait `token` uses")

        // The bound follows the options and the decision function's longest waits.
        for (connect, read, attempts, cap) in [(10, 30, 3, 30), (1, 1, 1, 0), (30, 120, 6, 90), (5, 5, 12, 1)] {
            var options = TokenClient.Options()
            options.connectTimeout = .seconds(Int64(connect))
            options.readTimeout = .seconds(Int64(read))
            options.maxAttempts = attempts
            options.maxRetryAfter = cap
            var hold = Double(attempts) * Double(connect + read + 5)
            for attempt in 1..<attempts {
                let waits = [
                    RetryPolicy.decide(
                        status: 429, singleUseGrant: false, attempt: attempt, retryAfter: String(cap),
                        now: Self.now, maxAttempts: attempts, maxRetryAfter: cap),
                    RetryPolicy.decide(
                        status: 503, singleUseGrant: false, attempt: attempt, retryAfter: nil,
                        now: Self.now, maxAttempts: attempts, maxRetryAfter: cap),
                    RetryPolicy.decide(transportFailureNotSent: true, attempt: attempt, maxAttempts: attempts)
                ]
                .map { decision -> Double in
                    if case .retry(let ms) = decision { return Double(ms) / 1000 }
                    return 0
                }
                hold += waits.max()!
            }
            #expect(TokenService.refreshLockWait(for: options) >= hold, "\(connect)/\(read)/\(attempts)/\(cap)")
        }
    }
}

/// Numbers from outside (headers, JSON, the vault file) never trap a command.
@Suite("hostile numbers")
struct HostileNumberTests {
    /// `Retry-After: -1` killed `token` with SIGILL (`UInt64(-1)`); none of these may crash.
    /// Each counts as absent: the default back-off, three requests, exit 3.
    @Test(arguments: [
        "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "garbage", "1.5", "-9223372036854775808"
    ])
    func hostileRetryAfterOnARefreshIsExit3(_ value: String) throws {
        let server = try HostileServer(
            always: HostileServer.response("429 Too Many Requests", contentType: nil, headers: [("Retry-After", value)])
        )
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(value): \(result)")
        #expect(result.stderr.contains("answered HTTP 429 with an empty body"), "\(result.stderr)")
        #expect(
            result.stderr.contains("tokvault: hint: the identity provider is throttling requests; try again later"),
            "\(result.stderr)")
        #expect(server.requests.count == 3, "\(value)")
        Hostile.expectClean(result)
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    /// A wait beyond the 30 s cap (a number or a date) is reported at once: one request.
    @Test(arguments: ["9999999999", "Wed, 21 Oct 2065 07:28:00 GMT"])
    func retryAfterBeyondTheCapIsOneRequest(_ value: String) throws {
        let server = try HostileServer(
            always: HostileServer.response("429 Too Many Requests", contentType: nil, headers: [("Retry-After", value)])
        )
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("longer than the 30 s tokvault waits"), "\(result.stderr)")
        #expect(server.requests.count == 1)
        Hostile.expectClean(result)
    }

    /// An ID token whose `exp` is near Int64.max trapped in `exp + 300`.
    @Test(arguments: [Int64.max, Int64.max - 299, Int64.min])
    func extremeExpiryInAnIDTokenIsNoTrap(_ exp: Int64) throws {
        let claims = try IDTokenClaims.decode(unsignedJWT(["aud": "c", "exp": NSNumber(value: exp)]))
        #expect(claims.exp == exp)
        let failure = claims.failure(clientID: "c", expectedIssuer: nil, nonce: nil, now: 1_700_000_000)
        #expect(exp > 0 ? failure == nil : failure == "it expired at \(exp)")
    }

    /// The same through `token`: a refresh answer with such an ID token is stored (exit 0).
    @Test func extremeExpiryInARefreshedIDTokenIsNoTrap() throws {
        let box = IssuerBox()
        let server = try HostileServer { _ in
            Hostile.json(
                "200 OK",
                #"{"access_token":"at-CANARY-exp","token_type":"Bearer","expires_in":3600,"id_token":"\#(unsignedJWT(["aud": Hostile.clientID, "iss": box.issuer, "exp": NSNumber(value: Int64.max)]))"}"#
            )
        }
        defer { server.stop() }
        box.issuer = "\(server.url)/\(Hostile.tenant)/v2.0"
        let e = Hostile.Endpoint(authorityHost: server.url)
        let result = e.run(["token", "adme"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "at-CANARY-exp\n")
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
    }

    /// Access token times come from the vault file, where anyone who can write it puts any
    /// number: `token` refreshes instead of trapping on `expires_at - now`.
    @Test(arguments: [(Int64.min, Int64(0)), (Int64.max, Int64.min), (Int64.min, Int64.max)])
    func extremeStoredExpiryIsNoTrap(_ expiresAt: Int64, _ obtainedAt: Int64) throws {
        let server = try HostileServer(
            always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-n1","token_type":"Bearer","expires_in":3600}"#))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        #expect(e.run(["token", "adme"]).status == 0)
        try DatabaseQueue(path: e.cli.vaultPath).write {
            try $0.execute(
                sql: "UPDATE access_token SET expires_at = ?, obtained_at = ?", arguments: [expiresAt, obtainedAt])
        }
        let result = e.run(["token", "adme"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "at-CANARY-n1\n")
        #expect(!result.stderr.contains("Fatal error"))
    }
}
