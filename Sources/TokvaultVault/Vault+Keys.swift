import Foundation
import GRDB

extension Vault {
    /// Sets (or adds) the passphrase slot: the data key is rewrapped, nothing else changes.
    package func changePassphrase(_ newPassphrase: SecureBytes, kdf: KDFParameters = .default, key: DataKey) throws {
        try Self.refuseKeyringKey(key)
        try withSlotLock {
            let slot = try KeySlot.passphrase(newPassphrase, dataKey: key, parameters: kdf)
            try sealingWrite(key: key) { db in
                let replaced = try KeySlot.filter(Column("kind") == KeySlot.Kind.passphrase.rawValue).deleteAll(db)
                try slot.insert(db)
                try Self.record(
                    db, "passwd",
                    detail: replaced > 0 ? "passphrase changed (\(kdf))" : "passphrase slot added (\(kdf))")
            }
        }
    }

    /// A new way in is wrapped only with a key that came out of a key slot.
    static func refuseKeyringKey(_ key: DataKey) throws {
        guard key.fromKeyring else { return }
        throw VaultError.unlock(
            "the vault's key from the kernel keyring cannot add or change a way in",
            hint: "give the passphrase or a key file (\(.option(.keyFile)))")
    }

    /// Adds a key-file slot.
    package func addKeyFileSlot(_ keyFile: KeyFile, key: DataKey) throws {
        try Self.refuseKeyringKey(key)
        let slot = KeySlot.keyFile(keyFile, dataKey: key)
        try withSlotLock { try addSlot(slot, key: key) }
    }

    private func addSlot(_ slot: KeySlot, key: DataKey) throws {
        try sealingWrite(key: key) { db in
            if try KeySlot.filter(Column("keyfile_fingerprint") == slot.keyfileFingerprint).fetchCount(db) > 0 {
                throw VaultError.failure("this key file already unlocks the vault (slot \(slot.label))")
            }
            try slot.insert(db)
            try Self.record(db, "keyfile-add", detail: slot.label)
        }
    }

    /// Removes key-file slots whose fingerprint starts with `fingerprintPrefix`; refuses to
    /// remove the last slot, or to guess between several matches.
    @discardableResult
    package func removeKeyFileSlot(fingerprintPrefix: String) throws -> KeySlot {
        let prefix = fingerprintPrefix.lowercased()
        guard prefix.count >= 8, prefix.allSatisfy({ $0.isHexDigit }) else {
            throw VaultError.usage(
                "give at least 8 hex digits of the key file's fingerprint, or the key file's path",
                hint: "`\(.listKeySlots)` shows the fingerprints")
        }
        return try withSlotLock { try removeSlot(prefix: prefix) }
    }

    private func removeSlot(prefix: String) throws -> KeySlot {
        try sealingWrite(key: nil) { db in
            let slots = try KeySlot.fetchAll(db)
            let matches = slots.filter { $0.kind == .keyfile && ($0.keyfileFingerprint ?? "").hasPrefix(prefix) }
            guard let slot = matches.first else {
                throw VaultError.failure(
                    "no key-file slot with fingerprint \(prefix)", hint: "`\(.listKeySlots)` shows the slots")
            }
            guard matches.count == 1 else {
                throw VaultError.usage("fingerprint prefix \(prefix) matches several slots; give more digits")
            }
            guard slots.count > 1 else {
                throw VaultError.failure(
                    "refusing to remove the last key slot of \(path): the vault could never be unlocked again",
                    hint: "add another way in first (`\(.changePassphrase)` or `\(.createKeyFile)`)")
            }
            _ = try slot.delete(db)
            try Self.record(db, "keyfile-remove", detail: slot.label)
            return slot
        }
    }

    package struct RotationReport: Sendable {
        package var newGeneration: Int64
        package var resealed: Int
        package var keptSlots: [String]
        package var droppedSlots: [String]
        /// The session key that was present, replaced by one of the new generation with the
        /// same expiry (nil: there was none, or it could not be replaced and was removed).
        package var sessionKey: (ring: SessionRing, expiresAt: Int64)?
        package var sessionKeyRemoved = false
    }

    /// Replaces the data key. Every slot is rewrapped under the new key when its secret is in
    /// `material`; otherwise the rotation is refused unless `dropOtherSlots`. All sealed fields
    /// are re-encrypted in one transaction under the exclusive vault lock: a kill at any moment
    /// leaves either the old vault or the new one. A session key of the old generation is
    /// replaced by the new key, with the same expiry, once the rotation is committed.
    ///
    /// The slow part (Argon2id for the passphrase slot, twice) is done before the exclusive lock
    /// is taken, so that writers queued behind the rotation wait only for its transaction. The
    /// key-slot lock keeps `passwd`, `keyfile` and other rotations out meanwhile; should the
    /// slots or the key still have changed (a format upgrade), it is prepared again.
    package func rotateKey(material: UnlockMaterial, dropOtherSlots: Bool, kdf: KDFParameters? = nil) throws
        -> RotationReport
    {
        try withSlotLock { try rotateKeyHoldingSlotLock(material: material, dropOtherSlots: dropOtherSlots, kdf: kdf) }
    }

    private func rotateKeyHoldingSlotLock(material: UnlockMaterial, dropOtherSlots: Bool, kdf: KDFParameters?) throws
        -> RotationReport
    {
        var attempt = 1
        while true {
            let plan = try prepareRotation(material: material, dropOtherSlots: dropOtherSlots, kdf: kdf)
            try lock.acquire(.exclusive)
            defer { lock.release() }
            try checkNotReplaced()
            do {
                return try commitRotation(plan)
            } catch is StaleRotation where attempt < 3 {
                attempt += 1
            } catch is StaleRotation {
                throw VaultError.failure(
                    "the vault's key slots kept changing while rotate-key ran; nothing was changed",
                    hint: "run it again")
            }
        }
    }

    /// What a rotation writes, computed without the vault lock.
    private struct RotationPlan {
        var oldKey: DataKey
        var newKey: DataKey
        /// The slots the plan was made from (id and wrapped key): the commit checks them.
        var readSlots: [String]
        var newSlots: [KeySlot]
        var uncovered: [KeySlot]
    }

    /// The slots or the key moved between the plan and the commit.
    private struct StaleRotation: Error {}

    private static func fingerprint(_ slots: [KeySlot]) -> [String] {
        slots.map { $0.id + " " + $0.wrappedKey.base64EncodedString() }.sorted()
    }

    private func prepareRotation(material: UnlockMaterial, dropOtherSlots: Bool, kdf: KDFParameters?) throws
        -> RotationPlan
    {
        let oldKey = try unlock(material)
        try Self.refuseKeyringKey(oldKey)
        let slots = try keySlots()
        let vaultID = oldKey.vaultID

        // Which slots can be rewrapped with what was supplied?
        var coveredKeyFiles: [KeyFile] = []
        var coveredPassphrase: (SecureBytes, KDFParameters)?
        var uncovered: [KeySlot] = []
        for slot in slots {
            switch slot.kind {
            // A secret that was supplied but does not open its slot is an error, never "not
            // supplied": --drop-other-slots must not delete a slot over a typo.
            case .keyfile:
                if let match = material.keyFiles.first(where: { $0.keyFile.fingerprint == slot.keyfileFingerprint }) {
                    guard slot.unwrap(with: match.keyFile.keyEncryptionKey, vaultID: vaultID) != nil else {
                        throw VaultError.unlock(
                            "key file \(match.path) does not open its slot in \(path): damaged key slot")
                    }
                    coveredKeyFiles.append(match.keyFile)
                } else {
                    uncovered.append(slot)
                }
            case .passphrase:
                if let passphrase = material.passphrase {
                    guard let kek = try slot.passphraseKEK(passphrase, path: path),
                        slot.unwrap(with: kek, vaultID: vaultID) != nil
                    else {
                        throw VaultError.unlock("wrong passphrase for vault \(path) (or a damaged key slot)")
                    }
                    coveredPassphrase = (passphrase, kdf ?? slot.kdfParameters ?? .default)
                } else {
                    uncovered.append(slot)
                }
            }
        }
        for (keyPath, keyFile) in material.keyFiles
        where !slots.contains(where: { $0.keyfileFingerprint == keyFile.fingerprint }) {
            throw VaultError.unlock(
                "key file \(keyPath) does not unlock vault \(path)", hint: "`\(.listKeySlots)` shows the key slots"
            )
        }
        if !uncovered.isEmpty && !dropOtherSlots {
            throw VaultError.failure(
                "rotate-key needs the secret of every key slot; not supplied: \(uncovered.map(\.label).joined(separator: ", "))",
                hint:
                    "pass each key file with \(.option(.repeatedKeyFile)) and the passphrase, or add \(.option(.dropOtherSlots)) to remove those slots"
            )
        }
        if coveredKeyFiles.isEmpty && coveredPassphrase == nil {
            throw VaultError.failure("rotate-key would leave no key slot", hint: "supply at least one slot's secret")
        }

        let newKey = DataKey(
            bytes: .random(count: Sodium.keyBytes), generation: oldKey.generation + 1, vaultID: vaultID,
            formatVersion: oldKey.formatVersion)
        var newSlots: [KeySlot] = coveredKeyFiles.map { KeySlot.keyFile($0, dataKey: newKey) }
        if let (passphrase, parameters) = coveredPassphrase {
            newSlots.insert(try KeySlot.passphrase(passphrase, dataKey: newKey, parameters: parameters), at: 0)
        }

        return RotationPlan(
            oldKey: oldKey, newKey: newKey, readSlots: Self.fingerprint(slots), newSlots: newSlots, uncovered: uncovered
        )
    }

    private func commitRotation(_ plan: RotationPlan) throws -> RotationReport {
        let (oldKey, newKey, newSlots, uncovered) = (plan.oldKey, plan.newKey, plan.newSlots, plan.uncovered)
        let session = (try? findSessionKey(now: Clock.now()))?.found
        var report = try Self.mapDatabaseErrors(path: path) {
            var resealed = 0
            try dbQueue.inTransaction(.immediate) { db in
                guard var row = try VaultRow.fetchOne(db) else {
                    throw VaultError.damaged("vault \(path) has no vault row")
                }
                guard row.keyGeneration == oldKey.generation,
                    Self.fingerprint(try KeySlot.fetchAll(db)) == plan.readSlots
                else { throw StaleRotation() }
                // Bindings are checked under the old key before the new one vouches for them.
                let cells = try Self.sealedCells(db)
                let rebound = try Self.rebind(
                    db, from: oldKey, to: newKey, verify: { try self.verifyBinding($0, key: oldKey) })
                for cell in cells {
                    let plaintext = try SealedField.open(cell.sealed, key: oldKey, place: cell.place, what: cell.what)
                    var moved = cell
                    moved.app = rebound[cell.app.id] ?? cell.app
                    let sealed = SealedField.seal(plaintext, key: newKey, place: moved.place)
                    try db.execute(
                        sql: "UPDATE \(cell.table) SET \(cell.column) = ? WHERE id = ?",
                        arguments: [Data(sealed), cell.row])
                    resealed += 1
                }
                try KeySlot.deleteAll(db)
                for slot in newSlots { try slot.insert(db) }
                row.keyGeneration = newKey.generation
                row.rotatedAt = Clock.now()
                try row.update(db)
                try Self.record(
                    db, "rotate-key",
                    detail: "generation \(newKey.generation), \(resealed) fields re-sealed"
                        + (uncovered.isEmpty ? "" : ", dropped \(uncovered.map(\.label).joined(separator: ", "))"))
                return .commit
            }
            return RotationReport(
                newGeneration: newKey.generation, resealed: resealed,
                keptSlots: newSlots.map(\.label), droppedSlots: uncovered.map(\.label))
        }
        let now = Clock.now()
        let left = Int(min((session?.expiresAt ?? now) - now, 24 * 3600))
        if let session, left >= 1,
            let expiresAt = try? storeSessionKey(newKey, seconds: left, in: session.ring, now: now)
        {
            report.sessionKey = (session.ring, expiresAt)
        } else {
            // Keys of the old generation are of no use any more (and one that did not prove itself never was).
            report.sessionKeyRemoved = (try? removeSessionKeys()) ?? 0 > 0
        }
        return report
    }
}

extension Vault {
    /// Binds every app anew under `newKey` (format 2), after `verify` accepted its current
    /// binding; returns the apps as rebound, by id. The sealed fields still name the old
    /// bindings: the caller re-seals them.
    static func rebind(_ db: Database, from oldKey: DataKey, to newKey: DataKey, verify: (App) throws -> Void) throws
        -> [String: App]
    {
        var rebound: [String: App] = [:]
        for var app in try App.fetchAll(db, sql: "SELECT * FROM app") {
            try verify(app)
            if newKey.formatVersion >= 2 {
                app.binding = Data(AppBinding.mac(of: app, key: newKey))
                try db.execute(sql: "UPDATE app SET binding = ? WHERE id = ?", arguments: [app.binding, app.id])
            }
            rebound[app.id] = app
        }
        return rebound
    }
}
