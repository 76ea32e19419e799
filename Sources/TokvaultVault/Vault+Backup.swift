import Foundation
import GRDB

extension Vault {
    /// Copies the vault to `destination` with SQLite's online backup API. The copy is still
    /// encrypted, mode 0600, a single file (rollback journal, no -wal), and appears atomically.
    public func backup(to destination: String, overwrite: Bool) throws {
        if VaultFile.exists(destination) && !overwrite {
            throw VaultError.failure("\(destination) already exists", hint: "choose a new file name, or pass --force to replace it")
        }
        if VaultFile.exists(destination) {
            var st = stat()
            if lstat(destination, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
                throw VaultError.failure("\(destination) exists and is not a regular file; refusing to replace it")
            }
        }
        let dir = (destination as NSString).deletingLastPathComponent
        let temporary = (dir.isEmpty ? "." : dir) + "/.\((destination as NSString).lastPathComponent).tokvault-tmp-\(Sodium.hex(Sodium.randomBytes(6)))"
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) } }
        try Self.mapDatabaseErrors(path: destination) {
            let target = try DatabaseQueue(path: temporary)
            try dbQueue.backup(to: target)
            try target.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try target.close()
        }
        chmod(temporary, 0o600)
        VaultFile.sync(temporary)
        guard rename(temporary, destination) == 0 else {
            throw VaultError.failure("cannot write \(destination): \(String(cString: strerror(errno)))")
        }
        VaultFile.sync(dir.isEmpty ? "." : dir)
        try sealingWrite(key: nil) { db in try Self.record(db, "backup", detail: destination) }
    }

    public struct VerifyReport: Sendable {
        public var apps: Int
        public var sealedFields: Int
        public var slots: [String]
        public var integrity: [String]
    }

    /// Full check of a vault file: SQLite integrity, identity, schema, unlock, every sealed field.
    public func verify(material: UnlockMaterial) throws -> VerifyReport {
        let integrity = try integrityCheck(full: true)
        guard integrity == ["ok"] else {
            throw VaultError.damaged("\(path) failed SQLite's integrity check: \(integrity.prefix(3).joined(separator: "; "))")
        }
        let key = try unlock(material)
        let count = try verifyAllSealedFields(key: key)
        return VerifyReport(apps: try apps().count, sealedFields: count, slots: try keySlots().map(\.label), integrity: integrity)
    }

    /// Replaces the vault at `vaultPath` with the backup at `backupPath`, after verifying the
    /// backup fully (it must unlock with `material`). The replaced vault is first saved beside
    /// it as `VAULT.pre-restore-TIMESTAMP`; returns that path (nil when there was no vault).
    public static func restore(backupPath: String, to vaultPath: String, material: UnlockMaterial) throws -> (report: VerifyReport, saved: String?) {
        let backup = try Vault.open(path: backupPath)
        let report = try backup.verify(material: material)
        guard !VaultFile.exists(vaultPath) else {
            let live = try Vault.open(path: vaultPath)
            try live.lock.acquire(.exclusive)
            defer { live.lock.release() }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            let saved = vaultPath + ".pre-restore-" + formatter.string(from: Date())
            try live.backup(to: saved, overwrite: false)
            try mapDatabaseErrors(path: vaultPath) {
                try backup.dbQueue.backup(to: live.dbQueue)
                try live.dbQueue.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA journal_mode = WAL")
                    try Self.record(db, "restore", detail: "from \(backupPath); previous vault saved as \(saved)")
                }
            }
            return (report, saved)
        }
        try VaultFile.ensureDirectory(for: vaultPath)
        try backup.backup(to: vaultPath, overwrite: false)
        let restored = try Vault.open(path: vaultPath)
        try restored.dbQueue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try Self.record(db, "restore", detail: "from \(backupPath)")
        }
        return (report, nil)
    }
}
