import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// Files that are not (whole) vaults get one clear error and a documented exit code.
@Suite("bad vault files")
struct BadVaultFileTests {
    func expectRefused(_ cli: CLI, status: Int32, message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for args in [["list"], ["show", "x"], ["doctor"]] {
            let result = cli.run(args)
            #expect(result.status == status, "\(args): \(result)", sourceLocation: sourceLocation)
            #expect(
                result.stderr.contains(message) || result.stdout.contains(message), "\(args): \(result)",
                sourceLocation: sourceLocation)
            #expect(!result.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
        }
    }

    @Test func missingVault() {
        let cli = CLI(TempDir())
        let result = cli.run(["list"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no vault at"))
        #expect(result.stderr.contains("tokvault init"))
    }

    @Test func emptyFile() throws {
        let dir = TempDir()
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": dir.write("vault.db", "")])
        expectRefused(cli, status: 5, message: "is empty (0 bytes)")
    }

    @Test func textFile() throws {
        let dir = TempDir()
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": dir.write("vault.db", "TENANT=x\nSECRET=y\n")])
        expectRefused(cli, status: 5, message: "not a tokvault vault")
    }

    @Test func directory() throws {
        let dir = TempDir()
        mkdir(dir.file("vault.db"), 0o700)
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": dir.file("vault.db")])
        expectRefused(cli, status: 5, message: "is a directory")
    }

    @Test func symlinkToDevZero() throws {
        let dir = TempDir()
        symlink("/dev/zero", dir.file("vault.db"))
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": dir.file("vault.db")])
        expectRefused(cli, status: 5, message: "not a regular file")
    }

    @Test func foreignSQLiteDatabase() throws {
        let dir = TempDir()
        let path = dir.file("vault.db")
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello')") }
        try db.close()
        chmod(path, 0o600)
        expectRefused(
            CLI(dir, environment: ["TOKVAULT_VAULT": path]), status: 5,
            message: "an SQLite database, but not a tokvault vault")
    }

    @Test func newerSchema() throws {
        let f = Fixture()
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999_from_the_future')")
        }
        let result = f.cli.run(["list"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("newer tokvault"))
    }

    @Test(arguments: [0.9, 0.5, 0.1])
    func truncatedVault(_ fraction: Double) throws {
        let f = Fixture()
        for i in 0..<20 { #expect(f.addApp("app\(i)", secret: "secret-\(i)").status == 0) }
        // Fold the WAL into the main file so truncation hits real data.
        let db = try DatabaseQueue(path: f.cli.vaultPath)
        try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try db.close()
        let size = try FileManager.default.attributesOfItem(atPath: f.cli.vaultPath)[.size] as! Int
        #expect(truncate(f.cli.vaultPath, off_t(Double(size) * fraction)) == 0)
        for suffix in ["-wal", "-shm"] { unlink(f.cli.vaultPath + suffix) }
        for args in [
            ["list"], ["show", "app0", "--verify", "--key-file", f.keyFile],
            ["backup", "--verify", f.cli.vaultPath, "--key-file", f.keyFile]
        ] {
            let result = f.cli.run(args)
            // Depending on where the cut lands, SQLite notices at open or at first read.
            #expect(result.status != 0, "\(args): \(result)")
            #expect(result.stderr.hasPrefix("tokvault: error: "), "\(args): \(result)")
            #expect(!result.stderr.contains("Fatal error"), "\(args): \(result)")
            if result.status != 1 { #expect(result.status == 5 || result.status == 4, "\(args): \(result)") }
        }
        // The full integrity check always notices.
        let verify = f.cli.run(["backup", "--verify", f.cli.vaultPath, "--key-file", f.keyFile])
        #expect(verify.status == 5, "\(verify)")
    }

    @Test func groupReadableVaultIsRefused() throws {
        let f = Fixture()
        chmod(f.cli.vaultPath, 0o640)
        let result = f.cli.run(["list"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("accessible to other users"))
        #expect(result.stderr.contains("chmod 600"))
        let doctor = f.cli.run(["doctor"])
        #expect(doctor.status != 0)
        #expect(doctor.stdout.contains("PROBLEM"))
    }
}
