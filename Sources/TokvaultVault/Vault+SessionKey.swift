import GRDB

extension Vault {
    /// The keyring description of this vault's session key at its current key generation.
    package func sessionKeyDescription() throws -> String {
        let summary = try summary()
        return SessionKey.description(vaultID: summary.vaultID, generation: summary.keyGeneration)
    }

    /// The data key in a session-key payload, once it has proved to be this vault's: the payload
    /// must be for this vault's id and current generation and unexpired, and the key must verify
    /// the binding of the vault's first app. A key from the keyring did not come out of a key
    /// slot, and a key that merely looks right would seal new secrets where the vault's own key
    /// cannot open them (and whoever planted it can).
    package func openSessionKey(_ payload: SecureBytes, now: Int64) throws -> (key: DataKey, expiresAt: Int64) {
        let summary = try summary()
        let (key, expiresAt) = try SessionKey.open(
            payload, vaultID: summary.vaultID, generation: summary.keyGeneration,
            formatVersion: summary.formatVersion, now: now)
        guard summary.formatVersion >= 2,
            let app = try read({ db in try App.fetchOne(db, sql: "SELECT * FROM app ORDER BY id LIMIT 1") })
        else { throw SessionKey.Refusal.unverifiable }
        guard AppBinding.holds(for: app, key: key) else { throw SessionKey.Refusal.notThisVaultsKey }
        return (key, expiresAt)
    }
}
