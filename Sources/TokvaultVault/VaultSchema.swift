import GRDB

/// The schema objects the migrations create, checked in the first read of every open
/// (docs/vault-format.md §1.1, step 14): a trigger, view, table or index planted in the file
/// by someone who can write it — which SQLite would run or consult on tokvault's behalf — is
/// refused before anything is read from it or written to it.
enum VaultSchema {
    /// One `sqlite_master` row: its type and name, and a digest of its normalized SQL.
    struct Object: Hashable, CustomStringConvertible {
        var type: String
        var name: String
        var sql: String

        var description: String { "\(type) \"\(Display.printable(name))\"" }
    }

    /// Rows of `sqlite_master` that SQLite or GRDB make, whatever the migrations say.
    static func isAllowedExtra(type: String, name: String) -> Bool {
        switch (type, name) {
        case ("table", "grdb_migrations"), ("index", "sqlite_autoindex_grdb_migrations_1"),
            ("table", "sqlite_sequence"):
            return true
        default:
            return type == "table" && name.hasPrefix("sqlite_stat")
        }
    }

    /// The SQL as compared: quotes dropped, whitespace runs collapsed, lowercased, so that the
    /// text SQLite keeps after `ALTER TABLE … RENAME`/`ADD COLUMN` compares equal however a
    /// given SQLite version quotes or spaces it. Digested: the expected list stays small.
    static func digest(_ sql: String?) -> String {
        guard let sql else { return "-" }
        var normalized: [UInt8] = []
        var space = false
        for byte in sql.utf8 where byte != UInt8(ascii: "\"") {
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                space = !normalized.isEmpty
                continue
            }
            if space {
                normalized.append(0x20)
                space = false
            }
            normalized.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
        }
        return Sodium.hex(normalized.withUnsafeBytes { Array(Sodium.sha256($0).prefix(16)) })
    }

    /// What `sqlite_master` holds, extras left out.
    static func objects(_ db: Database) throws -> Set<Object> {
        var out: Set<Object> = []
        for row in try Row.fetchAll(db, sql: objectsQuery) {
            if let object = object(type: row[0], name: row[1], sql: row[2]) { out.insert(object) }
        }
        return out
    }

    static let objectsQuery = "SELECT type, name, sql FROM sqlite_master"

    /// One row of `objectsQuery` as compared; nil for the extras.
    static func object(type: String?, name: String?, sql: String?) -> Object? {
        let type = type ?? ""
        let name = name ?? ""
        if isAllowedExtra(type: type, name: name) { return nil }
        return Object(type: type, name: name, sql: digest(sql))
    }

    /// What the first `applied` migrations make.
    static func wanted(applied: Int) -> Set<Object> {
        Set(expected[applied - 1].map { Object(type: $0.0, name: $0.1, sql: $0.2) })
    }

    /// Refuses a schema that is not exactly what the first `applied` migrations make.
    static func check(_ db: Database, applied: Int, path: String) throws {
        guard applied >= 1, applied <= expected.count else { return }
        let actual = try objects(db)
        let wanted = wanted(applied: applied)
        if actual == wanted { return }
        let planted = actual.filter { object in !wanted.contains { $0.type == object.type && $0.name == object.name } }
        let changed = actual.subtracting(planted).subtracting(wanted)
        let missing = wanted.filter { object in !actual.contains { $0.type == object.type && $0.name == object.name } }
        var findings: [String] = []
        if !planted.isEmpty {
            findings.append(
                "holds \(planted.map(\.description).sorted().joined(separator: ", ")) that tokvault never creates")
        }
        if !changed.isEmpty {
            findings.append("has \(changed.map(\.description).sorted().joined(separator: ", ")) changed")
        }
        if !missing.isEmpty { findings.append("lacks \(missing.map(\.description).sorted().joined(separator: ", "))") }
        throw VaultError.damaged(
            "vault \(path) \(findings.joined(separator: "; ")): the file was modified",
            hint: "restore it from a backup with `\(.restoreBackup)`; nothing was read from it")
    }

    /// `(type, name, digest)` of every object after the first N migrations, N = 1, 2, …
    /// Written from the migrations by `VaultSchemaTests.embeddedSchemaIsWhatTheMigrationsMake`,
    /// which fails (and prints the new list) when a migration is added.
    static let expected: [[(String, String, String)]] = [
        [
            ("index", "key_slot_keyfile", "168363da46b3f39e362fccadc622a8e9"),
            ("index", "key_slot_single_passphrase", "630d2e1682d073bb07e7de2114567e6f"),
            ("index", "sqlite_autoindex_access_token_1", "-"),
            ("index", "sqlite_autoindex_access_token_2", "-"),
            ("index", "sqlite_autoindex_app_1", "-"),
            ("index", "sqlite_autoindex_app_2", "-"),
            ("index", "sqlite_autoindex_key_slot_1", "-"),
            ("index", "sqlite_autoindex_session_1", "-"),
            ("index", "sqlite_autoindex_session_2", "-"),
            ("table", "access_token", "7d6212480c9456a8191bc9d515ebd4cc"),
            ("table", "app", "1db5f07d11413a49c29e5ca8ab6fbe0f"),
            ("table", "event", "f152d6b3f2d2ade7e77f6b19add8cdd0"),
            ("table", "key_slot", "a11206866815810b79ffd5f0a8078e56"),
            ("table", "session", "1f30ed36169e3c571e787428297a6aae"),
            ("table", "vault", "ae066997159de69001acd449bd0ccac1")
        ],
        [
            ("index", "key_slot_keyfile", "168363da46b3f39e362fccadc622a8e9"),
            ("index", "key_slot_single_passphrase", "630d2e1682d073bb07e7de2114567e6f"),
            ("index", "sqlite_autoindex_access_token_1", "-"),
            ("index", "sqlite_autoindex_access_token_2", "-"),
            ("index", "sqlite_autoindex_app_1", "-"),
            ("index", "sqlite_autoindex_app_2", "-"),
            ("index", "sqlite_autoindex_key_slot_1", "-"),
            ("index", "sqlite_autoindex_session_1", "-"),
            ("index", "sqlite_autoindex_session_2", "-"),
            ("table", "access_token", "7d6212480c9456a8191bc9d515ebd4cc"),
            ("table", "app", "87d05ce10e4f6253dc0f729664189347"),
            ("table", "event", "f152d6b3f2d2ade7e77f6b19add8cdd0"),
            ("table", "key_slot", "a11206866815810b79ffd5f0a8078e56"),
            ("table", "session", "1f30ed36169e3c571e787428297a6aae"),
            ("table", "vault", "ae066997159de69001acd449bd0ccac1")
        ],
        [
            ("index", "key_slot_keyfile", "168363da46b3f39e362fccadc622a8e9"),
            ("index", "key_slot_single_passphrase", "630d2e1682d073bb07e7de2114567e6f"),
            ("index", "sqlite_autoindex_access_token_1", "-"),
            ("index", "sqlite_autoindex_access_token_2", "-"),
            ("index", "sqlite_autoindex_app_1", "-"),
            ("index", "sqlite_autoindex_app_2", "-"),
            ("index", "sqlite_autoindex_key_slot_1", "-"),
            ("index", "sqlite_autoindex_session_1", "-"),
            ("index", "sqlite_autoindex_session_2", "-"),
            ("table", "access_token", "7d6212480c9456a8191bc9d515ebd4cc"),
            ("table", "app", "1f6d27332101ee0cd751a583a155d5ce"),
            ("table", "event", "f152d6b3f2d2ade7e77f6b19add8cdd0"),
            ("table", "key_slot", "a11206866815810b79ffd5f0a8078e56"),
            ("table", "session", "1f30ed36169e3c571e787428297a6aae"),
            ("table", "vault", "ae066997159de69001acd449bd0ccac1")
        ],
        [
            ("index", "key_slot_keyfile", "168363da46b3f39e362fccadc622a8e9"),
            ("index", "key_slot_single_passphrase", "630d2e1682d073bb07e7de2114567e6f"),
            ("index", "sqlite_autoindex_access_token_1", "-"),
            ("index", "sqlite_autoindex_access_token_2", "-"),
            ("index", "sqlite_autoindex_app_1", "-"),
            ("index", "sqlite_autoindex_app_2", "-"),
            ("index", "sqlite_autoindex_key_slot_1", "-"),
            ("index", "sqlite_autoindex_session_1", "-"),
            ("index", "sqlite_autoindex_session_2", "-"),
            ("table", "access_token", "7d6212480c9456a8191bc9d515ebd4cc"),
            ("table", "app", "34a04048669ac2a06a1e4798e60e5522"),
            ("table", "event", "f152d6b3f2d2ade7e77f6b19add8cdd0"),
            ("table", "key_slot", "a11206866815810b79ffd5f0a8078e56"),
            ("table", "session", "1f30ed36169e3c571e787428297a6aae"),
            ("table", "vault", "ae066997159de69001acd449bd0ccac1")
        ],
        [
            ("index", "key_slot_keyfile", "168363da46b3f39e362fccadc622a8e9"),
            ("index", "key_slot_single_passphrase", "630d2e1682d073bb07e7de2114567e6f"),
            ("index", "sqlite_autoindex_access_token_1", "-"),
            ("index", "sqlite_autoindex_access_token_2", "-"),
            ("index", "sqlite_autoindex_app_1", "-"),
            ("index", "sqlite_autoindex_app_2", "-"),
            ("index", "sqlite_autoindex_key_slot_1", "-"),
            ("index", "sqlite_autoindex_session_1", "-"),
            ("index", "sqlite_autoindex_session_2", "-"),
            ("table", "access_token", "7d6212480c9456a8191bc9d515ebd4cc"),
            ("table", "app", "ffb39793aaf2dbaf20de2b18ac4470aa"),
            ("table", "event", "f152d6b3f2d2ade7e77f6b19add8cdd0"),
            ("table", "key_slot", "a11206866815810b79ffd5f0a8078e56"),
            ("table", "session", "1f30ed36169e3c571e787428297a6aae"),
            ("table", "vault", "ae066997159de69001acd449bd0ccac1")
        ],
        [
            ("index", "key_slot_keyfile", "168363da46b3f39e362fccadc622a8e9"),
            ("index", "key_slot_single_passphrase", "630d2e1682d073bb07e7de2114567e6f"),
            ("index", "sqlite_autoindex_access_token_1", "-"),
            ("index", "sqlite_autoindex_access_token_2", "-"),
            ("index", "sqlite_autoindex_app_1", "-"),
            ("index", "sqlite_autoindex_app_2", "-"),
            ("index", "sqlite_autoindex_key_slot_1", "-"),
            ("index", "sqlite_autoindex_session_1", "-"),
            ("index", "sqlite_autoindex_session_2", "-"),
            ("table", "access_token", "7d6212480c9456a8191bc9d515ebd4cc"),
            ("table", "app", "d021a93008e430ef7007ee3d1a39cb96"),
            ("table", "event", "f152d6b3f2d2ade7e77f6b19add8cdd0"),
            ("table", "key_slot", "a11206866815810b79ffd5f0a8078e56"),
            ("table", "session", "cbaae7bd273e0983979d5cef86a71988"),
            ("table", "vault", "ae066997159de69001acd449bd0ccac1")
        ]
    ]
}
