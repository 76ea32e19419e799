import Foundation
import GRDB

@testable import TokvaultVault

/// A vault written by an earlier release, rebuilt from its SQL dump (Fixtures/NAME-vault.sql)
/// at the CLI's vault path, with its key file (Fixtures/NAME.key).
struct FixtureVault {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    let dir = TempDir()
    let cli: CLI
    let keyFile: String

    init(_ name: String) throws {
        cli = CLI(dir)
        mkdir(dir.path + "/vault", 0o700)
        let sql = try String(contentsOf: Self.fixtures.appendingPathComponent("\(name)-vault.sql"), encoding: .utf8)
        let made = CLI.exec(
            ["/usr/bin/sqlite3", cli.vaultPath], stdin: sql + "\nPRAGMA journal_mode = WAL;\n", environment: [:])
        precondition(made.status == 0, "sqlite3 could not rebuild the fixture: \(made)")
        chmod(cli.vaultPath, 0o600)
        let key = try String(contentsOf: Self.fixtures.appendingPathComponent("\(name).key"), encoding: .utf8)
        keyFile = dir.write("\(name).key", key)
        // The fixture's cached tokens expired long ago; their expiry is a public column.
        try editVault(cli.vaultPath) { db in
            try db.execute(
                sql: "UPDATE access_token SET expires_at = ?", arguments: [Int64(Date().timeIntervalSince1970) + 3600])
        }
    }

    var material: UnlockMaterial {
        get throws { UnlockMaterial(keyFiles: [(keyFile, try KeyFile.load(path: keyFile))]) }
    }

    func formatVersion() throws -> Int {
        try DatabaseQueue(path: cli.vaultPath).read { try Int.fetchOne($0, sql: "SELECT format_version FROM vault")! }
    }

    /// Each app's binding, by name.
    func bindings() throws -> [String: Data] {
        let rows = try DatabaseQueue(path: cli.vaultPath).read {
            try Row.fetchAll($0, sql: "SELECT name, binding FROM app")
        }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["name"] as String, $0["binding"] as Data) })
    }

    /// Every sealed field's plaintext, by place, read without changing the file.
    func plaintexts() throws -> [String: [UInt8]] {
        let vault = try Vault.open(path: cli.vaultPath, readOnly: true)
        let key = try vault.unlock(try material)
        let cells = try vault.read { db in try Vault.sealedCells(db) }
        var out: [String: [UInt8]] = [:]
        for cell in cells {
            let plaintext = try SealedField.open(cell.sealed, key: key, place: cell.place, what: cell.what)
            out["\(cell.table).\(cell.column).\(cell.row)"] = plaintext.withUnsafeBytes { Array($0) }
        }
        return out
    }
}

/// The format 1 vault (written by the last format 1 release: every kind of sealed field) and
/// the plaintexts of its secrets (Fixtures/expected.json).
@dynamicMemberLookup
struct Format1Vault {
    struct Expected: Decodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // (the key names of expected.json)
        struct Adme: Decodable {
            var client_secret: String
            var refresh_token: String
            var access_token: String
            var storage_access_token: String
        }
        var adme: Adme
    }

    let vault: FixtureVault
    let expected: Expected

    init() throws {
        vault = try FixtureVault("format1")
        expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: FixtureVault.fixtures.appendingPathComponent("expected.json")))
    }

    subscript<T>(dynamicMember path: KeyPath<FixtureVault, T>) -> T { vault[keyPath: path] }
    func formatVersion() throws -> Int { try vault.formatVersion() }
    func plaintexts() throws -> [String: [UInt8]] { try vault.plaintexts() }
}

/// The format 2 vault (written by the last format 2 release): apps alpha and beta with
/// NAME-client-secret, NAME-refresh, NAME-id and NAME-access, and pub, a public client.
func format2Vault() throws -> FixtureVault { try FixtureVault("format2") }
