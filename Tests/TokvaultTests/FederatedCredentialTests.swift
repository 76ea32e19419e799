import Foundation
import GRDB
import Testing
import TokvaultFakeIdP

/// Federated client credentials end to end: a Kubernetes-style token file and GitHub Actions'
/// OIDC token exchanged at the fake provider, with no secret stored or sent.
@Suite("federated credentials")
struct FederatedCredentialTests {
    static let issuer = "https://oidc.prod-aks.azure.com/00000000-0000-0000-0000-0000000000aa/"
    static let subject = "system:serviceaccount:deploy:runner"
    static let rotated = "system:serviceaccount:deploy:runner-2"
    static let github = "https://token.actions.githubusercontent.com"
    static let githubSubject = "repo:contoso/deploy:ref:refs/heads/main"
    static let requestToken = "gh-request-token-CANARY-31c"

    static func setup() throws -> ProviderSetup {
        try ProviderSetup(
            client: FakeClient(
                clientID: ProviderSetup.clientID,
                federatedCredentials: [
                    FakeFederatedCredential(issuer: issuer, subject: subject),
                    FakeFederatedCredential(issuer: issuer, subject: rotated),
                    FakeFederatedCredential(issuer: github, subject: githubSubject)
                ])
        ) { $0.githubActions = FakeGitHubActions(requestToken: requestToken) }
    }

    /// A projected token the way the kubelet lays it out: `token` -> `..data/token`, and
    /// `..data` -> a timestamped directory that a rotation replaces.
    static func project(_ token: String, in dir: String, generation: Int) throws -> String {
        let fm = FileManager.default
        let versioned = dir + "/..2026_12_04_0\(generation)"
        try fm.createDirectory(atPath: versioned, withIntermediateDirectories: true)
        try token.write(toFile: versioned + "/token", atomically: true, encoding: .utf8)
        chmod(versioned + "/token", 0o644)
        let data = dir + "/..data"
        let temporary = dir + "/..data_tmp"
        try? fm.removeItem(atPath: temporary)
        try fm.createSymbolicLink(
            atPath: temporary, withDestinationPath: URL(fileURLWithPath: versioned).lastPathComponent)
        #expect(rename(temporary, data) == 0)
        if (try? fm.destinationOfSymbolicLink(atPath: dir + "/token")) == nil {
            try fm.createSymbolicLink(atPath: dir + "/token", withDestinationPath: "..data/token")
        }
        return dir + "/token"
    }

    static func column(_ s: ProviderSetup, _ sql: String) throws -> String? {
        try DatabaseQueue(path: s.cli.vaultPath).read { try String.fetchOne($0, sql: sql) }
    }

    @Test func aTokenFileGetsTokensWithNoSecretAndARotationIsPickedUp() throws {
        let s = try Self.setup()
        defer { s.idp.stop() }
        let dir = s.f.dir.path + "/projected"
        let first = s.idp.mintFederatedToken(
            issuer: Self.issuer, subject: Self.subject, audience: "api://AzureADTokenExchange")
        let path = try Self.project(first, in: dir, generation: 1)
        let add = s.addApp(["--federated-token-file", path])
        #expect(add.status == 0, "\(add)")
        #expect(add.stdout.contains("federated credential: token file \(path), no secret stored"), "\(add)")
        #expect(try Self.column(s, "SELECT federated_token_file FROM app") == path, "stored as given, not resolved")
        #expect(
            try Self.column(s, "SELECT flow || ' ' || client_auth FROM app") == "client_credentials federated_assertion"
        )
        #expect(try Self.column(s, "SELECT typeof(client_secret) FROM app") == "null")

        let token = s.cli.run(["token", "deploy"] + s.key)
        #expect(token.status == 0, "\(token)")
        #expect(s.idp.accessTokenInfo(token.stdout.trimmingCharacters(in: .newlines)) != nil)
        #expect(s.idp.stats.federatedGrants == 1 && s.idp.stats.lastFederatedSubject == Self.subject)
        let sent = try #require(s.idp.stats.tokenLog.last)
        #expect(
            sent.grantType == "client_credentials" && sent.clientAuth != .post && sent.clientAuth != .basic, "\(sent)")

        // The kubelet swaps ..data: the next grant reads the new token through the same path.
        let second = s.idp.mintFederatedToken(
            issuer: Self.issuer, subject: Self.rotated, audience: "api://AzureADTokenExchange")
        _ = try Self.project(second, in: dir, generation: 2)
        let refresh = s.cli.run(["refresh", "deploy"] + s.key)
        #expect(refresh.status == 0, "\(refresh)")
        #expect(s.idp.stats.federatedGrants == 2 && s.idp.stats.lastFederatedSubject == Self.rotated)
        let login = s.cli.run(["login", "deploy"] + s.key)
        #expect(
            login.status == 0 && login.stdout.contains("as the app itself (client credentials, federated credential)"),
            "\(login)")
        #expect(s.idp.stats.federatedGrants == 3)

        let show = s.cli.run(["show", "deploy"])
        #expect(
            show.stdout.contains("federated (token file, no secret stored)") && show.stdout.contains(path), "\(show)")
        let json = s.cli.run(["show", "deploy", "--json"])
        #expect(json.stdout.contains(#""source" : "file""#) || json.stdout.contains(#""source":"file""#), "\(json)")
        // azure-identity's WorkloadIdentityCredential reads these four.
        let env = s.cli.run(["export", "deploy", "--env", "--workload-identity"] + s.key)
        #expect(env.status == 0, "\(env)")
        #expect(
            env.stdout.contains("AZURE_FEDERATED_TOKEN_FILE=\(path)")
                || env.stdout.contains("AZURE_FEDERATED_TOKEN_FILE='\(path)'"), "\(env)")
        #expect(env.stdout.contains("AZURE_CLIENT_ID=") && env.stdout.contains("AZURE_TENANT_ID="), "\(env)")
        #expect(!env.stdout.contains("ACCESS_TOKEN"), "\(env)")
        for result in [add, token, refresh, show, json, env] {
            #expect(
                !(result.stdout + result.stderr).contains(first) && !(result.stdout + result.stderr).contains(second))
        }
        #expect(
            filesContaining(first, under: s.f.dir.path).allSatisfy { $0.hasPrefix(dir) }, "the assertion is not stored")
    }

    @Test func aRefusedOrUnusableAssertionSaysWhy() throws {
        let s = try Self.setup()
        defer { s.idp.stop() }
        let file = s.f.dir.path + "/token"
        let wrong = s.idp.mintFederatedToken(
            issuer: Self.issuer, subject: "system:serviceaccount:other:sa", audience: "api://AzureADTokenExchange")
        try wrong.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(s.addApp(["--flow", "client-credentials", "--federated-token-file", file]).status == 0)
        let mismatch = s.cli.run(["token", "deploy"] + s.key)
        #expect(mismatch.status == 1, "\(mismatch)")
        #expect(mismatch.stderr.contains("AADSTS70021"), "\(mismatch)")
        #expect(
            mismatch.stderr.contains(
                "the assertion presented issuer '\(Self.issuer)', subject 'system:serviceaccount:other:sa', audience 'api://AzureADTokenExchange' (unverified)"
            ),
            "\(mismatch)")
        #expect(!mismatch.stderr.contains(wrong))

        let expired = s.idp.mintFederatedToken(
            issuer: Self.issuer, subject: Self.subject, audience: "api://AzureADTokenExchange", lifetime: -120)
        try expired.write(toFile: file, atomically: true, encoding: .utf8)
        let late = s.cli.run(["token", "deploy"] + s.key)
        #expect(late.status == 1 && late.stderr.contains("AADSTS700024"), "\(late)")
        #expect(late.stderr.contains("the platform should have replaced \(file)"), "\(late)")

        let grants = s.idp.stats.tokenRequests["client_credentials"] ?? 0
        for (content, words) in [("", "is empty"), ("\n \n", "is empty"), ("not-a-jwt", "does not hold a JWT")] {
            try content.write(toFile: file, atomically: true, encoding: .utf8)
            let bad = s.cli.run(["token", "deploy"] + s.key)
            #expect(bad.status == 1 && bad.stderr.contains("the federated token file \(file) \(words)"), "\(bad)")
        }
        try FileManager.default.removeItem(atPath: file)
        let missing = s.cli.run(["token", "deploy"] + s.key)
        #expect(
            missing.status == 1 && missing.stderr.contains("cannot read the federated token file \(file)"), "\(missing)"
        )
        #expect((s.idp.stats.tokenRequests["client_credentials"] ?? 0) == grants, "nothing was sent for a bad file")

        // The path is bound: pointing it elsewhere in the file is refused before it is read.
        try editVault(s.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET federated_token_file = '/proc/self/environ'")
        }
        let edited = s.cli.run(["token", "deploy"] + s.key)
        #expect(edited.status == 5 && edited.stderr.contains("the file was modified"), "\(edited)")
        #expect((s.idp.stats.tokenRequests["client_credentials"] ?? 0) == grants)
    }

    @Test func githubActionsTokensInsideAJobAndAClearErrorOutside() throws {
        let s = try Self.setup()
        defer { s.idp.stop() }
        let add = s.addApp(["--federated-token-source", "github-actions"], name: "ci")
        #expect(
            add.status == 0 && add.stdout.contains("GitHub Actions OIDC token, audience api://AzureADTokenExchange"),
            "\(add)")
        #expect(add.stdout.contains("Flow: client credentials"), "the flow is implied: \(add)")

        let outside = s.cli.run(
            ["token", "ci"] + s.key, env: ["ACTIONS_ID_TOKEN_REQUEST_URL": "", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""])
        #expect(outside.status == 1, "\(outside)")
        #expect(
            outside.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set")
                && outside.stderr.contains("permissions: id-token: write"), "\(outside)")

        let job = [
            "ACTIONS_ID_TOKEN_REQUEST_URL": s.idp.githubActionsRequestURL,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": Self.requestToken
        ]
        let inside = s.cli.run(["token", "ci"] + s.key, env: job)
        #expect(inside.status == 0, "\(inside)")
        #expect(s.idp.stats.githubTokenRequests == 1 && s.idp.stats.lastGitHubAudience == "api://AzureADTokenExchange")
        #expect(s.idp.stats.federatedGrants == 1 && s.idp.stats.lastFederatedSubject == Self.githubSubject)
        #expect(s.cli.run(["refresh", "ci"] + s.key, env: job).status == 0)
        #expect(s.idp.stats.githubTokenRequests == 2, "a fresh ID token for every grant")

        var refused = job
        refused["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "not-the-job-token"
        let denied = s.cli.run(["refresh", "ci"] + s.key, env: refused)
        #expect(denied.status == 1 && denied.stderr.contains("answered HTTP 401"), "\(denied)")
        #expect(denied.stderr.contains("id-token: write"), "\(denied)")
        var plain = job
        plain["ACTIONS_ID_TOKEN_REQUEST_URL"] = "http://example.com/idtoken?x=1"
        let http = s.cli.run(["refresh", "ci"] + s.key, env: plain)
        #expect(http.status != 0 && http.stderr.contains("is not https"), "\(http)")

        #expect(s.cli.run(["set", "ci", "--federated-audience", "api://custom+aud"] + s.key).status == 0)
        let custom = s.cli.run(["refresh", "ci"] + s.key, env: job)
        #expect(s.idp.stats.lastGitHubAudience == "api://custom+aud", "the audience is URL-encoded")
        #expect(custom.status == 1 && custom.stderr.contains("audience 'api://custom+aud'"), "\(custom)")
        for result in [add, outside, inside, denied, http, custom] {
            #expect(!(result.stdout + result.stderr).contains(Self.requestToken))
        }
    }

    /// What `exec --workload-identity` hands a child is what azure-identity's
    /// WorkloadIdentityCredential needs: it constructs only when all of it is there.
    @Test func azureIdentityFindsItsWorkloadIdentityConfiguration() throws {
        let f = Fixture()
        let file = f.dir.write("token", "x.y.z")
        let add = f.cli.run([
            "add-app", "gov", "--tenant", "00000000-0000-0000-0000-0000000000aa", "--client-id", ProviderSetup.clientID,
            "--cloud", "usgov", "--federated-token-file", file, "--key-file", f.keyFile
        ])
        #expect(add.status == 0, "\(add)")
        let env = f.cli.run(["export", "gov", "--shell", "--workload-identity", "--key-file", f.keyFile])
        #expect(env.stdout.contains("export AZURE_AUTHORITY_HOST='https://login.microsoftonline.us'"), "\(env)")
        guard let python = azureIdentityPython else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "azure-identity is required in CI")
            return
        }
        let probe = """
            import os
            from azure.identity import WorkloadIdentityCredential
            WorkloadIdentityCredential()
            print("configured", os.environ["AZURE_FEDERATED_TOKEN_FILE"], os.environ["AZURE_AUTHORITY_HOST"])
            """
        let run = f.cli.run(["exec", "gov", "--workload-identity", "--key-file", f.keyFile, "--", python, "-c", probe])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout == "configured \(file) https://login.microsoftonline.us\n", "\(run)")
        // Without the flag the child has no token file, and azure-identity says what is missing.
        let without = f.cli.run([
            "exec", "gov", "--only", "client_id", "--key-file", f.keyFile, "--", python, "-c", probe
        ])
        #expect(without.status != 0 && without.stderr.contains("token_file_path"), "\(without)")
    }

    @Test func setSwitchesBetweenASecretAndAFederatedCredential() throws {
        let s = try ProviderSetup(
            client: FakeClient(
                clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret,
                federatedCredentials: [FakeFederatedCredential(issuer: Self.issuer, subject: Self.subject)]))
        defer { s.idp.stop() }
        #expect(
            s.addApp(["--flow", "client-credentials", "--secret-stdin"], stdin: ProviderSetup.clientSecret).status == 0)
        let file = s.file(
            "token",
            s.idp.mintFederatedToken(issuer: Self.issuer, subject: Self.subject, audience: "api://AzureADTokenExchange")
        )
        let toFederated = s.cli.run(["set", "deploy", "--federated-token-file", file] + s.key)
        #expect(toFederated.status == 0 && toFederated.stdout.contains("client_secret(removed)"), "\(toFederated)")
        #expect(try Self.column(s, "SELECT typeof(client_secret) FROM app") == "null")
        #expect(s.cli.run(["token", "deploy"] + s.key).status == 0)
        #expect(s.idp.stats.federatedGrants == 1)
        let back = s.cli.run(["set", "deploy", "--secret-stdin"] + s.key, stdin: ProviderSetup.clientSecret)
        #expect(back.status == 0 && back.stdout.contains("federated_source"), "\(back)")
        #expect(try Self.column(s, "SELECT coalesce(federated_source, federated_token_file) FROM app") == nil)
        #expect(s.cli.run(["refresh", "deploy"] + s.key).status == 0)
        #expect(s.idp.stats.federatedGrants == 1 && s.idp.stats.tokenLog.last?.clientAuth == .post)
        let userFlow = s.cli.run(
            ["set", "deploy", "--flow", "authorization-code", "--federated-token-file", file] + s.key)
        #expect(userFlow.status == 64 && userFlow.stderr.contains("client credentials flow"), "\(userFlow)")
        let both = s.cli.run(
            [
                "add-app", "x", "--tenant", "t", "--client-id", ProviderSetup.clientID, "--federated-token-file", file,
                "--secret-stdin"
            ] + s.key)
        #expect(both.status == 64 && both.stderr.contains("replaces the client secret"), "\(both)")
        let audience = s.cli.run(["set", "deploy", "--federated-audience", "api://a"] + s.key)
        #expect(
            audience.status == 64
                && audience.stderr.contains("applies to apps with --federated-token-source github-actions"),
            "\(audience)")
    }
}
