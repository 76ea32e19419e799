import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// A vault written by the last format 1 release (Fixtures/format1-vault.sql: every kind of
/// sealed field, made by that binary) upgrades to format 2 on its first unlock with every
/// secret intact, and a file that claims format 1 but holds format 2 ciphertexts is refused.
@Suite("format upgrade")
struct FormatUpgradeTests {
    @Test func theFirstUnlockUpgradesWithEverySecretIntact() throws {
        let old = try Format1Vault()
        #expect(try old.formatVersion() == 1)
        let before = try old.plaintexts()
        #expect(before.count == 8, "client secrets, private key, refresh and ID token, three access tokens")

        // Commands that do not unlock leave it at format 1 (the binding needs the data key).
        #expect(old.cli.run(["list"]).status == 0)
        #expect(try old.formatVersion() == 1)

        // The first unlock: prints the cached token as before, and says what it bound.
        let token = old.cli.run(["token", "adme", "--key-file", old.keyFile])
        #expect(token.status == 0, "\(token)")
        #expect(token.stdout == old.expected.adme.access_token + "\n")
        #expect(
            token.stderr.contains("tokvault: upgraded vault ")
                && token.stderr.contains(" to format 2: 8 sealed field(s) re-sealed"), "\(token)")
        #expect(
            token.stderr.contains("adme: client 11111111-2222-3333-4444-555555555555, token http://127.0.0.1:"),
            "\(token)")
        #expect(
            token.stderr.contains("oidc:") && token.stderr.contains("deploy:") && token.stderr.contains("pub:"),
            "\(token)")
        #expect(try old.formatVersion() == 2)

        // Every secret opens under format 2 to the same bytes; every app is bound.
        #expect(try old.plaintexts() == before)
        let bindings = try DatabaseQueue(path: old.cli.vaultPath).read {
            try Data?.fetchAll($0, sql: "SELECT binding FROM app")
        }
        #expect(bindings.count == 4 && bindings.allSatisfy { $0?.count == 32 })
        let again = old.cli.run(["token", "adme", "--key-file", old.keyFile])
        #expect(again.stdout == old.expected.adme.access_token + "\n" && !again.stderr.contains("upgraded"), "\(again)")
        let storage = old.cli.run([
            "token", "adme", "--scope", "https://storage.azure.com/.default", "--key-file", old.keyFile
        ])
        #expect(storage.stdout == old.expected.adme.storage_access_token + "\n", "\(storage)")
        let secrets = old.cli.run([
            "export", "adme", "--with-secrets", "--only", "client_secret", "--only", "refresh_token", "--json",
            "--key-file", old.keyFile
        ])
        #expect(
            secrets.stdout.contains(old.expected.adme.client_secret)
                && secrets.stdout.contains(old.expected.adme.refresh_token), "\(secrets)")
        let doctor = old.cli.run(["doctor", "--verify", "--key-file", old.keyFile])
        #expect(
            doctor.status == 0 && doctor.stdout.contains("8 sealed field(s) open")
                && doctor.stdout.contains("format 2"), "\(doctor)")
        let log = old.cli.run(["log"])
        #expect(log.stdout.contains("upgrade") && log.stdout.contains("format 1 -> 2"), "\(log)")
    }

    @Test func setAndLoginOnAnOldVaultUpgradeFirst() throws {
        let old = try Format1Vault()
        let set = old.cli.run(["set", "pub", "--scope", "openid offline_access", "--key-file", old.keyFile])
        #expect(set.status == 0, "\(set)")
        #expect(set.stderr.contains("upgraded vault"), "\(set)")
        #expect(try old.formatVersion() == 2)
        #expect(old.cli.run(["show", "pub", "--verify", "--key-file", old.keyFile]).status == 0)
    }

    /// A file that claims format 1 again after the upgrade holds format 2 ciphertexts: refused,
    /// never upgraded a second time (that would bind whatever the columns say now).
    @Test func aDowngradedFileIsRefused() throws {
        let old = try Format1Vault()
        #expect(old.cli.run(["doctor", "--verify", "--key-file", old.keyFile]).status == 0)
        #expect(try old.formatVersion() == 2)
        try editVault(old.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE vault SET format_version = 1")
            try db.execute(
                sql:
                    "UPDATE app SET authorize_endpoint = 'https://evil.example/authorize', binding = NULL WHERE name = 'pub'"
            )
        }
        let before = try Hostile.snapshot(old.cli.vaultPath)
        for args in [
            ["token", "adme"], ["login", "pub", "--no-browser", "--port", "0", "--timeout", "10"],
            ["doctor", "--verify"]
        ] {
            let result = old.cli.run(args + ["--key-file", old.keyFile])
            #expect(result.status == 5, "\(args): \(result)")
            #expect(result.stderr.contains("failed authentication: the file was modified"), "\(args): \(result)")
            #expect(!result.stderr.contains("evil.example"), "\(args): \(result)")
            #expect(!result.stdout.contains(old.expected.adme.access_token), "\(args): \(result)")
        }
        #expect(try Hostile.snapshot(old.cli.vaultPath) == before, "nothing was written")
        // A format 2 file without the binding column is not one tokvault wrote either.
        try editVault(old.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE vault SET format_version = 2")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = '0004_add_app_binding'")
        }
        let backup = old.cli.run(["backup", "--verify", old.cli.vaultPath, "--key-file", old.keyFile])
        // The schema check sees the column without its migration first.
        #expect(
            backup.status == 5 && backup.stderr.contains("has table \"app\" changed: the file was modified"),
            "\(backup)")
    }

    /// A backup of a format 1 vault verifies and restores; the restored vault upgrades on unlock.
    @Test func anOldBackupRestoresAndUpgrades() throws {
        let old = try Format1Vault()
        let backupPath = old.dir.file("old-backup.db")
        let copy = CLI.exec(["/usr/bin/sqlite3", old.cli.vaultPath, ".backup '\(backupPath)'"], environment: [:])
        #expect(copy.status == 0, "\(copy)")
        chmod(backupPath, 0o600)
        let verify = old.cli.run(["backup", "--verify", backupPath, "--key-file", old.keyFile])
        #expect(verify.status == 0 && !verify.stderr.contains("upgraded"), "\(verify)")
        #expect(old.cli.run(["token", "adme", "--key-file", old.keyFile]).status == 0)
        #expect(try old.formatVersion() == 2)
        let restore = old.cli.run(["restore", backupPath, "--yes", "--key-file", old.keyFile])
        #expect(restore.status == 0, "\(restore)")
        #expect(try old.formatVersion() == 1)
        let token = old.cli.run(["token", "adme", "--key-file", old.keyFile])
        #expect(
            token.stdout == old.expected.adme.access_token + "\n" && token.stderr.contains("upgraded vault"), "\(token)"
        )
    }
}
