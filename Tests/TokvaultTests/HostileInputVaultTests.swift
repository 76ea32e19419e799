import Foundation
import GRDB
import Testing

@testable import TokvaultVault

@Suite("hostile input: vault files")
struct HostileInputVaultTests {
    @Test func formatVersionFromTheFutureIsRefusedWithoutWriting() throws {
        let f = Fixture()
        try editVault(f.cli.vaultPath) {
            try $0.execute(sql: "UPDATE vault SET format_version = \(Vault.formatVersion + 1)")
        }
        let before = try Hostile.snapshot(f.cli.vaultPath)
        for args in [
            ["list"], ["show", "x"], ["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--public"]
        ] {
            let result = f.cli.run(args)
            #expect(result.status == 1, "\(args): \(result)")
            #expect(result.stderr.contains("written by a newer tokvault"), "\(args): \(result)")
            Hostile.expectClean(result)
        }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test(arguments: ["DELETE FROM vault", "DROP TABLE grdb_migrations", "DROP TABLE vault"])
    func missingSchemaOrVaultRecordIsDamage(_ sql: String) throws {
        let f = Fixture()
        try editVault(f.cli.vaultPath) { try $0.execute(sql: sql) }
        let before = try Hostile.snapshotOfFile(f.cli.vaultPath)
        for args in [["list"], ["show", "x", "--verify", "--key-file", f.keyFile]] {
            let result = f.cli.run(args)
            #expect(result.status == 5, "\(sql) \(args): \(result)")
            #expect(result.stderr.contains("its schema or vault record is missing"), "\(sql): \(result)")
            Hostile.expectClean(result)
        }
        #expect(try Hostile.snapshotOfFile(f.cli.vaultPath) == before, "nothing is written to a damaged file")
    }

    @Test func sqliteMagicFollowedByGarbageIsDamage() throws {
        let dir = TempDir()
        var generator = SplitMix64(seed: 0x7e57)
        let garbage =
            Array("SQLite format 3\u{0}".utf8) + (0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let path = dir.file("vault.db")
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data(garbage), attributes: [.posixPermissions: 0o600]))
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": path])
        for args in [["list"], ["token", "x"], ["show", "x", "--verify"]] {
            let result = cli.run(args)
            #expect(result.status == 5, "\(args): \(result)")
            #expect(
                result.stderr.hasPrefix("tokvault: error: vault ") && result.stderr.contains("is damaged"),
                "\(args): \(result)")
            Hostile.expectClean(result)
        }
        let doctor = cli.run(["doctor"])
        #expect(doctor.status == 5, "\(doctor)")
        #expect(doctor.stdout.contains("PROBLEM: vault") && doctor.stdout.contains("is damaged"), "\(doctor)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(garbage))
    }

    @Test func namedPipeAsVaultIsRefusedWithoutHanging() throws {
        let dir = TempDir()
        let path = dir.file("vault.db")
        #expect(mkfifo(path, 0o600) == 0)
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": path])
        let started = Date()
        // A reader that opened the FIFO would block until a writer came: none ever does.
        let result = cli.run(["list"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("is not a regular file, not a tokvault vault"), "\(result)")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    /// The cached access token's ciphertext edited: `token` must fail, not print what it got.
    @Test func tamperedCachedAccessTokenIsNeverPrinted() throws {
        let (f, _, _) = try populatedVault()
        let good = f.cli.run(["token", "alpha", "--key-file", f.keyFile])
        #expect(good.status == 0 && good.stdout == "alpha-access\n", "\(good)")
        try editVault(f.cli.vaultPath) { db in
            let app = try String.fetchOne(db, sql: "SELECT id FROM app WHERE name = 'alpha'")!
            var sealed = try Data.fetchOne(
                db, sql: "SELECT token FROM access_token WHERE app_id = ?", arguments: [app])!
            sealed[sealed.startIndex + 30] ^= 0x01
            try db.execute(sql: "UPDATE access_token SET token = ? WHERE app_id = ?", arguments: [sealed, app])
        }
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["token", "alpha", "--key-file", f.keyFile])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("failed authentication: the file was modified"), "\(result)")
        #expect(result.stdout.isEmpty)
        Hostile.expectClean(result, secrets: ["alpha-access", "alpha-refresh", "alpha-client-secret"])
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    /// The refresh token's ciphertext edited: the refresh is refused before anything is sent.
    @Test func tamperedRefreshTokenIsNeverSent() throws {
        let server = try HostileServer(
            always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-never","expires_in":3600}"#))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        try editVault(e.cli.vaultPath) { db in
            var sealed = try Data.fetchOne(db, sql: "SELECT refresh_token FROM session")!
            sealed[sealed.endIndex - 1] ^= 0x80
            try db.execute(sql: "UPDATE session SET refresh_token = ?", arguments: [sealed])
        }
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("failed authentication"), "\(result)")
        #expect(result.stdout.isEmpty)
        Hostile.expectClean(result)
        #expect(server.requests.isEmpty, "a damaged refresh token is never sent anywhere")
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }
}

extension Hostile {
    /// The raw bytes of a vault SQLite may refuse to read, and of its write-ahead log (where
    /// a write would land first).
    static func snapshotOfFile(_ path: String) throws -> Data {
        let wal = FileManager.default.contents(atPath: path + "-wal") ?? Data()
        return try Data(contentsOf: URL(fileURLWithPath: path)) + wal
    }
}
