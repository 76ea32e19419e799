import Foundation
import GRDB

/// Argon2id cost parameters of a passphrase slot.
package struct KDFParameters: Sendable, Equatable, CustomStringConvertible {
    package var opsLimit: UInt64
    package var memLimit: Int

    package init(opsLimit: UInt64, memLimit: Int) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    /// 3 passes over 128 MiB: about 0.2 s on a 2-core x86_64 build machine, inside the
    /// 0.1–0.5 s budget for one unlock, and twice the memory of libsodium's "interactive"
    /// preset (64 MiB), which is what makes GPU guessing expensive.
    package static let `default` = KDFParameters(opsLimit: 3, memLimit: 128 << 20)

    /// Bounds checked when a slot is read (and when one is created): a tampered slot must
    /// not make tokvault allocate gigabytes or loop for minutes, nor be weaker than this floor.
    package static let minOps: UInt64 = 1
    package static let maxOps: UInt64 = 16
    package static let minMem = 8 << 20
    package static let maxMem = 1 << 30

    package var isWithinBounds: Bool {
        (Self.minOps...Self.maxOps).contains(opsLimit) && (Self.minMem...Self.maxMem).contains(memLimit)
    }

    package var description: String { "argon2id ops=\(opsLimit) mem=\(memLimit >> 20)MiB" }
}

/// A 32-byte random key kept in a file, for hosts that unlock without a person.
///
/// On disk: the line `tokvault-keyfile-v1:` + base64url(key) (no padding) + "\n".
/// Exactly 32 raw bytes are accepted too.
package final class KeyFile: @unchecked Sendable, CustomStringConvertible {
    package static let prefix = "tokvault-keyfile-v1:"
    let key: SecureBytes

    init(key: SecureBytes) {
        precondition(key.count == 32)
        self.key = key
    }

    package static func generate() -> KeyFile { KeyFile(key: .random(count: 32)) }

    /// Parses key-file contents; nil when they are neither form.
    package static func parse(_ contents: SecureBytes) -> KeyFile? {
        if contents.count == 32 && !contents.withUnsafeBytes({ $0.starts(with: Array(prefix.utf8)) }) {
            return KeyFile(key: contents.prefix(32))
        }
        return contents.withUnsafeBytes { raw -> KeyFile? in
            var end = raw.count
            while end > 0, raw[end - 1] == 0x0A || raw[end - 1] == 0x0D || raw[end - 1] == 0x20 { end -= 1 }
            let head = Array(prefix.utf8)
            guard end > head.count, raw.starts(with: head) else { return nil }
            let body = String(decoding: raw[head.count..<end], as: UTF8.self)
            guard let key = Sodium.decodeBase64URL(body, into: 33), key.count == 32 else { return nil }
            return KeyFile(key: key)
        }
    }

    /// Reads and parses a key file.
    package static func load(path: String) throws -> KeyFile {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VaultError.unlock("cannot read key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let read: SecureBytes?
        do {
            read = try SecureBytes.read(fileDescriptor: fd, limit: 4096)
        } catch let error as VaultError {
            // A directory opens but does not read (EISDIR).
            throw VaultError.unlock("cannot read key file \(path): \(error.message)")
        }
        guard let contents = read, let keyFile = parse(contents) else {
            throw VaultError.unlock(
                "\(path) is not a tokvault key file",
                hint: "key files are made by `\(.createKeyFile)` or `\(.createVaultWithKeyFile)`")
        }
        return keyFile
    }

    /// The text form written to disk.
    package func rendered() -> SecureBytes {
        var text = Array((KeyFile.prefix + key.withUnsafeBytes { Sodium.base64URL($0) } + "\n").utf8)
        return SecureBytes(consuming: &text)
    }

    /// Public identifier of the key file: hex of keyed BLAKE2b-128, safe to show and store.
    package var fingerprint: String {
        let hash = Sodium.keyedHash(key: key, message: Array("tokvault keyfile fingerprint v1".utf8), length: 16)
        return hash.withUnsafeBytes { Sodium.hex(Array($0)) }
    }

    /// The key-encryption key of its slot.
    var keyEncryptionKey: SecureBytes {
        Sodium.keyedHash(key: key, message: Array("tokvault keyfile kek v1".utf8), length: 32)
    }

    package var description: String { "<redacted>" }
}

/// One way of unlocking: the data key wrapped under a passphrase- or key-file-derived key.
package struct KeySlot: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable {
    package static let databaseTableName = "key_slot"

    package enum Kind: String, Codable, Sendable {
        case passphrase
        case keyfile
    }

    package var id: String
    package var kind: Kind
    package var keyGeneration: Int64
    package var kdfSalt: Data?
    package var kdfOpslimit: Int64?
    package var kdfMemlimit: Int64?
    package var keyfileFingerprint: String?
    package var wrappedKey: Data
    package var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, kind
        case keyGeneration = "key_generation"
        case kdfSalt = "kdf_salt"
        case kdfOpslimit = "kdf_opslimit"
        case kdfMemlimit = "kdf_memlimit"
        case keyfileFingerprint = "keyfile_fingerprint"
        case wrappedKey = "wrapped_key"
        case createdAt = "created_at"
    }

    package var kdfParameters: KDFParameters? {
        guard let ops = kdfOpslimit, let mem = kdfMemlimit, ops > 0, mem > 0 else { return nil }
        return KDFParameters(opsLimit: UInt64(ops), memLimit: Int(mem))
    }

    /// A short public label: "passphrase" or "keyfile 1a2b3c4d…".
    package var label: String {
        switch kind {
        case .passphrase: return "passphrase"
        case .keyfile: return "keyfile \(keyfileFingerprint?.prefix(16) ?? "?")"
        }
    }

    static func associatedData(vaultID: String, slotID: String, kind: Kind, generation: Int64, detail: String)
        -> [UInt8]
    {
        AssociatedData.encode([
            ("tokvault", "key-slot"),
            ("version", String(SealedField.version)),
            ("generation", String(generation)),
            ("vault", vaultID),
            ("slot", slotID),
            ("kind", kind.rawValue),
            ("detail", detail)
        ])
    }

    /// What the slot's AAD says about its unlocking secret: KDF parameters and salt, or the
    /// key file's fingerprint.
    var associatedDetail: String {
        switch kind {
        case .passphrase:
            return
                "argon2id13;ops=\(kdfOpslimit ?? 0);mem=\(kdfMemlimit ?? 0);salt=\(Sodium.hex(Array(kdfSalt ?? Data())))"
        case .keyfile:
            return "fingerprint=\(keyfileFingerprint ?? "")"
        }
    }

    /// A new passphrase slot wrapping `dataKey`.
    static func passphrase(_ passphrase: SecureBytes, dataKey: DataKey, parameters: KDFParameters) throws -> KeySlot {
        guard parameters.isWithinBounds else {
            throw VaultError.usage("KDF parameters out of range (\(parameters))", hint: "ops 1–16, memory 8–1024 MiB")
        }
        let salt = Sodium.randomBytes(Sodium.saltBytes)
        guard
            let kek = Sodium.argon2id(
                passphrase: passphrase, salt: salt, opsLimit: parameters.opsLimit, memLimit: parameters.memLimit)
        else {
            throw VaultError.failure("Argon2id failed: not enough memory for \(parameters)")
        }
        var slot = KeySlot(
            id: UUID().uuidString.lowercased(), kind: .passphrase, keyGeneration: dataKey.generation,
            kdfSalt: Data(salt), kdfOpslimit: Int64(parameters.opsLimit), kdfMemlimit: Int64(parameters.memLimit),
            keyfileFingerprint: nil, wrappedKey: Data(), createdAt: Clock.now())
        slot.wrap(dataKey, with: kek)
        return slot
    }

    /// A new key-file slot wrapping `dataKey`.
    static func keyFile(_ keyFile: KeyFile, dataKey: DataKey) -> KeySlot {
        var slot = KeySlot(
            id: UUID().uuidString.lowercased(), kind: .keyfile, keyGeneration: dataKey.generation,
            kdfSalt: nil, kdfOpslimit: nil, kdfMemlimit: nil,
            keyfileFingerprint: keyFile.fingerprint, wrappedKey: Data(), createdAt: Clock.now())
        slot.wrap(dataKey, with: keyFile.keyEncryptionKey)
        return slot
    }

    private mutating func wrap(_ dataKey: DataKey, with kek: SecureBytes) {
        let aad = Self.associatedData(
            vaultID: dataKey.vaultID, slotID: id, kind: kind, generation: dataKey.generation, detail: associatedDetail)
        let body = dataKey.bytes.withUnsafeBytes { Sodium.aeadSeal(key: kek, plaintext: $0, aad: aad) }
        wrappedKey = Data([SealedField.version] + body)
    }

    /// The data key, or nil when the secret is wrong or the slot damaged (AEAD can't tell which).
    func unwrap(with kek: SecureBytes, vaultID: String, formatVersion: Int = Vault.formatVersion) -> DataKey? {
        let sealed = [UInt8](wrappedKey)
        guard sealed.first == SealedField.version else { return nil }
        let aad = Self.associatedData(
            vaultID: vaultID, slotID: id, kind: kind, generation: keyGeneration, detail: associatedDetail)
        guard let key = Sodium.aeadOpen(key: kek, sealed: sealed.dropFirst(), aad: aad), key.count == Sodium.keyBytes
        else {
            return nil
        }
        return DataKey(bytes: key, generation: keyGeneration, vaultID: vaultID, formatVersion: formatVersion)
    }

    /// The key-encryption key for a passphrase slot, with the stored parameters capped.
    func passphraseKEK(_ passphrase: SecureBytes, path: String) throws -> SecureBytes? {
        guard kind == .passphrase, let salt = kdfSalt, salt.count == Sodium.saltBytes,
            let parameters = kdfParameters
        else { return nil }
        guard parameters.isWithinBounds else {
            throw VaultError.unlock(
                "passphrase slot of \(path) has out-of-range KDF parameters (\(parameters))",
                hint: "the slot was damaged or edited; unlock with a key file or restore a backup")
        }
        guard
            let kek = Sodium.argon2id(
                passphrase: passphrase, salt: Array(salt), opsLimit: parameters.opsLimit, memLimit: parameters.memLimit)
        else {
            throw VaultError.failure(
                "cannot derive the passphrase key: Argon2id could not get \(parameters.memLimit >> 20) MiB of memory")
        }
        return kek
    }
}

extension KeySlot {
    package init(row: Row) throws {
        id = row["id"]
        kind = Kind(rawValue: row["kind"] ?? "") ?? .keyfile
        keyGeneration = row["key_generation"]
        kdfSalt = row["kdf_salt"]
        kdfOpslimit = row["kdf_opslimit"]
        kdfMemlimit = row["kdf_memlimit"]
        keyfileFingerprint = row["keyfile_fingerprint"]
        wrappedKey = row["wrapped_key"]
        createdAt = row["created_at"]
    }
}

/// The secrets a command was given to unlock the vault.
package struct UnlockMaterial: Sendable {
    package var keyFiles: [(path: String, keyFile: KeyFile)] = []
    package var passphrase: SecureBytes?
    /// The data key as `unlock` left it in the keyring, already proved to be this vault's
    /// (`Vault.findSessionKey`). It opens no key slot, so it cannot change or add one.
    package var sessionKey: DataKey?

    package init(
        keyFiles: [(path: String, keyFile: KeyFile)] = [], passphrase: SecureBytes? = nil, sessionKey: DataKey? = nil
    ) {
        self.keyFiles = keyFiles
        self.passphrase = passphrase
        self.sessionKey = sessionKey
    }

    package var isEmpty: Bool { keyFiles.isEmpty && passphrase == nil && sessionKey == nil }
}

package enum Clock {
    package static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}
