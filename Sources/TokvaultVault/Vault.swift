import CTokvault
import Foundation
import GRDB
import GRDBSQLite

/// One vault file. Owns the database connection, runs the migrations, and offers named
/// transactional operations; nothing outside this module writes SQL.
package final class Vault: @unchecked Sendable {
    /// The format this build writes (docs/vault-format.md). Format 1 vaults are upgraded by the
    /// first unlock (`upgradeFormat`).
    package static let formatVersion = 3
    /// `PRAGMA application_id` of every vault ("tkvt").
    package static let applicationID: Int32 = 0x746B_7674

    package let path: String
    let dbQueue: DatabaseQueue
    let lock: VaultLock
    /// `VAULT.lock-slots`, held across a change of the key slots (`withSlotLock`).
    let slotLock: VaultLock
    /// The file this connection opened: a `restore` swaps another file in under the same name.
    private let identity: (dev: UInt64, ino: UInt64)?
    let readOnly: Bool
    /// `vault.format_version` as last read (at open, and after an upgrade by this process).
    /// Rows read while it was 1 are not bound: after an upgrade they must be read again.
    package internal(set) var format: Int = Vault.formatVersion
    /// Told what an upgrade of the format sealed (the CLI prints it on stderr).
    nonisolated(unsafe) package static var upgradeNotice: ((Guidance) -> Void)?

    private init(path: String, dbQueue: DatabaseQueue, readOnly: Bool = false) {
        self.path = path
        self.readOnly = readOnly
        self.dbQueue = dbQueue
        self.lock = VaultLock(vaultPath: path)
        self.slotLock = VaultLock(vaultPath: path, name: "slots")
        self.identity = Self.fileIdentity(path)
    }

    static func fileIdentity(_ path: String) -> (dev: UInt64, ino: UInt64)? {
        var st = stat()
        return stat(path, &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
    }

    /// After taking the lock: is the file at `path` still the one this connection has open?
    func checkNotReplaced() throws {
        guard let identity, let now = Self.fileIdentity(path), now == identity else {
            throw VaultError.failure(
                "vault \(path) was replaced (restored) while this command ran; nothing was changed",
                hint: "run the command again")
        }
    }

    /// Symlinks resolved, so that every process locks and opens the same file.
    static func canonical(_ path: String) -> String {
        realpath(path, nil).map { p in
            defer { free(p) }
            return String(cString: p)
        } ?? path
    }

    static func configuration(readOnly: Bool = false) -> Configuration {
        var config = Configuration()
        config.readonly = readOnly
        config.foreignKeysEnabled = true
        // Writers serialize on SQLite's write lock; wait for one another rather than fail.
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // Before any statement reads the schema: defensive mode (no writable_schema, no
            // raw page writes, no shadow-table writes, even by a migration) and an untrusted
            // schema (a view, trigger or CHECK planted in the file cannot call functions with
            // side effects or virtual tables). cell_size_check: a corrupt b-tree page is an
            // error, found while reading, rather than read on; no mmap: a file changed under
            // the process cannot change bytes SQLite already checked.
            guard tokvault_sqlite_harden(db.sqliteConnection) == 0 else {
                throw VaultError.failure(
                    "this SQLite (\(String(cString: sqlite3_libversion()))) refused defensive mode or trusted_schema=OFF",
                    hint: "tokvault needs SQLite 3.31 or newer")
            }
            // A rotated refresh token must survive a power cut once tokvault says it is stored,
            // and overwritten secrets (old wrapped keys, old ciphertexts) must not linger in free pages.
            try db.execute(
                sql:
                    "PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON"
            )
            // Keep -wal/-shm between processes: creating and deleting them (with a checkpoint)
            // on every command cost more than the command's own queries.
            var persist: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
        return config
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in embeddedMigrations {
            migrator.registerMigration(migration.identifier) { db in
                try db.execute(sql: migration.sql)
            }
        }
        return migrator
    }

    /// The migration that adds `app.binding` (format 2).
    static let bindingMigration = "0004_add_app_binding"
    static let requestDefaultsMigration = "0005_add_app_request_defaults"

    /// Identifiers of the migrations this build knows, oldest first.
    package static var knownMigrations: [String] { embeddedMigrations.map(\.identifier) }

    // MARK: - Opening and creating

    /// Opens an existing vault, checking that it is one, and applying pending migrations.
    /// `readOnly` (backups being verified or restored) never writes, not even migrations.
    package static func open(path requested: String, readOnly: Bool = false) throws -> Vault {
        try VaultFile.checkOpenable(requested)
        let path = canonical(requested)
        // A backup is only read (and verified whole), so its directory may be shared.
        if !readOnly { try VaultFile.checkDirectory(holding: path, resolved: true) }
        try VaultFile.checkSideFiles(of: path)
        return try mapDatabaseErrors(path: path) {
            let dbQueue = try DatabaseQueue(path: path, configuration: configuration(readOnly: readOnly))
            let vault = Vault(path: path, dbQueue: dbQueue, readOnly: readOnly)
            try vault.checkIdentity(readOnly: readOnly)
            return vault
        }
    }

    /// One read: application id, applied migrations, the vault row. Nothing is written to a
    /// file that is not recognisably a tokvault vault.
    private func checkIdentity(readOnly: Bool) throws {
        let (appID, applied, formatVersion) = try read { db -> (Int32, [String]?, Int?) in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT application_id FROM pragma_application_id()),
                           (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('grdb_migrations', 'vault'))
                    """)
            let appID: Int32 = row?[0] ?? 0
            guard appID == Self.applicationID, row?[1] == 2 else { return (appID, nil, nil) }
            let identity = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT group_concat(identifier, ' ') FROM grdb_migrations),
                           (SELECT format_version FROM vault WHERE singleton = 1)
                    """)
            let applied = (identity?[0] as String?)?.split(separator: " ").map(String.init) ?? []
            // Before anything else is read or any migration writes: the schema must be exactly
            // what the applied migrations make (a newer tokvault's is refused below instead).
            if Set(applied).isSubset(of: Self.knownMigrations) {
                try VaultSchema.check(db, applied: applied.count, path: path)
            }
            return (appID, applied, identity?[1])
        }
        guard appID == Self.applicationID else {
            throw VaultError.damaged("\(path) is an SQLite database, but not a tokvault vault")
        }
        guard let applied, let formatVersion else {
            throw VaultError.damaged(
                "vault \(path) is damaged: its schema or vault record is missing",
                hint: "restore it from a backup with `\(.restoreBackup)`")
        }
        let known = Self.knownMigrations
        let unknown = Set(applied).subtracting(known)
        if !unknown.isEmpty || formatVersion > Self.formatVersion {
            throw VaultError.failure(
                "vault \(path) was written by a newer tokvault (schema \(unknown.sorted().last ?? "format \(formatVersion)"))",
                hint: "upgrade tokvault; this version knows migrations up to \(known.last ?? "none")")
        }
        // Format 2 needs the binding column of migration 0004, format 3 the columns of 0005; a
        // vault claiming a format without them is not one we wrote.
        if formatVersion < 1 || (formatVersion >= 2 && !applied.contains(Self.bindingMigration))
            || (formatVersion >= 3 && !applied.contains(Self.requestDefaultsMigration))
        {
            throw VaultError.damaged(
                "vault \(path) is damaged: format \(formatVersion) does not match its schema",
                hint: "restore it from a backup with `\(.restoreBackup)`")
        }
        format = formatVersion
        if applied.count < known.count && !readOnly {
            try Self.migrator.migrate(dbQueue)
        }
    }

    /// Creates a new vault with a fresh data key wrapped in the given slots.
    ///
    /// The vault is built under a temporary name and linked into place only when complete,
    /// so an interrupted `init` leaves nothing behind, and an existing file is never replaced.
    package static func create(
        path: String, passphrase: SecureBytes?, kdf: KDFParameters = .default, keyFile: KeyFile?
    ) throws -> Vault {
        precondition(passphrase != nil || keyFile != nil)
        if VaultFile.exists(path) {
            throw VaultError.failure(
                "\(path) already exists",
                hint:
                    "tokvault never overwrites a vault; choose another path with \(.option(.vaultPath)), or remove it first"
            )
        }
        try VaultFile.ensureDirectory(for: path)
        try VaultFile.checkDirectory(holding: path)
        VaultFile.sweepStaleTemporaries(beside: path)
        let temporary = path + ".init-\(Sodium.hex(Sodium.randomBytes(6)))"
        try VaultFile.createEmpty(temporary)
        defer {
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) }
        }
        try mapDatabaseErrors(path: path) {
            let dbQueue = try DatabaseQueue(path: temporary, configuration: configuration())
            // Private whatever the caller's umask (SQLite gives -wal/-shm the same mode).
            chmod(temporary, 0o600)
            try dbQueue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try migrator.migrate(dbQueue)
            let vaultID = UUID().uuidString.lowercased()
            let dataKey = DataKey(bytes: .random(count: Sodium.keyBytes), generation: 1, vaultID: vaultID)
            var slots: [KeySlot] = []
            if let passphrase {
                slots.append(try KeySlot.passphrase(passphrase, dataKey: dataKey, parameters: kdf))
            }
            if let keyFile {
                slots.append(KeySlot.keyFile(keyFile, dataKey: dataKey))
            }
            try dbQueue.write { db in
                try VaultRow(
                    vaultId: vaultID, formatVersion: Self.formatVersion, keyGeneration: 1, createdAt: Clock.now()
                ).insert(db)
                for slot in slots { try slot.insert(db) }
                try Self.record(db, "init", detail: slots.map(\.label).joined(separator: ", "))
            }
            try dbQueue.close()
        }
        guard link(temporary, path) == 0 else {
            throw VaultError.failure("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        VaultFile.sync(VaultFile.directory(of: path))
        return try open(path: path)
    }

    /// Runs `body`, turning SQLite's "not a database" and corruption errors into exit 5.
    static func mapDatabaseErrors<T>(path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_FORMAT:
                throw VaultError.damaged(
                    "vault \(path) is damaged (\(error.message ?? "corrupt database"))",
                    hint: "restore it from a backup with `\(.restoreBackup)`")
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
                throw VaultError.failure("cannot open vault \(path): \(error.message ?? "permission denied")")
            case .SQLITE_FULL, .SQLITE_IOERR:
                throw VaultError.failure(
                    "cannot write vault \(path): \(error.message ?? "I/O error"); nothing was changed")
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                throw VaultError.failure(
                    "vault \(path) is busy: another tokvault held it for more than 30 s", hint: "try again")
            default:
                throw VaultError.damaged(
                    "vault \(path): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")")
            }
        }
    }

    /// A consistent read: one deferred transaction. (GRDB's `read` also toggles
    /// `PRAGMA query_only` around it; two more statements on every command's hot path.)
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.mapDatabaseErrors(path: path) {
            try dbQueue.inDatabase { db in
                var result: T?
                try db.inTransaction(.deferred) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        }
    }

    /// One IMMEDIATE transaction that may seal: it holds the vault lock (shared), and it
    /// refuses to commit if the key generation moved since `key` was unlocked.
    func sealingWrite<T>(key: DataKey?, _ body: (Database) throws -> T) throws -> T {
        let wasHeld = lock.held != nil
        try lock.acquire(.shared)
        defer { if !wasHeld { lock.release() } }
        try checkNotReplaced()
        return try Self.mapDatabaseErrors(path: path) {
            var result: T?
            try dbQueue.inTransaction(.immediate) { db in
                if let key {
                    let row = try VaultRow.fetchOne(db)
                    guard let row, row.keyGeneration == key.generation, row.vaultId == key.vaultID else {
                        throw VaultError.failure(
                            "the vault key was rotated while this command ran; nothing was changed",
                            hint: "run the command again")
                    }
                    guard row.formatVersion == key.formatVersion else {
                        throw VaultError.failure(
                            "the vault was upgraded to format \(row.formatVersion) while this command ran; nothing was changed",
                            hint: "run the command again")
                    }
                }
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    /// Takes the vault lock for the life of this Vault (or until `releaseLock`).
    func holdLock(exclusive: Bool) throws {
        try lock.acquire(exclusive ? .exclusive : .shared)
        try checkNotReplaced()
    }

    func releaseLock() { lock.release() }

    static func record(_ db: Database, _ action: String, app: String? = nil, detail: String = "") throws {
        var event = Event(id: nil, at: Clock.now(), action: action, app: app, detail: detail)
        try event.insert(db)
    }

    // MARK: - Reading (no unlock needed)

    package struct Summary: Sendable {
        package var vaultID: String
        package var formatVersion: Int
        package var keyGeneration: Int64
        package var createdAt: Int64
        package var rotatedAt: Int64?
        package var appliedMigrations: [String]
    }

    package func summary() throws -> Summary {
        try read { db in
            guard let row = try VaultRow.fetchOne(db) else {
                throw VaultError.damaged("vault \(path) has no vault record")
            }
            let applied = try Self.migrator.appliedIdentifiers(db).sorted()
            return Summary(
                vaultID: row.vaultId, formatVersion: row.formatVersion, keyGeneration: row.keyGeneration,
                createdAt: row.createdAt, rotatedAt: row.rotatedAt, appliedMigrations: applied)
        }
    }

    package func keySlots() throws -> [KeySlot] {
        try read { db in try KeySlot.fetchAll(db, sql: "SELECT * FROM key_slot ORDER BY created_at, id") }
    }

    package func apps() throws -> [App] {
        try read { db in try App.fetchAll(db, sql: "SELECT * FROM app ORDER BY name") }
    }

    package func app(named name: String) throws -> App {
        // Plain SQL on the paths every token, export and exec takes: the query builder costs
        // millions of instructions on its first use in a process (docs/performance.md).
        let app = try read { db in try App.fetchOne(db, sql: "SELECT * FROM app WHERE name = ?", arguments: [name]) }
        guard let app else {
            throw VaultError.failure(
                "no app named \"\(name)\" in \(path)", hint: "`\(.listApps)` shows the apps in this vault")
        }
        return app
    }

    /// `app`'s row read again, e.g. once the vault lock is held: rotate-key re-seals every field
    /// under its exclusive lock, so a row read before a process got the lock (while it waited
    /// for a rotation to finish) holds ciphertexts of the previous key, which the key unlocked
    /// now cannot open (a false "the file was modified", exit 5). Refused when the name now
    /// belongs to another app.
    package func reread(_ app: App) throws -> App {
        let again = try self.app(named: app.name)
        guard again.id == app.id else { throw Self.replaced(app.name) }
        return again
    }

    /// The error for an app that was removed and added again under its name while a command ran.
    package static func replaced(_ name: String) -> VaultError {
        VaultError.failure("app \"\(name)\" was replaced while this command ran")
    }

    /// An app with its session and cached access tokens, in one read.
    package func appState(named name: String) throws -> (app: App, session: Session?, tokens: [AccessToken]) {
        let state = try read { db -> (App, Session?, [AccessToken])? in
            // Plain SQL: the query builder's first use costs more than these queries.
            guard let app = try App.fetchOne(db, sql: "SELECT * FROM app WHERE name = ?", arguments: [name]) else {
                return nil
            }
            return (
                app,
                try Session.fetchOne(db, sql: "SELECT * FROM session WHERE app_id = ?", arguments: [app.id]),
                try AccessToken.fetchAll(
                    db, sql: "SELECT * FROM access_token WHERE app_id = ? ORDER BY scope_key", arguments: [app.id])
            )
        }
        guard let state else {
            throw VaultError.failure(
                "no app named \"\(name)\" in \(path)", hint: "`\(.listApps)` shows the apps in this vault")
        }
        return state
    }

    /// Calls `body` for every app (by name) with its session and access tokens, in one read,
    /// decoding one app at a time so memory stays flat however many apps there are.
    package func forEachAppState(_ body: (App, Session?, [AccessToken]) throws -> Void) throws {
        try read { db in
            var sessions: [String: Session] = [:]
            for session in try Session.fetchAll(db, sql: "SELECT * FROM session") { sessions[session.appID] = session }
            var tokens: [String: [AccessToken]] = [:]
            for token in try AccessToken.fetchAll(db, sql: "SELECT * FROM access_token ORDER BY scope_key") {
                tokens[token.appID, default: []].append(token)
            }
            let statement = try db.makeStatement(sql: "SELECT * FROM app ORDER BY name")
            guard let columns = AppColumns(statement.columnNames) else {
                throw VaultError.damaged("the app table of \(path) lacks a column every tokvault vault has")
            }
            let rows = try Row.fetchCursor(statement)
            while let row = try rows.next() {
                let app = App(row: row, columns: columns)
                try body(app, sessions[app.id], tokens[app.id] ?? [])
            }
        }
    }

    package func session(appID: String) throws -> Session? {
        try read { db in try Session.fetchOne(db, sql: "SELECT * FROM session WHERE app_id = ?", arguments: [appID]) }
    }

    package func accessTokens(appID: String) throws -> [AccessToken] {
        try read { db in
            try AccessToken.fetchAll(
                db, sql: "SELECT * FROM access_token WHERE app_id = ? ORDER BY scope_key", arguments: [appID])
        }
    }

    package func events(app: String? = nil, limit: Int) throws -> [Event] {
        try read { db in
            var request = Event.order(Column("id").desc).limit(limit)
            if let app { request = request.filter(Column("app") == app) }
            return try request.fetchAll(db).reversed()
        }
    }

    /// `PRAGMA quick_check` (or the full `integrity_check`): "ok" or SQLite's findings.
    package func integrityCheck(full: Bool = false) throws -> [String] {
        try read { db in try String.fetchAll(db, sql: full ? "PRAGMA integrity_check" : "PRAGMA quick_check") }
    }
}
