import Foundation
import GRDB
import Testing
import TokvaultFakeIdP

@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// The app binding (formats 2 and 3): anyone who can write the vault file but has no key must not be able
/// to redirect a secret, a token or a sign-in by editing the plain columns of an app.
@Suite("app binding")
struct BindingTests {
    static let secret = "binding-client-secret-CANARY-4e1"
    static let refresh = "binding-refresh-token-CANARY-8a2"

    /// A vault with one confidential Azure app (a refresh token imported, an access token cached)
    /// whose endpoints point at a server that counts what reaches it.
    struct Setup {
        let f = Fixture()
        let server: HostileServer
        var cli: CLI { f.cli }
        var key: [String] { ["--key-file", f.keyFile] }

        init() throws {
            server = try HostileServer(always: HostileServer.response("500 Internal Server Error"))
            let add = f.cli.run(
                [
                    "add-app", "adme", "--tenant", "contoso.onmicrosoft.com", "--client-id", Fixture.clientID,
                    "--authority-host", server.url, "--secret-stdin", "--key-file", f.keyFile
                ],
                stdin: BindingTests.secret + "\n")
            precondition(add.status == 0, "add-app failed: \(add)")
            let imported = f.cli.run(
                ["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: BindingTests.refresh + "\n")
            precondition(imported.status == 0, "set --refresh-token-stdin failed: \(imported)")
        }

        func edit(_ sql: String, _ arguments: StatementArguments = []) throws {
            let db = try DatabaseQueue(path: f.cli.vaultPath)
            try db.write { try $0.execute(sql: sql, arguments: arguments) }
            try db.close()
        }

        /// Every command that would send, open or print something for the app.
        func refusedEverywhere(_ app: String, _ note: String) {
            let commands: [[String]] = [
                ["token", app], ["refresh", app],
                ["login", app, "--no-browser", "--port", "0", "--timeout", "10"],
                ["login", app, "--device"],
                ["export", app, "--only", "client_id"], ["export", app, "--with-secrets", "--only", "refresh_token"],
                ["export", app, "--format", "curl"],
                // tokvault's own options come before APP: what follows it is curl's.
                ["curl"] + key + [app, "https://127.0.0.1:9/records"],
                ["exec", app] + key + ["--", "/bin/true"],
                ["show", app, "--verify"], ["doctor", "--verify"],
                ["set", app, "--rename", "renamed-by-set"]
            ]
            for command in commands {
                let result = cli.run(command.contains("--") || command[0] == "curl" ? command : command + key)
                // exec reports its own failures as 125 (env(1)); everything else exits 5.
                #expect(result.status == (command[0] == "exec" ? 125 : 5), "\(note): \(command): \(result)")
                #expect(
                    result.stderr.contains("failed authentication: the file was modified"),
                    "\(note): \(command): \(result)")
                #expect(!result.stderr.contains("Sign in to"), "\(note): \(command) printed a sign-in URL: \(result)")
                for canary in [BindingTests.secret, BindingTests.refresh] {
                    #expect(!(result.stdout + result.stderr).contains(canary), "\(note): \(command) printed a secret")
                }
            }
            #expect(server.requests.isEmpty, "\(note): \(server.requests.count) request(s) reached the endpoint")
        }
    }

    /// Each column that steers a secret or a sign-in, with an attacker's value for it.
    static let steeringEdits: [(column: String, value: String)] = [
        ("name", "renamed"),
        ("provider", "oauth"),
        ("tenant", "evil.onmicrosoft.com"),
        ("cloud", "usgov"),
        ("authority_host", "evil.example"),
        ("client_id", "3b6a2f1e-1111-4c4c-9a9a-123456789abc"),
        ("authorize_endpoint", "https://evil.example/authorize"),
        ("token_endpoint", "https://evil.example/token"),
        ("device_endpoint", "https://evil.example/devicecode"),
        ("redirect_uri", "http://127.0.0.1:9/evil"),
        ("scope", "https://evil.example/.default offline_access"),
        ("flow", "client_credentials"),
        ("client_auth", "client_secret_basic"),
        ("issuer", "https://evil.example"),
        ("assertion_alg", "RS256"),
        ("api_base", "https://evil.example"),
        ("request_headers", "X-Forward-To: evil.example"),
        ("client_capabilities", "cp1"),
        ("federated_audience", "api://evil.example")
    ]

    @Test(arguments: BindingTests.steeringEdits.map(\.column))
    func editingASteeringColumnIsRefusedBeforeAnythingIsSent(_ column: String) throws {
        let s = try Setup()
        let value = Self.steeringEdits.first { $0.column == column }!.value
        try s.edit("UPDATE app SET \(column) = ? WHERE name = 'adme'", [value])
        s.refusedEverywhere(column == "name" ? value : "adme", "app.\(column) edited")
    }

    /// A federated credential planted in place of the secret (the columns' CHECKs hold): every
    /// command refuses before the planted file is read or anything is sent.
    @Test func aPlantedFederatedCredentialIsRefused() throws {
        let s = try Setup()
        try s.edit(
            "UPDATE app SET client_auth = 'federated_assertion', federated_source = 'file', federated_token_file = '/nonexistent/evil' WHERE name = 'adme'"
        )
        s.refusedEverywhere("adme", "federated credential planted")
    }

    @Test func aPlantedCertificateIsRefused() throws {
        let s = try Setup()
        try s.edit("UPDATE app SET certificate = X'3082' WHERE name = 'adme'")
        s.refusedEverywhere("adme", "app.certificate planted")
    }

    @Test func aDamagedOrMissingBindingIsRefused() throws {
        let s = try Setup()
        let binding = try DatabaseQueue(path: s.cli.vaultPath).read {
            try Data.fetchOne($0, sql: "SELECT binding FROM app")!
        }
        #expect(binding.count == 32)
        var flipped = binding
        flipped[flipped.startIndex + 7] ^= 0x01
        try s.edit("UPDATE app SET binding = ?", [flipped])
        s.refusedEverywhere("adme", "binding bit flipped")
        try s.edit("UPDATE app SET binding = NULL")
        s.refusedEverywhere("adme", "binding removed")
        try s.edit("UPDATE app SET binding = ?", [binding])
        #expect(s.cli.run(["show", "adme", "--verify"] + s.key).status == 0)
    }

    /// Swapping the names of two apps must not hand one app's token to a script asking for the other.
    @Test func swappedNamesAreRefused() throws {
        let f = Fixture()
        #expect(f.addApp("alpha", secret: "alpha-secret").status == 0)
        #expect(f.addApp("beta", secret: "beta-secret", clientID: "2b6a2f1e-1111-4c4c-9a9a-123456789abc").status == 0)
        let vault = try Vault.open(path: f.cli.vaultPath)
        let key = try vault.unlock(UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))]))
        for name in ["alpha", "beta"] {
            try vault.storeTokens(
                TokenSet(
                    accessToken: secure("\(name)-access-CANARY"), tokenType: "Bearer",
                    expiresAt: Int64(Date().timeIntervalSince1970) + 3600), for: try vault.app(named: name), key: key)
        }
        #expect(f.cli.run(["token", "alpha", "--key-file", f.keyFile]).stdout == "alpha-access-CANARY\n")
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET name = 'swap' WHERE name = 'alpha'")
            try db.execute(sql: "UPDATE app SET name = 'alpha' WHERE name = 'beta'")
            try db.execute(sql: "UPDATE app SET name = 'beta' WHERE name = 'swap'")
        }
        for name in ["alpha", "beta"] {
            let result = f.cli.run(["token", name, "--key-file", f.keyFile])
            #expect(result.status == 5, "\(result)")
            #expect(result.stdout.isEmpty && !result.stderr.contains("-access-CANARY"), "\(result)")
            #expect(result.stderr.contains("app \"\(name)\" failed authentication"), "\(result)")
        }
    }

    /// A cached token relabelled as another scope's is not handed out for that scope.
    @Test func relabelledScopeKeyIsRefused() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "s").status == 0)
        let vault = try Vault.open(path: f.cli.vaultPath)
        let key = try vault.unlock(UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))]))
        let app = try vault.app(named: "adme")
        let later = Int64(Date().timeIntervalSince1970) + 3600
        for scope in ["https://storage.azure.com/.default", "https://graph.microsoft.com/.default"] {
            try vault.storeTokens(
                TokenSet(accessToken: secure("token-for-\(scope)"), tokenType: "Bearer", expiresAt: later),
                for: app, scopeKey: scope, key: key)
        }
        let storage = f.cli.run([
            "token", "adme", "--scope", "https://storage.azure.com/.default", "--key-file", f.keyFile
        ])
        #expect(storage.stdout == "token-for-https://storage.azure.com/.default\n", "\(storage)")
        try editVault(f.cli.vaultPath) { db in
            try db.execute(
                sql: "UPDATE access_token SET scope_key = 'x' WHERE scope_key = 'https://storage.azure.com/.default'")
            try db.execute(
                sql:
                    "UPDATE access_token SET scope_key = 'https://storage.azure.com/.default' WHERE scope_key = 'https://graph.microsoft.com/.default'"
            )
            try db.execute(
                sql: "UPDATE access_token SET scope_key = 'https://graph.microsoft.com/.default' WHERE scope_key = 'x'")
        }
        let swapped = f.cli.run([
            "token", "adme", "--scope", "https://storage.azure.com/.default", "--key-file", f.keyFile
        ])
        #expect(swapped.status == 5, "\(swapped)")
        #expect(swapped.stdout.isEmpty && !swapped.stderr.contains("token-for-"), "\(swapped)")
    }

    /// `set` checks the old binding before it binds anything anew: an edit made in the file is
    /// never sealed as if the user had made it.
    @Test func setAndRotateKeyDoNotLaunderAnEdit() throws {
        let s = try Setup()
        try s.edit("UPDATE app SET authorize_endpoint = 'https://evil.example/authorize'")
        let before = try Hostile.snapshot(s.cli.vaultPath)
        let set = s.cli.run(["set", "adme", "--rename", "adme2"] + s.key)
        #expect(set.status == 5, "\(set)")
        let rotate = s.cli.run(["rotate-key", "--key-file", s.f.keyFile, "--passphrase-file", s.f.passphraseFile])
        #expect(rotate.status == 5, "\(rotate)")
        #expect(try Hostile.snapshot(s.cli.vaultPath) == before, "nothing was written")
        #expect(s.server.requests.isEmpty)
    }

    /// Changes made through tokvault re-bind the app and keep every secret it keeps.
    @Test func setRenameScopeAndRotateKeyKeepTheAppUsable() throws {
        let s = try Setup()
        let vault = try Vault.open(path: s.cli.vaultPath)
        let material = UnlockMaterial(keyFiles: [(s.f.keyFile, try KeyFile.load(path: s.f.keyFile))])
        try vault.storeTokens(
            TokenSet(
                accessToken: secure("at-CANARY"), tokenType: "Bearer",
                expiresAt: Int64(Date().timeIntervalSince1970) + 3600),
            for: try vault.app(named: "adme"), key: try vault.unlock(material))
        #expect(
            s.cli.run(["set", "adme", "--rename", "prod", "--redirect-uri", "http://localhost:8400"] + s.key).status
                == 0)
        #expect(s.cli.run(["token", "prod"] + s.key).stdout == "at-CANARY\n")
        #expect(
            s.cli.run(["rotate-key", "--key-file", s.f.keyFile, "--passphrase-file", s.f.passphraseFile]).status == 0)
        #expect(s.cli.run(["token", "prod"] + s.key).stdout == "at-CANARY\n")
        let exported = s.cli.run(
            ["export", "prod", "--with-secrets", "--only", "client_secret", "--only", "refresh_token", "--json"] + s.key
        )
        #expect(
            exported.stdout.contains(BindingTests.secret) && exported.stdout.contains(BindingTests.refresh),
            "\(exported)")
        #expect(s.cli.run(["doctor", "--verify"] + s.key).status == 0)
        #expect(s.server.requests.isEmpty)
    }

    /// An Azure app's device endpoint is derived from its token endpoint, never read from its
    /// own column: even a bound column naming another host is not used.
    @Test func anAzureDeviceEndpointIsDerivedFromTheTokenEndpoint() throws {
        let s = try ProviderSetup.device(.approveAfterPolls(1))
        defer { s.idp.stop() }
        let elsewhere = try HostileServer(always: HostileServer.response("500 Internal Server Error"))
        #expect(s.addApp(["--public"]).status == 0)
        let vault = try Vault.open(path: s.cli.vaultPath)
        let key = try vault.unlock(UnlockMaterial(keyFiles: [(s.f.keyFile, try KeyFile.load(path: s.f.keyFile))]))
        var app = try vault.app(named: "deploy")
        app.id = UUID().uuidString.lowercased()
        app.name = "pointed"
        app.deviceEndpoint = elsewhere.url + "/devicecode"
        try vault.addApp(app, clientSecret: nil, key: key)
        let login = s.cli.run(["login", "pointed", "--device"] + s.key)
        #expect(login.status == 0, "\(login)")
        #expect(s.idp.stats.deviceAuthorizations == 1)
        #expect(elsewhere.requests.isEmpty, "the stored device endpoint was used")
    }

    /// A rotate-key while a sign-in waits in the browser binds every app anew: the tokens the
    /// sign-in gets are stored under the new binding, not refused (and not sealed under the old).
    @Test func tokensObtainedBeforeARotationAreStoredUnderTheNewBinding() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "s").status == 0)
        let vault = try Vault.open(path: f.cli.vaultPath)
        let material = UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))])
        let before = try vault.app(named: "adme")
        #expect(f.cli.run(["rotate-key", "--key-file", f.keyFile, "--passphrase-file", f.passphraseFile]).status == 0)
        let key = try vault.unlock(material)
        try vault.storeTokens(
            TokenSet(
                accessToken: secure("after-rotation-CANARY"), tokenType: "Bearer",
                expiresAt: Int64(Date().timeIntervalSince1970) + 3600), for: before, key: key)
        #expect(f.cli.run(["token", "adme", "--key-file", f.keyFile]).stdout == "after-rotation-CANARY\n")
        #expect(f.cli.run(["doctor", "--verify", "--key-file", f.keyFile]).status == 0)
    }

    /// A cached token read just before a rotation committed is opened again with the app read
    /// again: no false "the file was modified".
    @Test func aCacheHitThatRacesARotationIsNotReportedAsTampering() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "s").status == 0)
        let vault = try Vault.open(path: f.cli.vaultPath)
        let material = UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))])
        try vault.storeTokens(
            TokenSet(
                accessToken: secure("raced-CANARY"), tokenType: "Bearer",
                expiresAt: Int64(Date().timeIntervalSince1970) + 3600),
            for: try vault.app(named: "adme"), key: try vault.unlock(material))
        let (app, _, tokens) = try vault.appState(named: "adme")
        let oldKey = try vault.unlock(material)
        #expect(f.cli.run(["rotate-key", "--key-file", f.keyFile, "--passphrase-file", f.passphraseFile]).status == 0)
        let opened = try TokenService(vault: vault).openCached(tokens[0], of: app, key: oldKey, material: material)
        #expect(opened.token.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "raced-CANARY")
    }
}
