import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// Vaults written by the last format 1 and format 2 releases (Fixtures/format1-vault.sql,
/// format2-vault.sql, made by those binaries) upgrade to format 3 on their first unlock with
/// every secret intact; a file that claims an older format than it holds, or whose columns
/// were edited before the upgrade, is refused and never bound.
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
                && token.stderr.contains(" to format 3: 8 sealed field(s) re-sealed"), "\(token)")
        #expect(
            token.stderr.contains("adme: client 11111111-2222-3333-4444-555555555555, token http://127.0.0.1:"),
            "\(token)")
        #expect(
            token.stderr.contains("oidc:") && token.stderr.contains("deploy:") && token.stderr.contains("pub:"),
            "\(token)")
        #expect(try old.formatVersion() == 3)

        // Every secret opens under format 3 to the same bytes; every app is bound.
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
                && doctor.stdout.contains("format 3"), "\(doctor)")
        let log = old.cli.run(["log"])
        #expect(log.stdout.contains("upgrade") && log.stdout.contains("format 1 -> 3"), "\(log)")
    }

    @Test func setAndLoginOnAnOldVaultUpgradeFirst() throws {
        let old = try Format1Vault()
        let set = old.cli.run(["set", "pub", "--scope", "openid offline_access", "--key-file", old.keyFile])
        #expect(set.status == 0, "\(set)")
        #expect(set.stderr.contains("upgraded vault"), "\(set)")
        #expect(try old.formatVersion() == 3)
        #expect(old.cli.run(["show", "pub", "--verify", "--key-file", old.keyFile]).status == 0)
    }

    /// A file that claims format 1 again after the upgrade holds format 2 ciphertexts: refused,
    /// never upgraded a second time (that would bind whatever the columns say now).
    @Test func aDowngradedFileIsRefused() throws {
        let old = try Format1Vault()
        #expect(old.cli.run(["doctor", "--verify", "--key-file", old.keyFile]).status == 0)
        #expect(try old.formatVersion() == 3)
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
            backup.status == 5 && backup.stderr.contains("has table \"app\"")
                && backup.stderr.contains("changed: the file was modified"),
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
        #expect(try old.formatVersion() == 3)
        let restore = old.cli.run(["restore", backupPath, "--yes", "--key-file", old.keyFile])
        #expect(restore.status == 0, "\(restore)")
        #expect(try old.formatVersion() == 1)
        let token = old.cli.run(["token", "adme", "--key-file", old.keyFile])
        #expect(
            token.stdout == old.expected.adme.access_token + "\n" && token.stderr.contains("upgraded vault"), "\(token)"
        )
    }

    /// Format 1 has no binding, and its upgrade binds whatever the columns say: an API base or
    /// header planted once migration 0005 added the columns is refused instead.
    @Test(arguments: [
        "api_base = 'https://evil.example'",
        "client_capabilities = 'cp1'",
        // A federated credential planted in place of the secret: the upgrade would bind the file.
        "client_auth = 'federated_assertion', client_secret = NULL, federated_source = 'file', federated_token_file = '/tmp/evil-token'",
        "client_auth = 'federated_assertion', client_secret = NULL, federated_source = 'github-actions'"
    ])
    func aRequestDefaultPlantedInAFormat1FileIsRefused(_ assignment: String) throws {
        let old = try Format1Vault()
        #expect(old.cli.run(["list"]).status == 0)
        try editVault(old.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET \(assignment) WHERE name = 'adme'")
        }
        let before = try Hostile.snapshot(old.cli.vaultPath)
        let result = old.cli.run(["token", "adme", "--key-file", old.keyFile])
        #expect(result.status == 5, "\(result)")
        #expect(
            result.stderr.contains(
                "an API base, request headers, a federated credential or client capabilities in a vault of format 1"),
            "\(result)")
        #expect(!result.stdout.contains(old.expected.adme.access_token))
        #expect(try Hostile.snapshot(old.cli.vaultPath) == before, "nothing was written")
        #expect(try old.formatVersion() == 1)
    }

    // MARK: - From format 2

    @Test func aFormat2VaultUpgradesWithEverySecretIntact() throws {
        let old = try format2Vault()
        #expect(try old.formatVersion() == 2)
        let before = try old.plaintexts()
        #expect(before.count == 8, "two apps: client secret, refresh, ID and access token each")
        let bindings = try old.bindings()

        // Opening adds the new columns (NULL); the format stays 2 until an unlock.
        #expect(old.cli.run(["list"]).status == 0)
        #expect(try old.formatVersion() == 2)

        let token = old.cli.run(["token", "alpha", "--key-file", old.keyFile])
        #expect(token.status == 0 && token.stdout == "alpha-access\n", "\(token)")
        #expect(token.stderr.contains(" to format 3: 8 sealed field(s) re-sealed"), "\(token)")
        #expect(try old.formatVersion() == 3)
        #expect(try old.plaintexts() == before)
        let after = try old.bindings()
        #expect(after.count == 3 && after.allSatisfy { $0.value.count == 32 && bindings[$0.key] != $0.value })
        for name in ["alpha", "beta", "pub"] {
            let show = old.cli.run(["show", name, "--verify", "--key-file", old.keyFile])
            #expect(show.status == 0, "\(name): \(show)")
        }
        let secret = old.cli.run([
            "export", "beta", "--with-secrets", "--only", "client_secret", "--only", "refresh_token", "--json",
            "--key-file", old.keyFile
        ])
        #expect(
            secret.stdout.contains("beta-client-secret") && secret.stdout.contains("beta-refresh"), "\(secret)")
        #expect(old.cli.run(["log"]).stdout.contains("format 2 -> 3"))
    }

    /// An app's column edited in a format 2 file: the upgrade checks every app's format 2 binding
    /// before it binds anything, so the edit is refused instead of being bound under format 3; and
    /// an API base or header planted in a format 2 file (the columns exist once it was opened) is
    /// not authenticated by format 2, so it fails the format 2 binding.
    @Test(arguments: [
        "authorize_endpoint = 'https://evil.example/authorize'",
        "api_base = 'https://evil.example'",
        "request_headers = 'Authorization: Basic ZXZpbA=='"
    ])
    func anEditInAFormat2FileIsNotBoundByTheUpgrade(_ edit: String) throws {
        let old = try format2Vault()
        #expect(old.cli.run(["list"]).status == 0)
        try editVault(old.cli.vaultPath) { db in try db.execute(sql: "UPDATE app SET \(edit) WHERE name = 'pub'") }
        let before = try Hostile.snapshot(old.cli.vaultPath)
        for args in [["token", "alpha"], ["show", "pub", "--verify"], ["doctor", "--verify"]] {
            let result = old.cli.run(args + ["--key-file", old.keyFile])
            #expect(result.status == 5, "\(args): \(result)")
            #expect(result.stderr.contains("app \"pub\" failed authentication: the file was modified"), "\(result)")
            #expect(!result.stderr.contains("evil.example") && !result.stdout.contains("alpha-access"), "\(result)")
        }
        #expect(try Hostile.snapshot(old.cli.vaultPath) == before, "nothing was written")
        #expect(try old.formatVersion() == 2)
    }

    /// A format 3 vault written before migration 0006 (Fixtures/format3-vault.sql, by the
    /// previous binary) gains its columns on first open and stays format 3: its new columns are
    /// NULL, so every binding is byte-identical and nothing is re-sealed; every secret opens.
    @Test func aFormat3VaultGainsMigration0006WithEveryBindingUnchanged() throws {
        let old = try FixtureVault("format3")
        #expect(try old.formatVersion() == 3)
        let before = try old.plaintexts()
        #expect(before.count == 4, "alpha's secret and refresh token, deploy's secret and access token")
        let bindings = try old.bindings()
        let sealed = try DatabaseQueue(path: old.cli.vaultPath).read {
            try Data.fetchAll($0, sql: "SELECT coalesce(client_secret, x'') FROM app ORDER BY id")
        }
        #expect(old.cli.run(["list"]).status == 0)
        let migrations = try DatabaseQueue(path: old.cli.vaultPath).read {
            try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(migrations.last == "0006_add_federated_credentials_and_refresh_age", "\(migrations)")
        let token = old.cli.run(["token", "deploy", "--key-file", old.keyFile])
        #expect(
            token.status == 0 && token.stdout == "fake-at-SPWmIWM1c9zEb5EP1J7umJ91wrsbdiElLVF0-29ab-0\n", "\(token)")
        #expect(!token.stderr.contains("upgraded"), "\(token)")
        #expect(try old.formatVersion() == 3)
        #expect(try old.bindings() == bindings, "no binding was recomputed")
        #expect(
            try DatabaseQueue(path: old.cli.vaultPath).read {
                try Data.fetchAll($0, sql: "SELECT coalesce(client_secret, x'') FROM app ORDER BY id")
            } == sealed, "nothing was re-sealed")
        #expect(try old.plaintexts() == before)
        let secrets = old.cli.run([
            "export", "alpha", "--with-secrets", "--only", "client_secret", "--only", "refresh_token", "--json",
            "--key-file", old.keyFile
        ])
        #expect(
            secrets.stdout.contains("alpha-client-secret") && secrets.stdout.contains("alpha-refresh"), "\(secrets)")
        let show = old.cli.run(["show", "alpha", "--verify", "--key-file", old.keyFile])
        #expect(show.status == 0 && show.stdout.contains("data-partition-id: opendes"), "\(show)")
        #expect(show.stdout.contains("unknown (stored before tokvault recorded it, or imported)"), "\(show)")
        #expect(old.cli.run(["doctor", "--verify", "--key-file", old.keyFile]).status == 0)
        // The new columns are bound now that they exist: one planted in the migrated file is refused.
        try editVault(old.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET client_capabilities = 'cp1' WHERE name = 'alpha'")
        }
        let planted = old.cli.run(["export", "alpha", "--with-secrets", "--json", "--key-file", old.keyFile])
        #expect(planted.status == 5 && !planted.stdout.contains("alpha-client-secret"), "\(planted)")
    }

    /// A format 3 file that claims format 2 again: its bindings are format 3 MACs, which the
    /// format 2 check refuses, so it is not upgraded (and re-bound) a second time.
    @Test func aFormat3FileClaimingFormat2IsRefused() throws {
        let old = try format2Vault()
        #expect(old.cli.run(["doctor", "--verify", "--key-file", old.keyFile]).status == 0)
        #expect(try old.formatVersion() == 3)
        try editVault(old.cli.vaultPath) { db in try db.execute(sql: "UPDATE vault SET format_version = 2") }
        let result = old.cli.run(["token", "alpha", "--key-file", old.keyFile])
        #expect(result.status == 5 && result.stderr.contains("failed authentication"), "\(result)")
        #expect(!result.stdout.contains("alpha-access"))
        #expect(try old.formatVersion() == 2)
    }
}
