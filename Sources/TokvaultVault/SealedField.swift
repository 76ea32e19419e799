/// The unlocked data key of one vault, at one key generation.
public final class DataKey: @unchecked Sendable, CustomStringConvertible, CustomReflectable {
    let bytes: SecureBytes
    public let generation: Int64
    public let vaultID: String

    init(bytes: SecureBytes, generation: Int64, vaultID: String) {
        precondition(bytes.count == Sodium.keyBytes)
        self.bytes = bytes
        self.generation = generation
        self.vaultID = vaultID
    }

    public var description: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

/// Where a sealed value lives and where its plaintext may be sent. All of it goes into the
/// associated data, so a ciphertext moved to another row/column, or an app whose client id
/// or token endpoint was edited in the file, fails to open.
public struct SealedFieldPlace: Sendable, Equatable {
    public var table: String
    public var column: String
    public var row: String
    public var app: String
    public var clientID: String
    public var tokenEndpoint: String

    public init(table: String, column: String, row: String, app: String, clientID: String, tokenEndpoint: String) {
        self.table = table
        self.column = column
        self.row = row
        self.app = app
        self.clientID = clientID
        self.tokenEndpoint = tokenEndpoint
    }
}

/// Associated-data encoding: `name:LEN:value\n` per field, LEN the value's UTF-8 byte count.
/// Length prefixes make the encoding unambiguous whatever the values contain.
public enum AssociatedData {
    public static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out += Array(name.utf8)
            out += Array(":\(value.utf8.count):".utf8)
            out += Array(value.utf8)
            out.append(0x0A)
        }
        return out
    }
}

/// Sealed field = version (0x01) || 24-byte nonce || XChaCha20-Poly1305 ciphertext+tag.
public enum SealedField {
    public static let version: UInt8 = 1

    public static func associatedData(vaultID: String, generation: Int64, place: SealedFieldPlace) -> [UInt8] {
        AssociatedData.encode([
            ("tokvault", "sealed-field"),
            ("version", String(version)),
            ("generation", String(generation)),
            ("vault", vaultID),
            ("table", place.table),
            ("column", place.column),
            ("row", place.row),
            ("app", place.app),
            ("client_id", place.clientID),
            ("token_endpoint", place.tokenEndpoint),
        ])
    }

    public static func seal(_ plaintext: SecureBytes, key: DataKey, place: SealedFieldPlace) -> [UInt8] {
        let aad = associatedData(vaultID: key.vaultID, generation: key.generation, place: place)
        let body = plaintext.withUnsafeBytes { Sodium.aeadSeal(key: key.bytes, plaintext: $0, aad: aad) }
        return [version] + body
    }

    /// Opens a sealed field; `what` names it in the error (e.g. `app "adme" client_secret`).
    public static func open(_ sealed: [UInt8], key: DataKey, place: SealedFieldPlace, what: String) throws -> SecureBytes {
        guard let first = sealed.first, first == version else {
            throw VaultError.tampered(what)
        }
        let aad = associatedData(vaultID: key.vaultID, generation: key.generation, place: place)
        guard let plaintext = Sodium.aeadOpen(key: key.bytes, sealed: sealed.dropFirst(), aad: aad) else {
            throw VaultError.tampered(what)
        }
        return plaintext
    }
}
