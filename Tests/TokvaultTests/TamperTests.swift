import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// Every sealed column outside the key slots, damaged in every way an attacker with write
/// access to the file could try, must fail to open with exit 5 and print nothing it decrypted.
@Suite("tampering")
struct TamperTests {
    static let sealedColumns: [(table: String, column: String)] = [
        ("app", "client_secret"),
        ("session", "refresh_token"),
        ("session", "id_token"),
        ("access_token", "token")
    ]

    static func expectTampered(_ vault: Vault, _ key: DataKey, _ note: String) {
        do {
            _ = try vault.verifyAllSealedFields(key: key)
            Issue.record("tampering went unnoticed: \(note)")
        } catch let error as VaultError {
            #expect(error.exitCode == 5, "\(note): \(error)")
            #expect(error.message.contains("failed authentication"), "\(note): \(error)")
        } catch {
            Issue.record("unexpected error for \(note): \(error)")
        }
    }

    @Test(arguments: TamperTests.sealedColumns.map { "\($0.table).\($0.column)" })
    func bitFlipsAnywhereAreDetected(_ place: String) throws {
        let (table, column) = (String(place.split(separator: ".")[0]), String(place.split(separator: ".")[1]))
        let (f, vault, key) = try populatedVault()
        let original = try vault.read { db in try Data.fetchOne(db, sql: "SELECT \(column) FROM \(table) LIMIT 1")! }
        // Version byte, nonce, ciphertext, tag: first, middle and last byte of each region.
        let positions = [0, 1, 12, 24, 25, original.count / 2, original.count - 16, original.count - 1]
        for position in positions {
            var damaged = original
            damaged[damaged.startIndex + position] ^= 0x01
            try editVault(f.cli.vaultPath) { db in
                try db.execute(
                    sql: "UPDATE \(table) SET \(column) = ? WHERE \(column) = ?", arguments: [damaged, original])
            }
            Self.expectTampered(vault, key, "\(place) byte \(position)")
            try editVault(f.cli.vaultPath) { db in
                try db.execute(
                    sql: "UPDATE \(table) SET \(column) = ? WHERE \(column) = ?", arguments: [original, damaged])
            }
            #expect(try vault.verifyAllSealedFields(key: key) == 8)
        }
        // Truncated and emptied values.
        for damaged in [original.prefix(20), Data(), original + Data([0])] {
            try editVault(f.cli.vaultPath) { db in
                try db.execute(
                    sql: "UPDATE \(table) SET \(column) = ? WHERE \(column) = ?", arguments: [damaged, original])
            }
            Self.expectTampered(vault, key, "\(place) resized to \(damaged.count)")
            try editVault(f.cli.vaultPath) { db in
                try db.execute(
                    sql: "UPDATE \(table) SET \(column) = ? WHERE \(column) = ?", arguments: [original, damaged])
            }
        }
    }

    @Test(arguments: TamperTests.sealedColumns.map { "\($0.table).\($0.column)" })
    func swappingBetweenRowsIsDetected(_ place: String) throws {
        let (table, column) = (String(place.split(separator: ".")[0]), String(place.split(separator: ".")[1]))
        let (f, vault, key) = try populatedVault()
        try editVault(f.cli.vaultPath) { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, \(column) AS v FROM \(table) ORDER BY id")
            #expect(rows.count == 2)
            try db.execute(
                sql: "UPDATE \(table) SET \(column) = ? WHERE id = ?",
                arguments: [rows[1]["v"] as Data, rows[0]["id"] as String])
            try db.execute(
                sql: "UPDATE \(table) SET \(column) = ? WHERE id = ?",
                arguments: [rows[0]["v"] as Data, rows[1]["id"] as String])
        }
        Self.expectTampered(vault, key, "\(place) swapped between rows")
    }

    @Test func swappingBetweenColumnsIsDetected() throws {
        let (f, vault, key) = try populatedVault()
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE session SET refresh_token = id_token, id_token = refresh_token")
        }
        Self.expectTampered(vault, key, "refresh_token <-> id_token")

        let (g, vault2, key2) = try populatedVault()
        try editVault(g.cli.vaultPath) { db in
            // The access token of an app copied into its refresh token slot.
            try db.execute(
                sql: """
                    UPDATE session SET refresh_token = (SELECT token FROM access_token WHERE access_token.app_id = session.app_id)
                    """)
        }
        Self.expectTampered(vault2, key2, "access_token.token -> session.refresh_token")

        let (h, vault3, key3) = try populatedVault()
        try editVault(h.cli.vaultPath) { db in
            try db.execute(
                sql: "UPDATE app SET client_secret = (SELECT refresh_token FROM session WHERE session.app_id = app.id)")
        }
        Self.expectTampered(vault3, key3, "session.refresh_token -> app.client_secret")
    }

    @Test(arguments: ["token_endpoint", "client_id"])
    func redirectingSecretsElsewhereIsDetected(_ column: String) throws {
        let (f, vault, key) = try populatedVault()
        let value = column == "token_endpoint" ? "https://evil.example/token" : "3b6a2f1e-1111-4c4c-9a9a-123456789abc"
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET \(column) = ? WHERE name = 'alpha'", arguments: [value])
        }
        Self.expectTampered(vault, key, "app.\(column) edited")
        // Through the CLI: exit 5, the message, and nothing decrypted on stdout.
        for args in [["show", "alpha", "--verify"], ["backup", "--verify", f.cli.vaultPath], ["doctor", "--verify"]] {
            let result = f.cli.run(args + ["--key-file", f.keyFile])
            #expect(result.status == 5, "\(args): \(result)")
            #expect(result.stderr.contains("failed authentication: the file was modified"), "\(args): \(result)")
            #expect(!(result.stdout + result.stderr).contains("alpha-"), "nothing decrypted is printed")
        }
        // rotate-key refuses and leaves every row as it was.
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let rotate = f.cli.run(["rotate-key", "--key-file", f.keyFile, "--passphrase-file", f.passphraseFile])
        #expect(rotate.status == 5, "\(rotate)")
        #expect(try vault.summary().keyGeneration == 1)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "rotate-key changed the vault it refused")
        // set must not launder the edit by re-sealing (or re-binding) it, whichever column it was.
        let launder = f.cli.run([
            "set", "alpha", "--scope", "api://laundered/.default offline_access", "--key-file", f.keyFile
        ])
        #expect(launder.status == 5, "\(launder)")
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "set changed the vault it refused")
    }

    @Test func damagedKeySlotIsAnUnlockError() throws {
        let (f, _, _) = try populatedVault()
        try editVault(f.cli.vaultPath) { db in
            let wrapped = try Data.fetchOne(db, sql: "SELECT wrapped_key FROM key_slot WHERE kind = 'keyfile'")!
            var damaged = wrapped
            damaged[damaged.startIndex + 30] ^= 0x80
            try db.execute(sql: "UPDATE key_slot SET wrapped_key = ? WHERE kind = 'keyfile'", arguments: [damaged])
        }
        let result = f.cli.run(["show", "alpha", "--verify", "--key-file", f.keyFile])
        #expect(result.status == 4, "\(result)")
        #expect(result.stderr.contains("damaged key slot"))
        // The passphrase slot still opens the vault.
        #expect(f.cli.run(["show", "alpha", "--verify", "--passphrase-file", f.passphraseFile]).status == 0)

        // KDF parameters raised to absurd values are refused before hashing, not obeyed.
        try editVault(f.cli.vaultPath) { db in
            try db.execute(
                sql: "UPDATE key_slot SET kdf_memlimit = ? WHERE kind = 'passphrase'", arguments: [Int64(64) << 30])
        }
        let huge = f.cli.run(["show", "alpha", "--verify", "--passphrase-file", f.passphraseFile])
        #expect(huge.status == 4, "\(huge)")
        #expect(huge.stderr.contains("out-of-range KDF parameters"))

        // A slot from an older key generation does not open the current data.
        try editVault(f.cli.vaultPath) { db in try db.execute(sql: "UPDATE vault SET key_generation = 2") }
        #expect(f.cli.run(["show", "alpha", "--verify", "--key-file", f.keyFile]).status == 4)
    }
}
