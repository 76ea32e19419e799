import CTokvault
import Foundation
import GRDB
import GRDBSQLite

/// Unlocking: the key slots tried in order, the data key they open.
extension Vault {
    /// Opens a key slot with the given material and returns the data key. A format 1 vault is
    /// upgraded first (§6) unless this process holds the vault lock (a shared lock cannot be
    /// turned into the exclusive one safely): rows read before an upgrade must be read again
    /// (`format` tells).
    package func unlock(_ material: UnlockMaterial) throws -> DataKey {
        let key = try unlockSlot(material)
        if key.formatVersion < Self.formatVersion && !readOnly && lock.held == nil {
            return try upgradeFormat(from: key, material: material)
        }
        return key
    }

    func unlockSlot(_ material: UnlockMaterial) throws -> DataKey {
        let (row, slots) = try read { db in
            (
                try VaultRow.fetchOne(db, sql: "SELECT * FROM vault WHERE singleton = 1"),
                try KeySlot.fetchAll(db, sql: "SELECT * FROM key_slot ORDER BY created_at, id")
            )
        }
        guard let row else { throw VaultError.damaged("vault \(path) has no vault record") }
        // Another process may have upgraded the vault since it was opened.
        format = row.formatVersion
        return try Self.unlockSlot(row: row, slots: slots, material: material, path: path)
    }

    /// The data key from the vault row and key slots as read (one read, by the caller).
    static func unlockSlot(row: VaultRow, slots: [KeySlot], material: UnlockMaterial, path: String) throws -> DataKey {
        var failure: VaultError?
        if let key = material.sessionKey {
            // Proved against the vault when it was found; a rotation since then makes it stale.
            if key.vaultID == row.vaultId && key.generation == row.keyGeneration { return key }
            failure = VaultError.unlock(
                "the session key of vault \(path) is for key generation \(key.generation); the vault's key was rotated since (generation \(row.keyGeneration))",
                hint: "unlock again: `\(.unlockSession)`")
        }
        for (keyPath, keyFile) in material.keyFiles {
            guard let slot = slots.first(where: { $0.kind == .keyfile && $0.keyfileFingerprint == keyFile.fingerprint })
            else {
                failure =
                    failure
                    ?? VaultError.unlock(
                        "key file \(keyPath) does not unlock vault \(path)",
                        hint: "it was never added, or its slot was removed; `\(.diagnose)` lists the key slots")
                continue
            }
            if let key = slot.unwrap(
                with: keyFile.keyEncryptionKey, vaultID: row.vaultId, formatVersion: row.formatVersion),
                slot.keyGeneration == row.keyGeneration
            {
                return key
            }
            failure = VaultError.unlock("key file \(keyPath) does not open vault \(path): damaged key slot")
        }
        if let passphrase = material.passphrase {
            guard let slot = slots.first(where: { $0.kind == .passphrase }) else {
                throw failure
                    ?? VaultError.unlock(
                        "vault \(path) has no passphrase slot", hint: "unlock it with \(.option(.keyFile))")
            }
            if let kek = try slot.passphraseKEK(passphrase, path: path),
                let key = slot.unwrap(with: kek, vaultID: row.vaultId, formatVersion: row.formatVersion),
                slot.keyGeneration == row.keyGeneration
            {
                return key
            }
            throw VaultError.unlock("wrong passphrase for vault \(path) (or a damaged key slot)")
        }
        throw failure ?? VaultError.unlock("nothing to unlock vault \(path) with")
    }
}
