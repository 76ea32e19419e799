import Foundation
import GRDB
import Testing

@testable import TokvaultUseCases
@testable import TokvaultVault

/// The cached `token` read skips `Vault.open`, so it must refuse by itself everything `open`
/// and the usual cache hit refuse: each case below returns nil (the caller then goes the usual
/// way, which reports it), never a token.
@Suite("cached read")
struct CachedReadTests {
    static func material(_ f: Fixture) throws -> UnlockMaterial {
        UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))])
    }

    static func hit(_ f: Fixture, _ name: String = "alpha", scope: String? = nil, minValid: Int64 = 300) throws
        -> TokenService.Result?
    {
        TokenService.cachedWithoutOpening(
            vaultPath: f.cli.vaultPath, appName: name, scope: scope, minValid: minValid, material: try material(f))
    }

    static func text(_ bytes: SecureBytes) -> String {
        bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    @Test func readsWhatTheUsualHitReads() async throws {
        let (f, vault, _) = try populatedVault()
        let read = try #require(try Self.hit(f))
        let usual = try await TokenService(vault: vault).accessToken(
            appName: "alpha", scope: nil, minValid: 300, force: false, material: try Self.material(f))
        #expect(Self.text(read.token) == "alpha-access")
        #expect(Self.text(read.token) == Self.text(usual.token))
        #expect(read.record.expiresAt == usual.record.expiresAt)
        #expect(read.record.tokenType == usual.record.tokenType)
        #expect(read.app.id == usual.app.id && !read.refreshed)
        #expect(Self.text(try #require(try Self.hit(f, "beta")).token) == "beta-access")
    }

    @Test func aTokenNotValidLongEnoughOrOfAnotherScopeIsNotRead() throws {
        let (f, _, _) = try populatedVault()
        #expect(try Self.hit(f, minValid: 3400) != nil)
        // 100 s left of a token obtained an hour ago: not enough for the default 300.
        try editVault(f.cli.vaultPath) { db in
            try db.execute(
                sql:
                    """
                    UPDATE access_token SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) + 100,
                                            obtained_at = CAST(strftime('%s', 'now') AS INTEGER) - 3500
                    """)
        }
        #expect(try Self.hit(f, minValid: 60) != nil)
        #expect(try Self.hit(f) == nil)
        #expect(try Self.hit(f, scope: "https://graph.microsoft.com/.default") == nil)
        #expect(try Self.hit(f, "gamma") == nil)
    }

    @Test func wrongOrMissingMaterialReadsNothing() throws {
        let (f, _, _) = try populatedVault()
        let other = TempDir()
        let wrong = other.file("wrong.key")
        #expect(CLI(other).run(["init", "--new-key-file", wrong, "--no-passphrase"]).status == 0)
        let wrongMaterial = UnlockMaterial(keyFiles: [(wrong, try KeyFile.load(path: wrong))])
        #expect(
            TokenService.cachedWithoutOpening(
                vaultPath: f.cli.vaultPath, appName: "alpha", scope: nil, minValid: 0, material: wrongMaterial) == nil)
        #expect(
            TokenService.cachedWithoutOpening(
                vaultPath: f.cli.vaultPath, appName: "alpha", scope: nil, minValid: 0, material: UnlockMaterial())
                == nil)
    }

    /// Each edit an attacker who can write the file might make; `open` or the usual hit refuses
    /// every one, and so must the read that skips them.
    static let edits: [(note: String, sql: String)] = [
        (
            "token swapped between apps",
            """
            CREATE TEMP TABLE t AS SELECT app_id, token FROM access_token;
            UPDATE access_token SET token = (SELECT token FROM t WHERE t.app_id != access_token.app_id);
            """
        ),
        (
            "token moved to the other app",
            """
            DELETE FROM access_token WHERE app_id = (SELECT id FROM app WHERE name = 'beta');
            UPDATE access_token SET app_id = (SELECT id FROM app WHERE name = 'beta');
            """
        ),
        (
            "apps' names swapped",
            """
            UPDATE app SET name = 'swap' WHERE name = 'alpha';
            UPDATE app SET name = 'alpha' WHERE name = 'beta';
            UPDATE app SET name = 'beta' WHERE name = 'swap';
            """
        ),
        ("token endpoint redirected", "UPDATE app SET token_endpoint = 'https://evil.example/token'"),
        ("binding removed", "UPDATE app SET binding = NULL"),
        ("a trigger added", "CREATE TRIGGER spy AFTER UPDATE ON access_token BEGIN SELECT 1; END"),
        ("a view added", "CREATE VIEW spy AS SELECT * FROM app"),
        ("an index added", "CREATE INDEX spy ON app(client_id)"),
        ("format version lowered", "UPDATE vault SET format_version = 2"),
        ("format version raised", "UPDATE vault SET format_version = 4"),
        ("a migration forgotten", "DELETE FROM grdb_migrations WHERE rowid = (SELECT max(rowid) FROM grdb_migrations)"),
        ("an unknown migration", "INSERT INTO grdb_migrations VALUES ('v99-from-the-future')"),
        ("application id changed", "PRAGMA application_id = 1"),
        ("key slots removed", "DELETE FROM key_slot")
    ]

    @Test(arguments: CachedReadTests.edits.map(\.note))
    func anEditedVaultReadsNothing(_ note: String) throws {
        let (f, _, _) = try populatedVault()
        #expect(try Self.hit(f) != nil)
        let sql = try #require(Self.edits.first { $0.note == note }?.sql)
        try editVault(f.cli.vaultPath) { db in try db.execute(sql: sql) }
        #expect(try Self.hit(f) == nil, "\(note)")
        #expect(try Self.hit(f, "beta") == nil, "\(note)")
        // And the command as a script runs it: no token, a non-zero exit, nothing decrypted.
        let result = f.cli.run(["token", "alpha", "--key-file", f.keyFile])
        #expect(result.status != 0, "\(note): \(result)")
        #expect(!(result.stdout + result.stderr).contains("-access"), "\(note): \(result)")
    }

    @Test func aVaultNotThereOrNotAVaultReadsNothing() throws {
        let (f, _, _) = try populatedVault()
        let material = try Self.material(f)
        let dir = TempDir()
        let notVault = dir.file("plain.db")
        try Data("SQLite format 3\0 but not really".utf8).write(to: URL(fileURLWithPath: notVault))
        for path in [dir.file("absent.db"), notVault, dir.path] {
            #expect(
                TokenService.cachedWithoutOpening(
                    vaultPath: path, appName: "alpha", scope: nil, minValid: 0, material: material) == nil, "\(path)")
        }
    }

    @Test func aGroupOrWorldWritableVaultReadsNothing() throws {
        let (f, _, _) = try populatedVault()
        #expect(chmod(f.cli.vaultPath, 0o666) == 0)
        #expect(try Self.hit(f) == nil)
        #expect(chmod(f.cli.vaultPath, 0o600) == 0)
        #expect(try Self.hit(f) != nil)
    }
}
