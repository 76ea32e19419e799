import CTokvault
import GRDB
import GRDBSQLite
import Glibc

/// The read behind a cached `token`, with plain SQLite statements instead of a GRDB
/// connection: setting one up (its queue, authorizer and type registrations) cost more than
/// the command's own work. It is all or nothing: it checks what `open` checks — the file and
/// its directory, the application id, every migration applied, format 3, the schema exactly as
/// the migrations make it — and what the cache hit checks — the key slot, the app's binding,
/// the sealed token — and anything else (a pending migration or upgrade, an error of any kind,
/// a token not valid long enough) returns nil, writing nothing and reporting nothing, so that
/// the caller goes the usual way, which reports it.
extension Vault {
    package struct CachedRead: Sendable {
        package var app: App
        package var record: AccessToken
        package var token: SecureBytes
    }

    /// The token `choose` picks among the app's cached tokens, opened with `material`.
    package static func readCachedToken(
        path requested: String, appName: String, material: UnlockMaterial,
        choose: (App, [AccessToken]) -> AccessToken?
    ) -> CachedRead? {
        guard !material.isEmpty, (try? VaultFile.checkOpenable(requested)) != nil else { return nil }
        let path = canonical(requested)
        guard (try? VaultFile.checkDirectory(holding: path, resolved: true)) != nil,
            (try? VaultFile.checkSideFiles(of: path)) != nil
        else { return nil }
        guard let connection = PlainConnection(path: path) else { return nil }
        defer { connection.close() }
        return try? connection.inReadTransaction {
            try connection.readCachedToken(path: path, appName: appName, material: material, choose: choose)
        }
    }
}

/// One connection with the hardening `Vault.configuration` applies, for reading only.
private struct PlainConnection {
    let db: OpaquePointer

    init?(path: String) {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
            let handle
        else {
            sqlite3_close(handle)
            return nil
        }
        db = handle
        // As `Vault.configuration`: defensive, untrusted schema, b-tree cells checked, no mmap,
        // and the -wal/-shm files kept when this (maybe last) connection closes. And, as it
        // only reads, no checkpoint at close: copying the WAL into the file (and three
        // fdatasyncs) would be most of a cache hit's I/O, each time.
        guard tokvault_sqlite_harden(db) == 0, tokvault_sqlite_no_checkpoint_on_close(db) == 0,
            sqlite3_busy_timeout(db, 30_000) == SQLITE_OK,
            sqlite3_exec(db, "PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0", nil, nil, nil) == SQLITE_OK
        else {
            sqlite3_close(handle)
            return nil
        }
        var persist: Int32 = 1
        _ = sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
    }

    func close() { sqlite3_close(db) }

    struct Failed: Error {}

    /// `body` in one deferred transaction: every row it reads comes from the same snapshot.
    func inReadTransaction<T>(_ body: () throws -> T) throws -> T {
        guard sqlite3_exec(db, "BEGIN DEFERRED", nil, nil, nil) == SQLITE_OK else { throw Failed() }
        defer { sqlite3_exec(db, "ROLLBACK", nil, nil, nil) }
        return try body()
    }

    /// Every row of `sql` (with text arguments bound in order), decoded as GRDB decodes
    /// rows, so that the records are built by the same `init(row:)` as everywhere else.
    func rows(_ sql: String, _ arguments: String...) throws -> [Row] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw Failed() }
        defer { sqlite3_finalize(statement) }
        for (index, argument) in arguments.enumerated() {
            // SQLITE_TRANSIENT: SQLite copies the text before this call returns.
            guard
                sqlite3_bind_text(
                    statement, Int32(index + 1), argument, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
                    == SQLITE_OK
            else { throw Failed() }
        }
        let count = sqlite3_column_count(statement)
        let names = (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) }
        var out: [Row] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return out }
            guard step == SQLITE_ROW else { throw Failed() }
            var values: [String: (any DatabaseValueConvertible)?] = [:]
            for column in 0..<count {
                values[names[Int(column)]] = DatabaseValue(sqliteStatement: statement, index: column)
            }
            guard values.count == Int(count) else { throw Failed() }
            out.append(Row(values))
        }
    }

    func readCachedToken(
        path: String, appName: String, material: UnlockMaterial, choose: (App, [AccessToken]) -> AccessToken?
    ) throws -> Vault.CachedRead? {
        // What `Vault.open` checks first, and nothing to migrate or upgrade.
        let identity = try rows(
            """
            SELECT (SELECT application_id FROM pragma_application_id()) AS application_id,
                   (SELECT group_concat(identifier, ' ') FROM grdb_migrations) AS applied,
                   (SELECT format_version FROM vault WHERE singleton = 1) AS format_version
            """)
        let known = Vault.knownMigrations
        guard let identity = identity.first, identity["application_id"] == Vault.applicationID,
            let applied = (identity["applied"] as String?)?.split(separator: " ").map(String.init),
            applied.count == known.count, Set(applied) == Set(known),
            identity["format_version"] == Vault.formatVersion
        else { return nil }
        var objects: Set<VaultSchema.Object> = []
        for row in try rows(VaultSchema.objectsQuery) {
            if let object = VaultSchema.object(type: row["type"], name: row["name"], sql: row["sql"]) {
                objects.insert(object)
            }
        }
        guard objects == VaultSchema.wanted(applied: known.count) else { return nil }

        // What the cache hit reads: the app, its tokens, then the key slots.
        guard let appRow = try rows("SELECT * FROM app WHERE name = ?", appName).first else { return nil }
        let app = try App(row: appRow)
        let tokens = try rows("SELECT * FROM access_token WHERE app_id = ? ORDER BY scope_key", app.id).map {
            try AccessToken(row: $0)
        }
        guard let record = choose(app, tokens) else { return nil }
        guard let vaultRow = try rows("SELECT * FROM vault WHERE singleton = 1").first else { return nil }
        let slots = try rows("SELECT * FROM key_slot ORDER BY created_at, id").map { try KeySlot(row: $0) }
        let key = try Vault.unlockSlot(row: try VaultRow(row: vaultRow), slots: slots, material: material, path: path)
        try Vault.verifyBinding(app, key: key)
        let token = try SealedField.open(
            [UInt8](record.token), key: key, place: app.accessTokenPlace(record),
            what: "app \"\(app.name)\" access_token")
        return Vault.CachedRead(app: app, record: record, token: token)
    }
}
