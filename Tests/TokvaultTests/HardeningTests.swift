import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// Regressions for the review findings: each test names what it guards.
@Suite("hardening")
struct HardeningTests {
    @Test func editedAuthorityColumnsCannotRedirectTheSecret() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "the-secret").status == 0)
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET authority_host = 'attacker.example', cloud = NULL")
        }
        // An unrelated change must not re-derive (and re-seal for) a new endpoint: the edited
        // columns are bound (format 2), so any change of the app is refused.
        let scope = f.cli.run(["set", "adme", "--scope", "api://x/.default offline_access", "--key-file", f.keyFile])
        #expect(scope.status == 5, "\(scope)")
        let show = f.cli.run(["show", "adme", "--json"])
        #expect(show.stdout.contains("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        #expect(!show.stdout.contains("attacker.example/"))
        // A change that does re-derive notices the inconsistency and refuses.
        let tenant = f.cli.run(["set", "adme", "--tenant", "fabrikam.onmicrosoft.com", "--key-file", f.keyFile])
        #expect(tenant.status == 5, "\(tenant)")
        #expect(tenant.stderr.contains("the file was modified"))
    }

    @Test func writesAfterARestoreDoNotLandInTheOldFile() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "x").status == 0)
        let backupPath = f.dir.file("b.db")
        #expect(f.cli.run(["backup", backupPath]).status == 0)
        let stale = try Vault.open(path: f.cli.vaultPath)
        #expect(f.cli.run(["restore", backupPath, "--yes", "--key-file", f.keyFile]).status == 0)
        do {
            try stale.removeApp(try stale.app(named: "adme"))
            Issue.record("a write went to the replaced file")
        } catch let error as VaultError {
            #expect(error.message.contains("was replaced"))
        }
        #expect(f.cli.run(["show", "adme"]).status == 0)
    }

    @Test func lockWaitsHaveATimeout() throws {
        let f = Fixture()
        let holder = try Vault.open(path: f.cli.vaultPath)
        try holder.holdLock(exclusive: true)
        let saved = VaultLock.timeoutSeconds
        VaultLock.timeoutSeconds = 0.3
        defer { VaultLock.timeoutSeconds = saved }
        let other = try Vault.open(path: f.cli.vaultPath)
        do {
            try other.removeApp(
                App(
                    id: "x", name: "x", provider: .azure, tenant: nil, cloud: nil, authorityHost: nil, clientID: "c",
                    authorizeEndpoint: "", tokenEndpoint: "", deviceEndpoint: nil, redirectURI: "", scope: "",
                    flow: "", clientAuth: .none, clientSecret: nil, createdAt: 0, updatedAt: 0))
            Issue.record("the lock was not respected")
        } catch let error as VaultError {
            #expect(error.message.contains("waiting for another tokvault process"))
        }
        holder.releaseLock()
    }

    @Test func rotateKeyNeverDropsASlotOverAWrongSecret() {
        let f = Fixture()
        let wrong = f.dir.write("wrong.txt", "not it\n")
        let result = f.cli.run(["rotate-key", "--key-file", f.keyFile, "--passphrase-file", wrong, "--drop-other-slots"]
        )
        #expect(result.status == 4, "\(result)")
        #expect(result.stderr.contains("wrong passphrase"))
        #expect(f.cli.run(["keyfile", "list"]).stdout.contains("passphrase"))
        #expect(
            f.cli.run(["show", "x", "--verify", "--passphrase-file", f.passphraseFile]).stderr.contains("no app named"))
    }

    @Test func environmentPassphrasesFollowTheFirstLineRule() {
        let dir = TempDir()
        let cli = CLI(dir)
        #expect(
            cli.run(
                ["init", "--kdf-ops", "1", "--kdf-mem-mib", "8"],
                env: ["TOKVAULT_NEW_PASSPHRASE": "line one passphrase\n"]
            ).status == 0)
        let file = dir.write("p.txt", "line one passphrase\n")
        #expect(cli.run(["doctor", "--verify", "--passphrase-file", file]).status == 0)
        #expect(cli.run(["doctor", "--verify"], env: ["TOKVAULT_PASSPHRASE": "line one passphrase"]).status == 0)
        // An empty variable is as good as unset: no terminal, so exit 4 with the "no way" message.
        let empty = cli.run(["doctor", "--verify"], env: ["TOKVAULT_PASSPHRASE": ""])
        #expect(empty.status == 4)
        #expect(empty.stderr.contains("no terminal"))
    }

    @Test func extremeValuesInTheFileDoNotCrash() throws {
        let (f, _, _) = try populatedVault()
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE access_token SET expires_at = ?", arguments: [Int64.min])
            try db.execute(
                sql: "UPDATE app SET name = ? WHERE name = 'alpha'", arguments: ["alpha\u{1b}]0;pwned\u{07}"])
        }
        for args in [["list"], ["doctor"], ["show", "beta"], ["list", "--json"]] {
            let result = f.cli.run(args)
            #expect(result.status == 0 || (args == ["doctor"] && result.status == 1), "\(args): \(result)")
            #expect(!result.stdout.contains("\u{1b}]0;"), "escape sequences are not passed to the terminal")
        }
    }

    @Test func closedStderrIsNotACrash() {
        let f = Fixture()
        let result = CLI.exec(["/bin/sh", "-c", "\"$0\" show nope 2>&-", CLI.binary], environment: f.cli.environment)
        #expect(result.status == 1, "\(result)")
    }

    @Test func newKeyFileLeavesNoTemporaryFile() throws {
        let f = Fixture()
        let path = f.dir.file("new.key")
        #expect(f.cli.run(["keyfile", "create", path, "--key-file", f.keyFile]).status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.dir.path).filter {
            $0.contains("tokvault-tmp")
        }
        #expect(leftovers.isEmpty)
        #expect(f.cli.run(["show", "x", "--verify", "--key-file", path]).stderr.contains("no app named"))
    }
}
