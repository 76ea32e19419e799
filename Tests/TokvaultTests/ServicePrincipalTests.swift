import Foundation
import Testing
import TokvaultFakeIdP

/// Client credentials (secret and certificate), certificate assertions on user grants, and
/// the device code flow, end to end: the built binary against the fake provider.
@Suite("service principals and device code")
struct ServicePrincipalTests {
    static func noSecrets(in results: [CLI.Result], _ secrets: [String]) {
        for result in results {
            for secret in secrets {
                #expect(
                    !result.stdout.contains(secret) && !result.stderr.contains(secret),
                    "a secret in the output of \(result)")
            }
        }
    }

    // MARK: - Client credentials

    @Test func clientCredentialsWithASecretThroughTokenExportExecAndLogin() throws {
        let s = try ProviderSetup(
            client: FakeClient(clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret))
        defer { s.idp.stop() }
        let add = s.addApp(["--flow", "client-credentials", "--secret-stdin"], stdin: ProviderSetup.clientSecret + "\n")
        #expect(add.status == 0, "\(add)")
        #expect(add.stdout.contains("scope \(ProviderSetup.clientID)/.default"))

        let token = s.cli.run(["token", "deploy"] + s.key)
        #expect(token.status == 0, "\(token)")
        let accessToken = token.stdout.trimmingCharacters(in: .newlines)
        let info = try #require(s.idp.accessTokenInfo(accessToken), "the printed token is one the provider issued")
        #expect(info.userOID == nil, "an app-only token")
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1)
        #expect(s.idp.stats.tokenLog.last?.clientAuth == .post)
        #expect(s.idp.stats.tokenLog.last?.scope == "\(ProviderSetup.clientID)/.default")

        // Cached: no second request while it is valid.
        #expect(s.cli.run(["token", "deploy"] + s.key).stdout == token.stdout)
        let exec = s.cli.run(["exec", "deploy"] + s.key + ["--", "/bin/sh", "-c", "printf %s \"$ACCESS_TOKEN\""])
        #expect(exec.status == 0 && exec.stdout == accessToken, "\(exec)")
        let export = s.cli.run(["export", "deploy", "--env"] + s.key)
        #expect(export.status == 0 && export.stdout.contains(accessToken), "\(export)")
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1)

        // refresh and login both get a new one; nothing asks for a user.
        let refresh = s.cli.run(["refresh", "deploy"] + s.key)
        #expect(refresh.status == 0, "\(refresh)")
        let login = s.cli.run(["login", "deploy"] + s.key)
        #expect(
            login.status == 0 && login.stdout.contains("as the app itself (client credentials, client secret)"),
            "\(login)")
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 3)
        #expect(s.idp.stats.tokenRequests["refresh_token"] == nil && s.idp.stats.authorizeLog.isEmpty)
        let device = s.cli.run(["login", "deploy", "--device"] + s.key)
        #expect(device.status == 64, "\(device)")

        // The curl script makes the same request.
        let curl = s.cli.run(["export", "deploy", "--curl", "--with-secrets"] + s.key)
        #expect(
            curl.status == 0 && curl.stdout.contains("grant_type=client_credentials")
                && !curl.stdout.contains("REFRESH_TOKEN"), "\(curl)")
        let script = s.file("cc.sh", curl.stdout)
        let ran = CLI.exec(["/bin/bash", script], environment: ["PATH": "/usr/bin:/bin"])
        #expect(ran.status == 0 && s.idp.accessTokenInfo(ran.stdout.trimmingCharacters(in: .newlines)) != nil, "\(ran)")

        Self.noSecrets(in: [add, token, exec, refresh, login, device], [ProviderSetup.clientSecret])
        #expect(
            filesContaining(ProviderSetup.clientSecret, under: s.f.dir.path) == [script],
            "the secret is only in the exported script")
        #expect(filesContaining(accessToken, under: s.f.dir.path).isEmpty)
    }

    @Test func clientCredentialsRefusesUserScopesAndPublicClients() throws {
        let s = try ProviderSetup(
            client: FakeClient(clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret))
        defer { s.idp.stop() }
        let user = s.addApp(
            ["--flow", "client-credentials", "--scope", "api://x/.default offline_access", "--secret-stdin"],
            stdin: ProviderSetup.clientSecret)
        #expect(user.status == 64 && user.stderr.contains("\"offline_access\" needs a signed-in user"), "\(user)")
        let notDefault = s.addApp(
            ["--flow", "client-credentials", "--scope", "User.Read", "--secret-stdin"],
            stdin: ProviderSetup.clientSecret)
        #expect(notDefault.status == 64 && notDefault.stderr.contains("RESOURCE/.default"), "\(notDefault)")
        let pub = s.addApp(["--flow", "client-credentials", "--public"])
        #expect(pub.status == 64, "\(pub)")
        #expect(s.cli.run(["list", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }

    @Test func eightProcessesAtExpiryMakeOneClientCredentialsRequest() throws {
        let s = try ProviderSetup(
            client: FakeClient(clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret))
        defer { s.idp.stop() }
        #expect(
            s.addApp(["--flow", "client-credentials", "--secret-stdin"], stdin: ProviderSetup.clientSecret).status == 0)
        s.idp.inject(.slow(milliseconds: 400))
        let all = runConcurrently(8) { _ in s.cli.run(["token", "deploy"] + s.key) }
        #expect(all.allSatisfy { $0.status == 0 }, "\(all.filter { $0.status != 0 })")
        #expect(Set(all.map(\.stdout)).count == 1, "every process printed the one new token")
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1)
    }

    // MARK: - Certificates

    @Test func certificateCredentialSignsPS256AndRS256AssertionsAndNeverStoresTheKeyInTheClear() throws {
        let certificate = TestCertificate.shared
        let s = try ProviderSetup(
            client: FakeClient(clientID: ProviderSetup.clientID, certificatePEMs: [certificate.certificatePEM]))
        defer { s.idp.stop() }
        let certFile = s.file("cert.pem", certificate.certificatePEM)
        let keyFile = s.file("key.pem", certificate.privateKeyPKCS1PEM)
        let add = s.addApp(["--flow", "client-credentials", "--certificate", certFile, "--private-key-file", keyFile])
        #expect(add.status == 0, "\(add)")
        unlink(keyFile)

        let token = s.cli.run(["token", "deploy"] + s.key)
        #expect(token.status == 0, "\(token)")
        #expect(s.idp.accessTokenInfo(token.stdout.trimmingCharacters(in: .newlines)) != nil)
        #expect(s.idp.stats.assertionsAccepted == 1)
        #expect(s.idp.stats.tokenLog.last?.clientAuth == .assertion)
        #expect(s.idp.stats.lastAssertionHeader["alg"] == "PS256")
        #expect(s.idp.stats.lastAssertionHeader["x5t#S256"] == certificate.sha256Thumbprint)

        let show = s.cli.run(["show", "deploy"])
        #expect(show.stdout.contains("certificate (key sealed)") && show.stdout.contains("CN=tokvault-test"), "\(show)")
        #expect(show.stdout.contains("PS256 (x5t#S256 header)"))

        let set = s.cli.run(["set", "deploy", "--assertion-alg", "rs256"] + s.key)
        #expect(set.status == 0, "\(set)")
        let refresh = s.cli.run(["refresh", "deploy"] + s.key)
        #expect(refresh.status == 0, "\(refresh)")
        #expect(s.idp.stats.lastAssertionHeader["alg"] == "RS256")
        #expect(s.idp.stats.lastAssertionHeader["x5t"] == certificate.sha1Thumbprint)
        #expect(s.idp.stats.assertionsAccepted == 2 && s.idp.stats.assertionsRejected.isEmpty)

        // The key: sealed in the vault, in no output, in no file (the vault and its WAL included).
        let canary = TestCertificate.keyCanary(certificate.privateKeyPKCS1PEM)
        let pkcs8Canary = TestCertificate.keyCanary(certificate.privateKeyPEM)
        #expect(filesContaining(canary, under: s.f.dir.path).isEmpty)
        #expect(filesContaining(pkcs8Canary, under: s.f.dir.path).isEmpty)
        Self.noSecrets(in: [add, token, show, set, refresh], [canary, pkcs8Canary])
        let curl = s.cli.run(["export", "deploy", "--curl"] + s.key)
        #expect(curl.status == 64 && curl.stderr.contains("cannot sign its client assertion"), "\(curl)")
    }

    @Test func userSignInAndRefreshAuthenticateWithTheCertificate() throws {
        let certificate = TestCertificate.shared
        let s = try ProviderSetup(
            client: FakeClient(
                clientID: ProviderSetup.clientID, redirectURIs: ["http://localhost/callback"],
                certificatePEMs: [certificate.certificatePEM]))
        defer { s.idp.stop() }
        let both = s.file("both.pem", certificate.certificatePEM + certificate.privateKeyPEM)
        let add = s.addApp(["--certificate", both])
        #expect(add.status == 0, "\(add)")
        let login = s.cli.run(
            ["login", "deploy", "--port", "0"] + s.key,
            env: ["BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": "normal"])
        #expect(login.status == 0 && login.stdout.contains("refresh token: stored"), "\(login)")
        #expect(s.cli.run(["refresh", "deploy"] + s.key).status == 0)
        let log = s.idp.stats.tokenLog
        #expect(log.map(\.grantType) == ["authorization_code", "refresh_token"])
        #expect(log.allSatisfy { $0.clientAuth == .assertion && $0.status == 200 })
        #expect(s.idp.stats.assertionsAccepted == 2)
    }

    @Test func refusedAssertionsAreReportedWithTheProvidersCodeAndAHint() throws {
        let registered = TestCertificate.shared
        let other = try TestCertificate.make(commonName: "not-registered")
        let expired = try TestCertificate.make(
            key: registered.privateKey(), commonName: "expired",
            notValidBefore: Date() - 86400 * 60, notValidAfter: Date() - 86400)
        let s = try ProviderSetup(
            client: FakeClient(
                clientID: ProviderSetup.clientID,
                certificatePEMs: [registered.certificatePEM, expired.certificatePEM]))
        defer { s.idp.stop() }
        func add(_ name: String, _ certificate: TestCertificate, host: String? = nil) -> CLI.Result {
            s.addApp(
                [
                    "--flow", "client-credentials", "--certificate", s.file("\(name).pem", certificate.certificatePEM),
                    "--private-key-file", s.file("\(name)-key.pem", certificate.privateKeyPEM)
                ], name: name, host: host)
        }
        // Another key than the registered certificate's.
        #expect(add("wrongkey", other).status == 0)
        let wrongKey = s.cli.run(["token", "wrongkey"] + s.key)
        #expect(
            wrongKey.status == 1 && wrongKey.stderr.contains("AADSTS700027")
                && wrongKey.stderr.contains("not registered"), "\(wrongKey)")
        #expect(wrongKey.stderr.contains("Certificates & secrets"))
        #expect(wrongKey.stdout.isEmpty)
        // An expired certificate: add-app warns, the provider refuses.
        let addExpired = add("expired", expired)
        #expect(addExpired.status == 0 && addExpired.stderr.contains("expired on"), "\(addExpired)")
        let expiredToken = s.cli.run(["token", "expired"] + s.key)
        #expect(expiredToken.status == 1 && expiredToken.stderr.contains("The key used is expired"), "\(expiredToken)")
        let doctor = s.cli.run(["doctor"])
        #expect(doctor.status == 1 && doctor.stdout.contains("certificate expired"), "\(doctor)")
        // The wrong audience: the assertion names http://localhost:PORT, the provider is 127.0.0.1.
        let localhost = s.idp.baseURL.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        #expect(add("wrongaud", registered, host: localhost).status == 0)
        let wrongAud = s.cli.run(["token", "wrongaud"] + s.key)
        #expect(
            wrongAud.status == 1 && wrongAud.stderr.contains("AADSTS700023")
                && wrongAud.stderr.contains("another audience"), "\(wrongAud)")
        #expect(s.idp.stats.assertionsRejected["unknown_key"] == 1)
        #expect(s.idp.stats.assertionsRejected["expired_key"] == 1)
        #expect(s.idp.stats.assertionsRejected["audience"] == 1)
        #expect(s.idp.stats.assertionsAccepted == 0)
    }

    @Test func aKeyThatIsNotTheCertificatesIsRefusedAtAddApp() throws {
        let s = try ProviderSetup(
            client: FakeClient(clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret))
        defer { s.idp.stop() }
        let other = try TestCertificate.make(commonName: "other")
        let add = s.addApp(
            [
                "--certificate", s.file("c.pem", TestCertificate.shared.certificatePEM),
                "--private-key-stdin"
            ], stdin: other.privateKeyPEM)
        #expect(add.status == 64 && add.stderr.contains("does not belong to the certificate"), "\(add)")
        #expect(!add.stderr.contains(TestCertificate.keyCanary(other.privateKeyPEM)))
        let noKey = s.addApp(["--certificate", s.file("c2.pem", TestCertificate.shared.certificatePEM)])
        #expect(noKey.status == 64 && noKey.stderr.contains("--private-key-file"), "\(noKey)")
        #expect(s.cli.run(["list", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }

    // MARK: - Device code

    @Test func deviceCodeApprovedStoresTokensThatRefresh() throws {
        let s = try ProviderSetup.device(.approveAfterPolls(2))
        defer { s.idp.stop() }
        #expect(s.addApp(["--public"]).status == 0)
        let login = s.cli.run(["login", "deploy", "--device"] + s.key)
        #expect(login.status == 0, "\(login)")
        #expect(login.stdout.contains("Logged in to deploy as alice@contoso.example"))
        #expect(login.stdout.contains("refresh token: stored"))
        #expect(
            login.stderr.contains("\(s.idp.baseURL)/_fake/device") && login.stderr.contains("and enter the code"),
            "\(login)")
        let stats = s.idp.stats
        #expect(stats.deviceAuthorizations == 1 && stats.devicePolls == 3 && stats.deviceSlowDowns == 0)
        #expect(stats.authorizeLog.isEmpty, "no browser redirect")
        #expect(s.cli.run(["refresh", "deploy"] + s.key).status == 0)
        #expect(s.idp.stats.refreshRotations == 1)
    }

    @Test func deviceCodeDeclinedExpiredAndSlowedDown() throws {
        let declined = try ProviderSetup.device(.declineAfterPolls(1))
        defer { declined.idp.stop() }
        #expect(declined.addApp(["--public"]).status == 0)
        let no = declined.cli.run(["login", "deploy", "--device"] + declined.key)
        #expect(no.status == 1 && no.stderr.contains("declined") && no.stderr.contains("--device"), "\(no)")

        let expired = try ProviderSetup.device(.never, lifetime: 3)
        defer { expired.idp.stop() }
        #expect(expired.addApp(["--public"]).status == 0)
        let late = expired.cli.run(["login", "deploy", "--device"] + expired.key)
        #expect(late.status == 1 && late.stderr.contains("expired before the sign-in was completed"), "\(late)")

        let slowed = try ProviderSetup.device(.approveAfterPolls(0), slowDownPolls: 1)
        defer { slowed.idp.stop() }
        #expect(slowed.addApp(["--public"]).status == 0)
        let start = Date()
        let slow = slowed.cli.run(["login", "deploy", "--device"] + slowed.key)
        #expect(slow.status == 0, "\(slow)")
        #expect(slow.stderr.contains("poll more slowly: every 6 s"), "\(slow)")
        #expect(Date().timeIntervalSince(start) >= 6, "the next poll waited the longer interval")
        #expect(slowed.idp.stats.deviceSlowDowns == 1)
        for result in [no, late, slow] { #expect(!result.stderr.contains("device_code=")) }
    }

    @Test func deviceCodeForAConfidentialRegistrationWithoutPublicFlows() throws {
        // The registration has a secret; the vault's app does not send it: Azure's AADSTS7000218.
        let s = try ProviderSetup.device(.approveAfterPolls(0), clientSecret: ProviderSetup.clientSecret)
        defer { s.idp.stop() }
        #expect(s.addApp(["--public"]).status == 0)
        let refused = s.cli.run(["login", "deploy", "--device"] + s.key)
        #expect(refused.status == 1 && refused.stderr.contains("AADSTS7000218"), "\(refused)")
        #expect(refused.stderr.contains("Allow public client flows"))
        // With the secret stored, the poll authenticates and succeeds.
        #expect(s.cli.run(["set", "deploy", "--secret-stdin"] + s.key, stdin: ProviderSetup.clientSecret).status == 0)
        let ok = s.cli.run(["login", "deploy", "--device"] + s.key)
        #expect(ok.status == 0, "\(ok)")
        #expect(s.idp.stats.tokenLog.last?.clientAuth == .post)
    }

    @Test func ctrlCStopsADeviceLoginCleanly() throws {
        let s = try ProviderSetup.device(.manual)
        defer { s.idp.stop() }
        #expect(s.addApp(["--public"]).status == 0)
        let run = CLI.exec(
            ["/usr/bin/timeout", "--preserve-status", "-s", "INT", "3", CLI.binary, "login", "deploy", "--device"]
                + s.key,
            environment: s.cli.environment, cwd: s.f.dir.path)
        #expect(run.status == 130, "\(run)")
        #expect(run.stderr.contains("login cancelled"))
        let show = s.cli.run(["show", "deploy", "--json"])
        let view = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        #expect(view["has_refresh_token"] as? Bool == false, "nothing was stored")
    }
}
