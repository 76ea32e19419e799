import Foundation
import GRDB

@testable import TokvaultVault

/// The format 1 vault, rebuilt from its SQL dump at the CLI's vault path, with its key file.
struct Format1Vault {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The plaintexts of its secrets (Fixtures/expected.json).
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

    let dir = TempDir()
    let cli: CLI
    let keyFile: String
    let expected: Expected

    init() throws {
        cli = CLI(dir)
        mkdir(dir.path + "/vault", 0o700)
        let sql = try String(
            contentsOf: Format1Vault.fixtures.appendingPathComponent("format1-vault.sql"), encoding: .utf8)
        let made = CLI.exec(
            ["/usr/bin/sqlite3", cli.vaultPath], stdin: sql + "\nPRAGMA journal_mode = WAL;\n", environment: [:])
        precondition(made.status == 0, "sqlite3 could not rebuild the fixture: \(made)")
        chmod(cli.vaultPath, 0o600)
        let key = try String(contentsOf: Format1Vault.fixtures.appendingPathComponent("format1.key"), encoding: .utf8)
        keyFile = dir.write("format1.key", key)
        expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: Format1Vault.fixtures.appendingPathComponent("expected.json")))
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
