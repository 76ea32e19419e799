/// The unlocked data key of one vault, at one key generation and format version.
package final class DataKey: @unchecked Sendable, CustomStringConvertible, CustomReflectable {
    let bytes: SecureBytes
    package let generation: Int64
    package let vaultID: String
    /// `vault.format_version` the key was unlocked at: which AAD (§5.2) it seals and opens with.
    package let formatVersion: Int
    /// The key of the app-binding MACs (format 2), derived once per unlock.
    let bindingKey: SecureBytes
    /// Taken from the kernel keyring (`unlock`), not out of a key slot: it must not wrap a new
    /// slot, or a temporary unlock would become a permanent way in.
    package let fromKeyring: Bool

    init(
        bytes: SecureBytes, generation: Int64, vaultID: String, formatVersion: Int = Vault.formatVersion,
        fromKeyring: Bool = false
    ) {
        precondition(bytes.count == Sodium.keyBytes)
        self.bytes = bytes
        self.generation = generation
        self.vaultID = vaultID
        self.formatVersion = formatVersion
        self.fromKeyring = fromKeyring
        self.bindingKey = Sodium.keyedHash(key: bytes, message: Array(AppBinding.keyLabel.utf8), length: 32)
    }

    /// The same key at another format version (the upgrade of §6 re-seals from one to the other).
    func atFormat(_ version: Int) -> DataKey {
        DataKey(
            bytes: bytes, generation: generation, vaultID: vaultID, formatVersion: version, fromKeyring: fromKeyring)
    }

    package var description: String { "<redacted>" }
    package var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

/// Where a sealed value lives and where its plaintext may be sent. All of it goes into the
/// associated data, so a ciphertext moved to another row/column, or an app whose binding
/// (format 2; client id and token endpoint in format 1) was edited in the file, fails to open.
package struct SealedFieldPlace: Sendable, Equatable {
    package var table: String
    package var column: String
    package var row: String
    package var app: String
    /// Format 1 only.
    package var clientID: String
    /// Format 1 only.
    package var tokenEndpoint: String
    /// Format 2: the owning app's `binding` MAC.
    package var binding: [UInt8]
    /// Format 2: the access token's `scope_key` (`''` for every other field).
    package var scopeKey: String

    package init(
        table: String, column: String, row: String, app: String, clientID: String, tokenEndpoint: String,
        binding: [UInt8] = [], scopeKey: String = ""
    ) {
        self.table = table
        self.column = column
        self.row = row
        self.app = app
        self.clientID = clientID
        self.tokenEndpoint = tokenEndpoint
        self.binding = binding
        self.scopeKey = scopeKey
    }
}

/// Associated-data encoding: `name:LEN:value\n` per field, LEN the value's UTF-8 byte count.
/// Length prefixes make the encoding unambiguous whatever the values contain.
package enum AssociatedData {
    package static func encode(_ fields: [(String, String)]) -> [UInt8] {
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
package enum SealedField {
    package static let version: UInt8 = 1

    /// The sealed-field AAD of vault format `format` (docs/vault-format.md §5.2): the same
    /// place fields in both, then what the ciphertext is bound to (format 2: the app's binding
    /// and the access token's scope key; format 1: the client id and token endpoint).
    package static func associatedData(vaultID: String, generation: Int64, place: SealedFieldPlace, format: Int = 1)
        -> [UInt8]
    {
        let bound: [(String, String)] =
            format >= 2
            ? [("scope_key", place.scopeKey), ("binding", Sodium.hex(place.binding))]
            : [("client_id", place.clientID), ("token_endpoint", place.tokenEndpoint)]
        return AssociatedData.encode(
            [
                ("tokvault", "sealed-field"),
                ("version", format >= 2 ? "2" : String(version)),
                ("generation", String(generation)),
                ("vault", vaultID),
                ("table", place.table),
                ("column", place.column),
                ("row", place.row),
                ("app", place.app)
            ] + bound)
    }

    package static func seal(_ plaintext: SecureBytes, key: DataKey, place: SealedFieldPlace) -> [UInt8] {
        let aad = associatedData(
            vaultID: key.vaultID, generation: key.generation, place: place, format: key.formatVersion)
        let body = plaintext.withUnsafeBytes { Sodium.aeadSeal(key: key.bytes, plaintext: $0, aad: aad) }
        return [version] + body
    }

    /// Opens a sealed field; `what` names it in the error (e.g. `app "adme" client_secret`).
    package static func open(_ sealed: [UInt8], key: DataKey, place: SealedFieldPlace, what: String) throws
        -> SecureBytes
    {
        guard let first = sealed.first, first == version else {
            throw VaultError.tampered(what)
        }
        let aad = associatedData(
            vaultID: key.vaultID, generation: key.generation, place: place, format: key.formatVersion)
        guard let plaintext = Sodium.aeadOpen(key: key.bytes, sealed: sealed.dropFirst(), aad: aad) else {
            throw VaultError.tampered(what)
        }
        return plaintext
    }
}
