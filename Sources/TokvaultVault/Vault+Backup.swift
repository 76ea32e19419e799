import Foundation
import GRDB

extension Vault {
    /// Copies the vault to `destination` with SQLite's online backup API. The copy is still
    /// encrypted, mode 0600, a single file (rollback journal, no -wal), and appears atomically:
    /// linked into place (never replacing a file) unless `overwrite`, then renamed.
    package func backup(
        to destination: String, overwrite: Bool, recordEvent: Bool = true,
        beforePlacing: () -> Void = {}
    ) throws {
        var st = stat()
        if lstat(destination, &st) == 0 {
            guard overwrite else {
                throw VaultError.failure(
                    "\(destination) already exists",
                    hint: "choose a new file name, or pass \(.option(.force)) to replace it")
            }
            guard st.st_mode & S_IFMT == S_IFREG else {
                throw VaultError.failure("\(destination) exists and is not a regular file; refusing to replace it")
            }
        }
        let dir = VaultFile.directory(of: destination)
        // A backup killed mid-copy leaves its temporary (0600, as encrypted as the vault); the
        // next backup to the same name removes those whose process is gone (any after a minute).
        VaultFile.sweepStaleTemporaries(beside: destination)
        let temporary = VaultFile.temporaryName(beside: destination)
        try VaultFile.createEmpty(temporary)
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) } }
        try Self.mapDatabaseErrors(path: destination) {
            let target = try DatabaseQueue(path: temporary)
            chmod(temporary, 0o600)
            try dbQueue.backup(to: target)
            try target.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try target.close()
        }
        chmod(temporary, 0o600)
        VaultFile.sync(temporary)
        beforePlacing()
        let placed = overwrite ? rename(temporary, destination) : link(temporary, destination)
        guard placed == 0 else {
            let reason = errno == EEXIST ? "file exists" : String(cString: strerror(errno))
            throw VaultError.failure("cannot write \(destination): \(reason)")
        }
        VaultFile.sync(dir)
        if recordEvent {
            try sealingWrite(key: nil) { db in try Self.record(db, "backup", detail: destination) }
        }
    }

    package struct VerifyReport: Sendable {
        package var apps: Int
        package var sealedFields: Int
        package var slots: [String]
        package var integrity: [String]
    }

    /// Full check of a vault file: SQLite integrity, identity, schema, unlock, every sealed field.
    package func verify(material: UnlockMaterial) throws -> VerifyReport {
        let integrity = try integrityCheck(full: true)
        guard integrity == ["ok"] else {
            throw VaultError.damaged(
                "\(path) failed SQLite's integrity check: \(integrity.prefix(3).joined(separator: "; "))")
        }
        let key = try unlock(material)
        let count = try verifyAllSealedFields(key: key)
        return VerifyReport(
            apps: try apps().count, sealedFields: count, slots: try keySlots().map(\.label), integrity: integrity)
    }

    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// Replaces the vault at `vaultPath` with the backup at `backupPath`, after verifying the
    /// backup fully (it must unlock with `material`); the backup itself is only read. The
    /// vault it replaces, damaged or not, is kept beside it as `VAULT.pre-restore-TIMESTAMP`
    /// (hard links to its file and its -wal, so its newest commits are kept too).
    package static func restore(backupPath: String, to requestedPath: String, material: UnlockMaterial) throws -> (
        report: VerifyReport, saved: String?
    ) {
        let backup = try Vault.open(path: backupPath, readOnly: true)
        let report = try backup.verify(material: material)
        // A symlinked vault is restored where the link points, as every other command uses it.
        let vaultPath = canonical(requestedPath)
        var saved: String?
        try VaultFile.ensureDirectory(for: vaultPath)
        try VaultFile.checkDirectory(holding: vaultPath)
        let lock = VaultLock(vaultPath: vaultPath)
        try lock.acquire(.exclusive)
        defer { lock.release() }
        if VaultFile.exists(vaultPath) {
            var aside = vaultPath + ".pre-restore-" + timestamp()
            var attempt = 1
            while link(vaultPath, aside) != 0 {
                guard errno == EEXIST, attempt < 100 else {
                    throw VaultError.failure(
                        "cannot keep the current vault as \(aside): \(String(cString: strerror(errno)))")
                }
                attempt += 1
                aside = vaultPath + ".pre-restore-" + timestamp() + "-\(attempt)"
            }
            if VaultFile.exists(vaultPath + "-wal") && link(vaultPath + "-wal", aside + "-wal") != 0 {
                unlink(aside)
                throw VaultError.failure(
                    "cannot keep the current vault's -wal as \(aside)-wal: \(String(cString: strerror(errno)))")
            }
            saved = aside
        }
        // The old -wal and -shm must go right before the new file takes the name: SQLite would
        // otherwise replay the old vault's log into the restored one.
        var walRemoved = false
        do {
            try backup.backup(
                to: vaultPath, overwrite: saved != nil, recordEvent: false,
                beforePlacing: {
                    walRemoved = true
                    unlink(vaultPath + "-wal")
                    unlink(vaultPath + "-shm")
                })
        } catch {
            // The copy failed: the vault is as it was, so the pre-restore links go (they would
            // only pile up). If the copy failed after the old -wal was unlinked (the final
            // rename), the -wal is linked back from its pre-restore name first, and the links
            // stay if that fails, as the only complete copy of the vault.
            if let saved {
                let intact =
                    !walRemoved || !VaultFile.exists(saved + "-wal") || link(saved + "-wal", vaultPath + "-wal") == 0
                if intact {
                    unlink(saved + "-wal")
                    unlink(saved)
                }
            }
            throw error
        }
        do {
            let restored = try Vault.open(path: vaultPath)
            try restored.dbQueue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try Self.record(
                    db, "restore", detail: "from \(backupPath)" + (saved.map { "; previous vault kept as \($0)" } ?? "")
                )
            }
        } catch let error as VaultError {
            throw VaultError(
                error.kind,
                "the backup was restored to \(vaultPath), but reopening it failed: \(error.message)",
                hint: saved.map { "the previous vault is kept as \($0)" } ?? error.hint)
        }
        return (report, saved)
    }
}
