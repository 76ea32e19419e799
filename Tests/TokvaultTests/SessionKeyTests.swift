import Foundation
import Testing

@testable import TokvaultVault

@Suite("session key payload")
struct SessionKeyTests {
    static let vaultID = "0f8c2b1e-5d4a-4c3b-9a7e-6b5d4c3b2a19"

    static func key(generation: Int64 = 3) -> DataKey {
        DataKey(bytes: SecureBytes.random(count: Sodium.keyBytes), generation: generation, vaultID: vaultID)
    }

    @Test func aPayloadOpensToTheSameKeyForItsVaultAndGeneration() throws {
        let key = Self.key()
        let payload = SessionKey.payload(for: key, expiresAt: 2_000_000_000)
        #expect(payload.count == SessionKey.payloadLength)
        let (opened, expiresAt) = try SessionKey.open(
            payload, vaultID: Self.vaultID, generation: 3, formatVersion: Vault.formatVersion, now: 1_999_999_999)
        #expect(expiresAt == 2_000_000_000)
        #expect(opened.bytes.constantTimeEquals(key.bytes))
        #expect(opened.generation == 3 && opened.vaultID == Self.vaultID)
        #expect(SessionKey.description(vaultID: Self.vaultID, generation: 3) == "tokvault:\(Self.vaultID):3")
    }

    @Test func anotherVaultOrGenerationFailsTheCheck() {
        let payload = SessionKey.payload(for: Self.key(), expiresAt: 2_000_000_000)
        #expect(throws: SessionKey.Refusal.checkFailed) {
            try SessionKey.open(
                payload, vaultID: "1f8c2b1e-5d4a-4c3b-9a7e-6b5d4c3b2a19", generation: 3,
                formatVersion: Vault.formatVersion, now: 0)
        }
        #expect(throws: SessionKey.Refusal.checkFailed) {
            try SessionKey.open(
                payload, vaultID: Self.vaultID, generation: 4, formatVersion: Vault.formatVersion, now: 0)
        }
    }

    /// Every byte of the payload matters: a changed expiry, check value or key byte is refused.
    @Test func everyEditedByteIsRefused() {
        let payload = SessionKey.payload(for: Self.key(), expiresAt: 2_000_000_000)
        for index in 0..<payload.count {
            let edited = payload.prefix(payload.count)
            edited.withUnsafeMutableBytes { $0[index] ^= 0x01 }
            do {
                _ = try SessionKey.open(
                    edited, vaultID: Self.vaultID, generation: 3, formatVersion: Vault.formatVersion, now: 0)
                Issue.record("byte \(index) edited, still opened")
            } catch {
                #expect(error == (index < 8 ? .malformed : .checkFailed), "byte \(index): \(error)")
            }
        }
    }

    @Test func expiredTruncatedAndForeignPayloadsAreRefused() {
        let payload = SessionKey.payload(for: Self.key(), expiresAt: 1_000)
        #expect(throws: SessionKey.Refusal.expired) {
            try SessionKey.open(
                payload, vaultID: Self.vaultID, generation: 3, formatVersion: Vault.formatVersion, now: 1_000)
        }
        for length in [0, 8, 75, 77] {
            let cut = length <= payload.count ? payload.prefix(length) : SecureBytes.random(count: length)
            #expect(throws: SessionKey.Refusal.malformed, "\(length) bytes") {
                try SessionKey.open(
                    cut, vaultID: Self.vaultID, generation: 3, formatVersion: Vault.formatVersion, now: 0)
            }
        }
        // A key of the right length planted by someone without the data key.
        var planted = Array("TVSK".utf8) + [0, 0, 0, 1] + [UInt8](repeating: 0x7f, count: 8)
        planted += [UInt8](repeating: 0, count: 32) + [UInt8](repeating: 0x42, count: 32)
        #expect(throws: SessionKey.Refusal.checkFailed) {
            try SessionKey.open(
                SecureBytes(consuming: &planted), vaultID: Self.vaultID, generation: 3,
                formatVersion: Vault.formatVersion, now: 0)
        }
    }
}

@Suite("session key against the vault")
struct VaultSessionKeyTests {
    @Test func theVaultsKeyOpensAndAPlantedOneDoesNot() throws {
        let (dir, vault, keyFile) = try newLibraryVault()
        defer { withExtendedLifetime(dir) {} }
        let key = try vault.unlock(UnlockMaterial(keyFiles: [("k", keyFile)]))
        let expiry: Int64 = 4_000_000_000
        // Nothing to prove a key against yet: refused, whatever the key.
        #expect(throws: SessionKey.Refusal.unverifiable) {
            try vault.openSessionKey(SessionKey.payload(for: key, expiresAt: expiry), now: 0)
        }
        try vault.addApp(try VaultLibraryTests.azureApp("adme"), clientSecret: secure("s3cret"), key: key)
        let (opened, expiresAt) = try vault.openSessionKey(SessionKey.payload(for: key, expiresAt: expiry), now: 0)
        #expect(expiresAt == expiry)
        #expect(
            try vault.clientSecret(of: try vault.app(named: "adme"), key: opened)?.constantTimeEquals(secure("s3cret"))
                == true)
        #expect(try vault.sessionKeyDescription() == "tokvault:\(key.vaultID):\(key.generation)")

        // A key planted with the right description and a consistent payload, but not the vault's.
        let planted = DataKey(
            bytes: SecureBytes.random(count: Sodium.keyBytes), generation: key.generation, vaultID: key.vaultID)
        #expect(throws: SessionKey.Refusal.notThisVaultsKey) {
            try vault.openSessionKey(SessionKey.payload(for: planted, expiresAt: expiry), now: 0)
        }
        // After rotate-key, the old generation's payload is for another generation.
        _ = try vault.rotateKey(
            material: UnlockMaterial(keyFiles: [("k", keyFile)], passphrase: secure("pass phrase")),
            dropOtherSlots: false)
        #expect(throws: SessionKey.Refusal.checkFailed) {
            try vault.openSessionKey(SessionKey.payload(for: key, expiresAt: expiry), now: 0)
        }
    }
}
