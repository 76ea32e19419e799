import Foundation
import Testing
import TokvaultFakeIdP

@testable import TokvaultVault

/// `login`, `token`, `refresh`, `logout` end to end: the built binary, the fake identity
/// provider in this process, and a scripted browser as $BROWSER.
@Suite("login and tokens")
struct LoginTests {
    @Test(arguments: ["query", "form_post"])
    func loginThenTokenAndRefresh(_ mode: String) throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let login = s.login(mode == "form_post" ? ["--form-post"] : [])
        #expect(login.status == 0, "\(login)")
        #expect(login.stdout.contains("Logged in to adme as alice@contoso.example"))
        #expect(login.stdout.contains("refresh token: stored"))
        let stats = s.idp.stats
        #expect(stats.tokenRequests["authorization_code"] == 1)
        #expect(stats.tokenLog.first?.clientAuth == .post)
        #expect(stats.authorizeLog.first?.codeChallengeMethod == "S256")
        #expect(stats.authorizeLog.first?.nonce != nil)
        #expect(stats.authorizeLog.first?.responseMode == mode)

        let token = s.token()
        #expect(token.status == 0, "\(token)")
        let accessToken = token.stdout.trimmingCharacters(in: .newlines)
        #expect(s.idp.accessTokenInfo(accessToken) != nil, "the printed token is one the provider issued")
        #expect(token.stdout == accessToken + "\n", "only the token is printed")
        #expect(s.idp.stats.tokenRequests["refresh_token"] == nil, "a valid cached token needs no request")

        let refresh = s.cli.run(["refresh", "adme", "--key-file", s.f.keyFile])
        #expect(refresh.status == 0, "\(refresh)")
        #expect(s.idp.stats.refreshRotations == 1)
        #expect(s.idp.stats.tokenLog.last?.scopeSent == true, "Azure needs the scope on refresh")
        let second = s.token().stdout.trimmingCharacters(in: .newlines)
        #expect(second != accessToken)
        #expect(s.idp.accessTokenInfo(second) != nil)

        let show = s.cli.run(["show", "adme"])
        let lines = show.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("signed in as") && $0.hasSuffix("alice@contoso.example") }, "\(show)")
        #expect(lines.contains { $0.hasPrefix("refresh token") && $0.hasSuffix("present") }, "\(show)")
        let logout = s.cli.run(["logout", "adme"])
        #expect(logout.status == 0)
        let after = s.token()
        #expect(after.status == 2, "\(after)")
        #expect(after.stderr.contains("tokvault login adme"))
        // Nothing secret in any output, and only ciphertext on disk.
        for output in [login, token, refresh, show, logout, after] {
            #expect(!output.stderr.contains(accessToken) && !output.stderr.contains(LoginSetup.clientSecret))
        }
        #expect(filesContaining(accessToken, under: s.f.dir.path).isEmpty)
        #expect(filesContaining(LoginSetup.clientSecret, under: s.f.dir.path).isEmpty)
    }

    @Test func expiredTokenIsRefreshedAndTheRefreshTokenRotates() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        try s.expireCachedToken()
        let first = s.token()
        #expect(first.status == 0, "\(first)")
        #expect(s.idp.stats.refreshRotations == 1)
        try s.expireCachedToken()
        let second = s.token()
        #expect(second.status == 0)
        #expect(s.idp.stats.refreshRotations == 2, "each refresh presented the newest refresh token")
        #expect(s.idp.stats.reuseDetections == 0)
        let cached = s.token(["--min-valid", "60"])
        #expect(cached.stdout == second.stdout, "a token valid long enough is reused")
        #expect(s.idp.stats.refreshRotations == 2)
    }

    @Test func reusedRefreshTokenMeansLoginRequired() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let backup = s.f.dir.file("before.db")
        #expect(s.cli.run(["backup", backup]).status == 0)
        #expect(s.cli.run(["refresh", "adme", "--key-file", s.f.keyFile]).status == 0)
        // Put the already-used refresh token back, as a stale copy of the vault would.
        #expect(s.cli.run(["restore", backup, "--yes", "--key-file", s.f.keyFile]).status == 0)
        let reuse = s.cli.run(["refresh", "adme", "--key-file", s.f.keyFile])
        #expect(reuse.status == 2, "\(reuse)")
        #expect(reuse.stderr.contains("login required"))
        #expect(reuse.stderr.contains("tokvault login adme"))
        #expect(s.idp.stats.reuseDetections == 1)
    }

    @Test func concurrentTokenCallsAtExpiryMakeOneRefresh() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        try s.expireCachedToken()
        let before = s.idp.stats.refreshRotations
        let results = runConcurrently(32) { _ in s.token() }
        #expect(results.count == 32)
        #expect(
            results.allSatisfy { $0.status == 0 },
            "\(results.filter { $0.status != 0 }.first.map(String.init(describing:)) ?? "")")
        #expect(Set(results.map(\.stdout)).count == 1, "all 32 got the same token")
        #expect(s.idp.stats.refreshRotations - before == 1, "exactly one refresh request")
        #expect(!results.contains { $0.stderr.contains("locked") })
    }

    @Test func wrongOrMissingStateIsNeverRedeemed() throws {
        for mode in ["wrong-state", "no-state"] {
            let s = try LoginSetup()
            defer { s.idp.stop() }
            let login = s.login(["--timeout", "10"], mode: mode)
            #expect(login.status == 1, "\(mode): \(login)")
            #expect(login.stderr.contains("ignored a redirect"), "\(mode): \(login.stderr)")
            #expect(login.stderr.contains("no sign-in response arrived within 10 s"))
            #expect(s.idp.stats.tokenRequests["authorization_code"] == nil, "\(mode): the code was never redeemed")
        }
    }

    @Test func errorRedirectEndsTheLogin() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        s.idp.denyNextAuthorization(
            error: "access_denied", description: "AADSTS65004: User declined to consent to access the app.")
        let login = s.login()
        #expect(login.status == 1, "\(login)")
        #expect(login.stderr.contains("the sign-in failed: access_denied"))
        #expect(login.stderr.contains("AADSTS65004"))
        #expect(login.stderr.contains("tokvault: hint:"))
    }

    @Test func busyPortIsNamed() throws {
        // The provider's own port is taken: use it as the redirect port.
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let busy = s.cli.run(
            ["login", "adme", "--key-file", s.f.keyFile, "--port", String(s.idp.port)],
            env: ["BROWSER": LoginSetup.browser])
        #expect(busy.status == 1, "\(busy)")
        #expect(busy.stderr.contains("port \(s.idp.port)"))
        #expect(busy.stderr.contains("--manual"))
    }

    @Test func providerFaultsGiveOneClearMessageAndExitCode() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let cases: [(FakeFault, Int, Int32, String)] = [
            (.emptyBody400, 1, 1, "empty body"),
            (.html502, 3, 3, "may have been used"),
            (.connectionReset, 1, 3, "it was not sent again"),
            (
                .oauthError(
                    status: 401, error: "invalid_client", aadsts: 7_000_215,
                    description: "AADSTS7000215: Invalid client secret provided."), 1, 1, "--secret-prompt"
            ),
            (
                .oauthError(
                    status: 400, error: "invalid_grant", aadsts: 50173,
                    description: "AADSTS50173: The provided grant has expired."), 1, 2, "tokvault login adme"
            )
        ]
        for (fault, times, status, needle) in cases {
            s.idp.clearFaults()
            s.idp.inject(fault, times: times)
            let before = s.idp.stats.tokenRequests["refresh_token"] ?? 0
            try s.expireCachedToken()
            let result = s.token()
            #expect(result.status == status, "\(fault): \(result)")
            #expect(result.stderr.hasPrefix("tokvault: error: "), "\(fault): \(result.stderr)")
            #expect(result.stderr.contains(needle), "\(fault): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(fault): no token printed")
            let sent = (s.idp.stats.tokenRequests["refresh_token"] ?? 0) - before
            if case .connectionReset = fault { #expect(sent == 1, "never resent after the body may have arrived") }
            if case .html502 = fault { #expect(sent == 1, "a 5xx to a refresh token is never resent") }
        }
        // 429 with a short Retry-After is waited out, then the refresh succeeds.
        s.idp.clearFaults()
        s.idp.inject(.tooManyRequests(retryAfter: 1), times: 1)
        try s.expireCachedToken()
        let throttled = s.token()
        #expect(throttled.status == 0, "\(throttled)")
    }

    @Test func issuerDiscoveryResolvesEndpointsAndChecksTheIssuer() throws {
        let f = Fixture()
        let idp = FakeIdentityProvider(
            FakeIdPConfiguration(clients: [
                FakeClient(
                    clientID: LoginSetup.clientID, clientSecret: LoginSetup.clientSecret,
                    redirectURIs: ["http://localhost/callback"])
            ]))
        _ = try idp.start()
        defer { idp.stop() }
        let issuer = "\(idp.baseURL)/\(idp.configuration.tenant)/v2.0"
        let add = f.cli.run(
            [
                "add-app", "oidc", "--issuer", issuer, "--client-id", LoginSetup.clientID,
                "--redirect-uri", "http://localhost:0/callback", "--secret-stdin", "--key-file", f.keyFile
            ],
            stdin: LoginSetup.clientSecret + "\n")
        #expect(add.status == 0, "\(add)")
        let show = try #require(
            try JSONSerialization.jsonObject(with: Data(f.cli.run(["show", "oidc", "--json"]).stdout.utf8))
                as? [String: Any])
        #expect(show["token_endpoint"] as? String == idp.tokenEndpoint)
        #expect(show["issuer"] as? String == issuer)
        #expect(show["scope"] as? String == "openid offline_access")
        let login = f.cli.run(
            ["login", "oidc", "--key-file", f.keyFile, "--port", "0"], env: ["BROWSER": LoginSetup.browser])
        #expect(login.status == 0, "\(login)")
        #expect(idp.stats.tokenLog.last?.clientAuth == .basic || idp.stats.tokenLog.last?.clientAuth == .post)

        // A document that names another issuer is refused; so is a URL that is not an issuer.
        let wrong = f.cli.run(["add-app", "evil", "--issuer", issuer + "/", "--client-id", "c", "--public"])
        #expect(wrong.status == 1, "\(wrong)")
        let missing = f.cli.run([
            "add-app", "none", "--issuer", idp.baseURL + "/nowhere", "--client-id", "c", "--public"
        ])
        #expect(missing.status == 1, "\(missing)")
        #expect(missing.stderr.contains("HTTP 404"))
        let closed = f.cli.run(["add-app", "down", "--issuer", "http://127.0.0.1:9/x", "--client-id", "c", "--public"])
        #expect(closed.status == 3, "\(closed)")
    }

    @Test func expiredCodeSaysLoginAgain() throws {
        let s = try LoginSetup(codeLifetime: 0)
        defer { s.idp.stop() }
        let login = s.login()
        #expect(login.status == 1, "\(login)")
        #expect(login.stderr.contains("invalid_grant"), "\(login.stderr)")
        #expect(login.stderr.contains("tokvault login adme"), "\(login.stderr)")
        #expect(s.token().status == 2, "nothing was stored")
    }

    @Test func publicClientSendsNoSecret() throws {
        let s = try LoginSetup(publicClient: true)
        defer { s.idp.stop() }
        let login = s.login()
        #expect(login.status == 0, "\(login)")
        #expect(s.idp.stats.tokenLog.allSatisfy { $0.clientAuth == .none })
        try s.expireCachedToken()
        #expect(s.token().status == 0)
        #expect(s.idp.stats.tokenLog.allSatisfy { $0.clientAuth == .none })
    }
}

/// The browser tokvault starts cannot read the key `tokvault unlock` left in the caller's
/// session keyring; `login` itself unlocks with it.
@Suite("login and the session keyring", .enabled(if: TestKeyring.available, "the kernel refuses keyring calls here"))
struct LoginKeyringTests {
    @Test func theBrowserCannotSeeTheKeyUnlockLeft() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let description = try Vault.open(path: s.cli.vaultPath).sessionKeyDescription()
        // A browser that notes what it can see of the keyrings, then signs in as usual.
        let seen = s.f.dir.file("keys-seen")
        let browser = s.f.dir.write(
            "browser.sh", "#!/bin/sh\ncat /proc/keys > '\(seen)'\nexec '\(LoginSetup.browser)' \"$@\"\n", mode: 0o700)
        let steps = KeyringSession(s.cli).run(
            [
                .tokvault(["unlock", "--key-file", s.f.keyFile, "--for", "60"]),
                .shell("cat /proc/keys"),
                .tokvault(["login", "adme", "--port", "0"]),
                .tokvault(["lock"])
            ], env: ["BROWSER": browser, "SCRIPTED_BROWSER_MODE": "normal"])
        #expect(steps.allSatisfy { $0.status == 0 }, "\(steps)")
        #expect(steps[1].stdout.contains(description), "\(steps[1])")
        let keys = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(!keys.isEmpty)
        #expect(!keys.contains(description), "the browser saw the caller's session key")
    }
}
