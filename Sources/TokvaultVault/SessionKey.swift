import Foundation

/// The data key as `tokvault unlock` leaves it in the kernel keyring: the entry's description
/// names the vault and the key generation, and its payload carries the expiry (the kernel does
/// not give a key's timeout back) and a key-check value that binds the key to both.
///
/// Payload (76 bytes): "TVSK" ‖ version 1 (4 bytes, big-endian) ‖ expiry, Unix seconds (8
/// bytes, big-endian) ‖ check (32 bytes) ‖ data key (32 bytes), where check is
/// BLAKE2b-256 keyed with the data key over "tokvault session key check v1" ‖ vault id ‖
/// generation (8 bytes, big-endian) ‖ expiry (8 bytes, big-endian).
package enum SessionKey {
    static let magic = Array("TVSK".utf8)
    static let version: UInt32 = 1
    static let checkLabel = Array("tokvault session key check v1".utf8)
    package static let payloadLength = 4 + 4 + 8 + 32 + Sodium.keyBytes

    /// The keyring description of a vault's session key: one vault's key is never tried on another.
    package static func description(vaultID: String, generation: Int64) -> String {
        "tokvault:\(vaultID):\(generation)"
    }

    /// Why a payload was not taken.
    package enum Refusal: Error, Equatable {
        /// Not a payload of this format (planted, truncated, or of another version).
        case malformed
        /// The check value does not match: not this vault's key, or the payload was edited.
        case checkFailed
        /// Past the expiry it carries (the kernel's own timeout ends it at the same time).
        case expired
        /// The payload is consistent, but the key does not prove itself against the vault (an
        /// app's binding does not hold under it): planted, or left from another vault's file.
        case notThisVaultsKey
        /// The vault has nothing the key could prove itself against yet (no app, or format 1).
        case unverifiable
    }

    package static func payload(for key: DataKey, expiresAt: Int64) -> SecureBytes {
        let out = SecureBytes(count: payloadLength)
        let check = self.check(key.bytes, vaultID: key.vaultID, generation: key.generation, expiresAt: expiresAt)
        out.withUnsafeMutableBytes { buffer in
            var offset = 0
            func put(_ bytes: some Sequence<UInt8>) {
                for byte in bytes {
                    buffer[offset] = byte
                    offset += 1
                }
            }
            put(magic)
            put(withUnsafeBytes(of: version.bigEndian) { Array($0) })
            put(withUnsafeBytes(of: expiresAt.bigEndian) { Array($0) })
            check.withUnsafeBytes { put($0) }
            key.bytes.withUnsafeBytes { put($0) }
        }
        return out
    }

    /// The data key in `payload`, if it is a payload of this format for this vault and
    /// generation, its check value matches, and it has not expired.
    package static func open(
        _ payload: SecureBytes, vaultID: String, generation: Int64, formatVersion: Int, now: Int64
    ) throws(Refusal) -> (key: DataKey, expiresAt: Int64) {
        guard payload.count == payloadLength else { throw .malformed }
        let (header, expiresAt) = payload.withUnsafeBytes { bytes in
            (
                Array(bytes[0..<8]),
                bytes[8..<16].reduce(Int64(0)) { $0 << 8 | Int64($1) }
            )
        }
        guard header == magic + withUnsafeBytes(of: version.bigEndian, { Array($0) }) else { throw .malformed }
        let keyBytes = payload.withUnsafeBytes { bytes in
            let key = SecureBytes(count: Sodium.keyBytes)
            key.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[48...])) }
            return key
        }
        let stored = payload.withUnsafeBytes { Array($0[16..<48]) }
        let expected = check(keyBytes, vaultID: vaultID, generation: generation, expiresAt: expiresAt)
        guard expected.withUnsafeBytes({ Sodium.constantTimeEquals(Array($0), stored) }) else { throw .checkFailed }
        guard now < expiresAt else { throw .expired }
        return (
            DataKey(
                bytes: keyBytes, generation: generation, vaultID: vaultID, formatVersion: formatVersion,
                fromKeyring: true),
            expiresAt
        )
    }

    static func check(_ key: SecureBytes, vaultID: String, generation: Int64, expiresAt: Int64) -> SecureBytes {
        var message = checkLabel + Array(vaultID.utf8)
        message += withUnsafeBytes(of: generation.bigEndian) { Array($0) }
        message += withUnsafeBytes(of: expiresAt.bigEndian) { Array($0) }
        return Sodium.keyedHash(key: key, message: message, length: 32)
    }
}
