import CSodium

/// The libsodium primitives the vault uses, and nothing else.
package enum Sodium {
    /// A valid pointer for zero-length buffers: libsodium reads nothing from it but rejects NULL.
    nonisolated(unsafe) private static let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    private static let initialized: Bool = sodium_init() >= 0

    package static func initialize() {
        precondition(initialized, "libsodium failed to initialize")
    }

    /// Non-secret random bytes (salts, nonces, identifiers).
    package static func randomBytes(_ count: Int) -> [UInt8] {
        initialize()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return bytes
    }

    package static func hex(_ bytes: [UInt8]) -> String {
        initialize()
        var out = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        _ = bytes.withUnsafeBufferPointer { sodium_bin2hex(&out, out.count, $0.baseAddress, bytes.count) }
        return String(decoding: out.prefix(bytes.count * 2).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Zeroes an array holding secret bytes (before it is dropped).
    package static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 { sodium_memzero(base, buffer.count) }
        }
    }

    /// Base64url without padding (RFC 4648 §5), as used by key files, PKCE and `state`.
    package static func base64URL(_ bytes: UnsafeRawBufferPointer) -> String {
        initialize()
        let variant = Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        let length = sodium_base64_encoded_len(bytes.count, variant)
        var out = [CChar](repeating: 0, count: length)
        _ = sodium_bin2base64(
            &out, length, bytes.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(scratch), bytes.count, variant)
        return String(decoding: out.prefix(length - 1).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    package static func base64URL(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { base64URL($0) }
    }

    /// Decodes base64url without padding into guarded memory; nil when malformed.
    package static func decodeBase64URL(_ text: String, into maxLength: Int) -> SecureBytes? {
        initialize()
        // libsodium 1.0.18 (Debian 12) decodes every byte >= 0x80 as if it were "_", so a key
        // file or JWT with non-ASCII bytes would be accepted: check the alphabet first.
        guard text.utf8.allSatisfy({ base64URLAlphabet.contains($0) }) else { return nil }
        let variant = Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        let out = SecureBytes(count: maxLength)
        var decoded = 0
        let utf8 = Array(text.utf8)
        let rc = utf8.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBytes { buffer in
                input.withMemoryRebound(to: CChar.self) { chars in
                    sodium_base642bin(
                        buffer.bindMemory(to: UInt8.self).baseAddress ?? scratch, maxLength,
                        chars.baseAddress, utf8.count, nil, &decoded, nil, variant)
                }
            }
        }
        return rc == 0 ? out.prefix(decoded) : nil
    }

    private static let base64URLAlphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    // MARK: - XChaCha20-Poly1305-IETF

    package static let keyBytes = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    package static let nonceBytes = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    package static let tagBytes = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)

    /// Encrypts with a fresh random nonce; returns nonce || ciphertext || tag.
    package static func aeadSeal(key: SecureBytes, plaintext: UnsafeRawBufferPointer, aad: [UInt8]) -> [UInt8] {
        initialize()
        precondition(key.count == keyBytes)
        let nonce = randomBytes(nonceBytes)
        var out = [UInt8](repeating: 0, count: nonceBytes + plaintext.count + tagBytes)
        var written: UInt64 = 0
        out.withUnsafeMutableBufferPointer { outBuf in
            outBuf.baseAddress!.initialize(from: nonce, count: nonceBytes)
            key.withUnsafeBytes { k in
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    outBuf.baseAddress! + nonceBytes, &written,
                    plaintext.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(scratch), UInt64(plaintext.count),
                    aad, UInt64(aad.count), nil,
                    nonce, k.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        return out
    }

    /// Decrypts nonce || ciphertext || tag into guarded memory; nil when authentication fails.
    package static func aeadOpen(key: SecureBytes, sealed: ArraySlice<UInt8>, aad: [UInt8]) -> SecureBytes? {
        initialize()
        guard key.count == keyBytes, sealed.count >= nonceBytes + tagBytes else { return nil }
        let plaintext = SecureBytes(count: sealed.count - nonceBytes - tagBytes)
        var written: UInt64 = 0
        let rc = sealed.withUnsafeBufferPointer { s in
            key.withUnsafeBytes { k in
                plaintext.withUnsafeMutableBytes { p in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        p.bindMemory(to: UInt8.self).baseAddress ?? scratch,
                        &written, nil,
                        s.baseAddress! + nonceBytes, UInt64(s.count - nonceBytes),
                        aad, UInt64(aad.count),
                        s.baseAddress!, k.bindMemory(to: UInt8.self).baseAddress!)
                }
            }
        }
        return rc == 0 ? plaintext : nil
    }

    // MARK: - Argon2id

    package static let saltBytes = Int(crypto_pwhash_SALTBYTES)

    /// Argon2id v1.3 of the passphrase; nil when libsodium refuses (out of memory).
    package static func argon2id(passphrase: SecureBytes, salt: [UInt8], opsLimit: UInt64, memLimit: Int)
        -> SecureBytes?
    {
        initialize()
        precondition(salt.count == saltBytes)
        let out = SecureBytes(count: keyBytes)
        let rc = out.withUnsafeMutableBytes { o in
            passphrase.withUnsafeBytes { p in
                p.withMemoryRebound(to: CChar.self) { chars in
                    crypto_pwhash(
                        o.bindMemory(to: UInt8.self).baseAddress!, UInt64(keyBytes),
                        chars.baseAddress ?? UnsafeRawPointer(scratch).assumingMemoryBound(to: CChar.self),
                        UInt64(passphrase.count),
                        salt, opsLimit, memLimit, crypto_pwhash_ALG_ARGON2ID13)
                }
            }
        }
        return rc == 0 ? out : nil
    }

    // MARK: - SHA-256

    /// SHA-256 (PKCE S256 challenges, certificate thumbprints).
    package static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        initialize()
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        _ = crypto_hash_sha256(
            &out, bytes.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(scratch), UInt64(bytes.count))
        return out
    }

    /// Constant-time equality of two byte strings of equal length (false when lengths differ).
    package static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        initialize()
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return sodium_memcmp(a, b, a.count) == 0
    }

    // MARK: - BLAKE2b

    /// Keyed BLAKE2b of `message`, `length` bytes long.
    package static func keyedHash(key: SecureBytes, message: [UInt8], length: Int) -> SecureBytes {
        initialize()
        let out = SecureBytes(count: length)
        out.withUnsafeMutableBytes { o in
            key.withUnsafeBytes { k in
                _ = crypto_generichash(
                    o.bindMemory(to: UInt8.self).baseAddress!, length,
                    message, UInt64(message.count),
                    k.bindMemory(to: UInt8.self).baseAddress!, key.count)
            }
        }
        return out
    }
}
