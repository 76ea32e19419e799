import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// The files beside the vault (`-wal`, `-shm`, `-journal`, `VAULT.lock`, the refresh locks),
/// the directories above it, and the settings of every SQLite connection to it.
///
/// The tests run as root (CI does), so ownership is tested with files and directories given
/// to `nobody`: root must refuse them as any user refuses another user's files.
@Suite("side files, the vault's directory and SQLite settings")
struct SideFileTests {
    static let secret = "cs-CANARY-sidefile-7d2"

    /// A vault with one app, and the bytes of its main file.
    struct Setup {
        let f = Fixture()
        /// The vault path as the commands get it.
        var vault: String { f.cli.vaultPath }
        /// The same, resolved: the name every message about a side file or directory uses.
        var real: String { Vault.canonical(vault) }
        var vaultDir: String { VaultFile.directory(of: real) }

        init() {
            let added = f.addApp("adme", secret: SideFileTests.secret)
            precondition(added.status == 0, "\(added)")
        }

        func mainFile() -> Data { FileManager.default.contents(atPath: vault) ?? Data() }

        /// `list` (no unlock, no lock) and `add-app` (the vault lock): both must be refused.
        func expectRefused(
            naming file: String, _ words: String, hint: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let before = mainFile()
            let list = f.cli.run(["list"])
            #expect(list.status == 1, "\(list)", sourceLocation: sourceLocation)
            #expect(
                list.stderr.contains(file) && list.stderr.contains(words), "\(list)", sourceLocation: sourceLocation)
            #expect(
                list.stderr.contains("tokvault: hint: ") && list.stderr.contains(hint), "\(list)",
                sourceLocation: sourceLocation)
            #expect(!list.stdout.contains("adme"), "\(list)", sourceLocation: sourceLocation)
            let add = f.addApp("other", secret: SideFileTests.secret)
            #expect(add.status == 1, "\(add)", sourceLocation: sourceLocation)
            #expect(add.stderr.contains(file), "\(add)", sourceLocation: sourceLocation)
            for result in [list, add] {
                #expect(
                    !result.stdout.contains(SideFileTests.secret) && !result.stderr.contains(SideFileTests.secret),
                    sourceLocation: sourceLocation)
            }
            #expect(mainFile() == before, "the vault file was written", sourceLocation: sourceLocation)
        }

        /// Once the planted file is gone, the vault opens again with nothing lost.
        func expectWorksAgain(sourceLocation: SourceLocation = #_sourceLocation) {
            let list = f.cli.run(["list"])
            #expect(list.status == 0 && list.stdout.contains("adme"), "\(list)", sourceLocation: sourceLocation)
        }
    }

    static let nobody = (pw_uid: getpwnam("nobody")!.pointee.pw_uid, pw_gid: getpwnam("nobody")!.pointee.pw_gid)

    // MARK: -wal, -shm, -journal

    @Test func symlinkedWriteAheadLogIsRefused() throws {
        let s = Setup()
        let wal = s.real + "-wal"
        // Elsewhere: a log SQLite would replay into the vault, or a file it would write into.
        let elsewhere = s.f.dir.write("elsewhere", "untouched")
        unlink(wal)
        #expect(symlink(elsewhere, wal) == 0)
        s.expectRefused(naming: wal, "is a symbolic link", hint: "mv \(wal) \(wal).suspect")
        #expect(try String(contentsOfFile: elsewhere, encoding: .utf8) == "untouched")
        unlink(wal)
        s.expectWorksAgain()
    }

    @Test func sharedMemoryFileWithGroupOrOtherBitsIsRefused() throws {
        let s = Setup()
        let shm = s.real + "-shm"
        #expect(FileManager.default.fileExists(atPath: shm), "PERSIST_WAL keeps -shm between commands")
        chmod(shm, 0o644)
        s.expectRefused(naming: shm, "is accessible to other users (mode 644)", hint: "chmod 600 \(shm)")
        chmod(shm, 0o600)
        s.expectWorksAgain()
    }

    @Test func namedPipeAsRollbackJournalIsRefused() throws {
        let s = Setup()
        let journal = s.real + "-journal"
        #expect(mkfifo(journal, 0o600) == 0)
        s.expectRefused(naming: journal, "is a named pipe", hint: "mv \(journal)")
        unlink(journal)
        s.expectWorksAgain()
    }

    @Test func sideFileOfAnotherUserIsRefused() throws {
        let s = Setup()
        let wal = s.real + "-wal"
        #expect(FileManager.default.fileExists(atPath: wal))
        #expect(chown(wal, Self.nobody.pw_uid, Self.nobody.pw_gid) == 0)
        s.expectRefused(naming: wal, "belongs to another user (uid \(Self.nobody.pw_uid))", hint: "chown")
        #expect(chown(wal, geteuid(), getegid()) == 0)
        s.expectWorksAgain()
    }

    @Test func vaultFileOfAnotherUserIsRefused() throws {
        let s = Setup()
        #expect(chown(s.vault, Self.nobody.pw_uid, Self.nobody.pw_gid) == 0)
        let list = s.f.cli.run(["list"])
        #expect(list.status == 1, "\(list)")
        #expect(list.stderr.contains("vault \(s.vault) belongs to another user"), "\(list)")
        #expect(list.stderr.contains("tokvault: hint: run tokvault as the user who owns it"), "\(list)")
        #expect(chown(s.vault, geteuid(), getegid()) == 0)
        s.expectWorksAgain()
    }

    // MARK: Lock files

    @Test func lockFileWithGroupOrOtherBitsOrOfAnotherUserIsRefused() throws {
        let s = Setup()
        let lock = s.real + ".lock"
        #expect(FileManager.default.fileExists(atPath: lock), "add-app took the vault lock")
        chmod(lock, 0o666)
        var add = s.f.addApp("other", secret: Self.secret)
        #expect(add.status == 1, "\(add)")
        #expect(
            add.stderr.contains("\(lock) is accessible to other users (mode 666); refusing to use it as a lock file"),
            "\(add)")
        #expect(add.stderr.contains("tokvault: hint: run `chmod 600 \(lock)`"), "\(add)")
        chmod(lock, 0o600)
        #expect(chown(lock, Self.nobody.pw_uid, Self.nobody.pw_gid) == 0)
        add = s.f.addApp("other", secret: Self.secret)
        #expect(add.status == 1, "\(add)")
        #expect(add.stderr.contains("\(lock) belongs to another user"), "\(add)")
        // Reading takes no lock.
        s.expectWorksAgain()
        unlink(lock)
        add = s.f.addApp("other", secret: Self.secret)
        #expect(add.status == 0, "\(add)")
        #expect(VaultFile.mode(lock) == 0o600, "a missing lock file is created again, 0600")
    }

    @Test func symlinkedLockFileIsRefusedWithAHint() throws {
        let s = Setup()
        let lock = s.real + ".lock"
        let elsewhere = s.f.dir.write("elsewhere", "")
        unlink(lock)
        #expect(symlink(elsewhere, lock) == 0)
        let add = s.f.addApp("other", secret: Self.secret)
        #expect(add.status == 1, "\(add)")
        #expect(add.stderr.contains("cannot open lock file \(lock): it is a symbolic link"), "\(add)")
        #expect(add.stderr.contains("tokvault: hint: remove the link"), "\(add)")
    }

    /// The gate (every vault-lock acquirer passes it) and the key-slot lock are checked as
    /// `VAULT.lock` is: a symlink or a file others can open is refused, nothing is changed.
    @Test(arguments: [".lock-gate", ".lock-slots"])
    func plantedGateAndSlotLockFilesAreRefused(suffix: String) throws {
        for planted in ["symlink", "open"] {
            let s = Setup()
            let lock = s.real + suffix
            unlink(lock)
            if planted == "symlink" {
                #expect(symlink(s.f.dir.write("elsewhere", ""), lock) == 0)
            } else {
                _ = s.f.dir.write("planted", "")
                #expect(rename(s.f.dir.file("planted"), lock) == 0)
                chmod(lock, 0o644)
            }
            let newKey = s.f.dir.file("new.key")
            let result =
                suffix == ".lock-gate"
                ? s.f.addApp("other", secret: Self.secret)
                : s.f.cli.run(["keyfile", "create", newKey, "--key-file", s.f.keyFile])
            #expect(result.status == 1, "\(suffix) \(planted): \(result)")
            #expect(
                result.stderr.contains(
                    planted == "symlink" ? "it is a symbolic link" : "is accessible to other users (mode 644)"),
                "\(suffix) \(planted): \(result)")
            #expect(!FileManager.default.fileExists(atPath: newKey), "a key file was written")
            s.expectWorksAgain()
        }
    }

    @Test func refreshLockWithGroupOrOtherBitsIsRefused() throws {
        let s = Setup()
        let vault = try Vault.open(path: s.vault)
        let app = try vault.app(named: "adme")
        let lockPath = vault.path + ".lock-" + app.id
        // First use creates it (0600, whatever the test process's umask).
        let first = try vault.acquireRefreshLock(for: app, timeoutSeconds: 1)
        first.release()
        #expect(VaultFile.mode(lockPath) == 0o600)
        chmod(lockPath, 0o644)
        do {
            let lock = try vault.acquireRefreshLock(for: app, timeoutSeconds: 1)
            lock.release()
            Issue.record("a refresh lock others can open was used")
        } catch let error as VaultError {
            #expect(error.exitCode == 1)
            #expect(error.message.contains(lockPath) && error.message.contains("mode 644"), "\(error.message)")
            #expect(
                error.shownHint?.contains("chmod 600 \(lockPath)") == true, "\(String(describing: error.shownHint))")
        }
    }

    // MARK: The directory and its ancestors

    @Test func groupWritableVaultDirectoryIsRefused() throws {
        let s = Setup()
        chmod(s.vaultDir, 0o770)
        s.expectRefused(naming: s.vaultDir, "is writable by other users (mode 770)", hint: "chmod go-w \(s.vaultDir)")
        chmod(s.vaultDir, 0o700)
        s.expectWorksAgain()
    }

    @Test func vaultDirectoryOfAnotherUserIsRefused() throws {
        let s = Setup()
        #expect(chown(s.vaultDir, Self.nobody.pw_uid, Self.nobody.pw_gid) == 0)
        s.expectRefused(
            naming: s.vaultDir, "belongs to another user (uid \(Self.nobody.pw_uid))",
            hint: "keep the vault in a directory of your own")
        #expect(chown(s.vaultDir, geteuid(), getegid()) == 0)
        s.expectWorksAgain()
    }

    @Test func ancestorsMustBeTheUsersOrRootsAndNotWritableUnlessSticky() throws {
        let dir = TempDir()
        mkdir(dir.file("shared"), 0o755)
        let above = Vault.canonical(dir.file("shared"))
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": above + "/v/vault.db"])
        let key = dir.file("key")
        var result = cli.run(["init", "--no-passphrase", "--new-key-file", key])
        #expect(result.status == 0, "\(result)")
        // World-writable and not sticky: anyone can rename v/ away and put their own in its place.
        chmod(above, 0o777)
        result = cli.run(["list"])
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderr.contains(
                "\(above), a directory above vault \(above)/v/vault.db, is writable by other users (mode 777)"),
            "\(result)")
        // Sticky, as /tmp: others cannot remove or rename what is not theirs.
        chmod(above, 0o1777)
        result = cli.run(["list"])
        #expect(result.status == 0, "\(result)")
        // An ancestor of another (non-root) user: that user can chmod it and swap the vault.
        chmod(above, 0o755)
        #expect(chown(above, Self.nobody.pw_uid, Self.nobody.pw_gid) == 0)
        result = cli.run(["list"])
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderr.contains("\(above), a directory above vault \(above)/v/vault.db, belongs to another user"),
            "\(result)")
        #expect(
            result.stderr.contains(
                "tokvault: hint: keep the vault where every directory above it belongs to you or to root"), "\(result)")
        // Root's ancestors (/, /tmp) are fine: the other suites all run under mkdtemp in /tmp.
        #expect(chown(above, 0, 0) == 0)
        #expect(cli.run(["list"]).status == 0)
    }

    @Test func initRefusesAGroupWritableDirectoryAndCreatesNothing() throws {
        let dir = TempDir()
        mkdir(dir.file("v"), 0o700)
        let vaultDir = Vault.canonical(dir.file("v"))
        chmod(vaultDir, 0o775)
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": vaultDir + "/vault.db"])
        let result = cli.run(["init", "--no-passphrase", "--new-key-file", dir.file("key")])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("\(vaultDir), the directory holding vault"), "\(result)")
        #expect(result.stderr.contains("is writable by other users (mode 775)"), "\(result)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: vaultDir)).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.file("key")))
    }

    @Test func backupsAreOnlyReadSoTheirDirectoryMayBeShared() throws {
        let s = Setup()
        mkdir(s.f.dir.file("shared"), 0o775)
        let shared = Vault.canonical(s.f.dir.file("shared"))
        chmod(shared, 0o775)
        let backup = shared + "/b.db"
        #expect(s.f.cli.run(["backup", backup]).status == 0)
        let verify = s.f.cli.run(["backup", "--verify", backup, "--key-file", s.f.keyFile])
        #expect(verify.status == 0, "\(verify)")
        // Its side files are checked all the same.
        #expect(symlink(s.f.dir.write("elsewhere", ""), backup + "-journal") == 0)
        let refused = s.f.cli.run(["backup", "--verify", backup, "--key-file", s.f.keyFile])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("\(backup)-journal is a symbolic link"), "\(refused)")
    }

    // MARK: Temporaries

    @Test func emptyFilesForSQLiteAreCreatedExclusivelyWithoutFollowingLinks() throws {
        let dir = TempDir()
        let target = dir.write("target", "untouched")
        let link = dir.file("link")
        #expect(symlink(target, link) == 0)
        #expect(throws: VaultError.self) { try VaultFile.createEmpty(link) }
        #expect(throws: VaultError.self) { try VaultFile.createEmpty(target) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "untouched")
        let fresh = dir.file("fresh")
        let saved = umask(0o022)
        defer { umask(saved) }
        try VaultFile.createEmpty(fresh)
        #expect(VaultFile.mode(fresh) == 0o600)
    }

    // MARK: restore

    /// A restore whose copy fails (here: the file size limit is hit while writing it, as on a
    /// full disk) leaves the vault as it was and no `.pre-restore` links or temporaries.
    @Test func failedRestoreCopyRemovesThePreRestoreLinks() throws {
        let s = Setup()
        let backup = s.f.dir.file("backup.db")
        #expect(s.f.cli.run(["backup", backup]).status == 0)
        // The vault moves on after the backup: the restore must not lose this app.
        #expect(s.f.addApp("after-backup", secret: Self.secret).status == 0)
        let before = s.mainFile()
        let listing = { try FileManager.default.contentsOfDirectory(atPath: s.vaultDir).sorted() }
        let filesBefore = try listing()
        #expect(before.count > 32 * 1024, "the copy must be larger than the limit below")
        // An ignored SIGXFSZ stays ignored across exec, so the write fails with EFBIG.
        let limited = CLI.exec(
            [
                "/usr/bin/setsid", "-w", "/usr/bin/bash", "-c", "trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\"",
                CLI.binary, "restore", backup, "--yes", "--key-file", s.f.keyFile
            ],
            environment: s.f.cli.environment, cwd: s.f.dir.path)
        #expect(limited.status == 1, "\(limited)")
        #expect(limited.stderr.contains("tokvault: error: cannot write"), "\(limited)")
        #expect(!limited.stdout.contains(Self.secret) && !limited.stderr.contains(Self.secret))
        let filesAfter = try listing()
        #expect(!filesAfter.contains { $0.contains("pre-restore") }, "\(filesAfter)")
        #expect(!filesAfter.contains { $0.contains("tokvault-tmp") }, "\(filesAfter)")
        #expect(filesAfter == filesBefore)
        #expect(s.mainFile() == before)
        let list = s.f.cli.run(["list"])
        #expect(list.status == 0 && list.stdout.contains("after-backup"), "\(list)")
        #expect(s.f.cli.run(["show", "after-backup", "--verify", "--key-file", s.f.keyFile]).status == 0)
        // Without the limit the same restore goes through and keeps one pre-restore copy.
        let restored = s.f.cli.run(["restore", backup, "--yes", "--key-file", s.f.keyFile])
        #expect(restored.status == 0, "\(restored)")
        #expect(try listing().filter { $0.contains("pre-restore") && !$0.hasSuffix("-wal") }.count == 1)
    }

    // MARK: SQLite settings

    @Test func everyConnectionIsDefensiveAndDistrustsTheSchema() throws {
        let s = Setup()
        for readOnly in [false, true] {
            let vault = try Vault.open(path: s.vault, readOnly: readOnly)
            let settings = try vault.dbQueue.inDatabase { db in
                [
                    try Int.fetchOne(db, sql: "PRAGMA trusted_schema"),
                    try Int.fetchOne(db, sql: "PRAGMA cell_size_check"),
                    try Int.fetchOne(db, sql: "PRAGMA mmap_size")
                ]
            }
            #expect(settings == [0, 1, 0], "trusted_schema, cell_size_check, mmap_size with readOnly \(readOnly)")
        }
        // Untrusted schema: a view planted in the file cannot call an application-defined
        // function (GRDB registers some on every connection) that is not marked innocuous. The
        // view is planted after the vault is open: opening a vault that holds one is refused
        // (VaultSchemaTests), and this is the second line of defence behind that check.
        let viewer = try Vault.open(path: s.vault)
        do {
            let planter = try DatabaseQueue(path: s.vault)
            try planter.writeWithoutTransaction { db in
                try db.execute(sql: "CREATE VIEW planted AS SELECT swiftCapitalizedString(name) AS n FROM app")
            }
            try planter.close()
        }
        let direct = try viewer.dbQueue.inDatabase { db -> String? in
            let error = #expect(throws: DatabaseError.self) { try String.fetchAll(db, sql: "SELECT n FROM planted") }
            #expect(
                error?.message?.contains("unsafe use of swiftCapitalizedString") == true, "\(String(describing: error))"
            )
            return try String.fetchOne(db, sql: "SELECT swiftCapitalizedString('adme')")
        }
        // Called directly, it works: only the file's own SQL is distrusted.
        #expect(direct == "Adme")
        // Defensive mode: writable_schema cannot be turned on, so sqlite_master cannot be
        // edited through a vault connection.
        try viewer.dbQueue.inDatabase { db in
            try db.execute(sql: "PRAGMA writable_schema = ON")
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "UPDATE sqlite_master SET sql = sql WHERE name = 'app'")
            }
        }
    }
}
