/// The vault's locks, offered only as scopes: a caller cannot forget a release, take the
/// locks in the wrong order, or unlock before the lock it needs is held.
///
/// - `withUnlocked` holds the shared vault lock (`VAULT.lock`): no `rotate-key`, `restore` or
///   format upgrade (exclusive holders) can slip in between reading a row, unlocking and sealing.
/// - `withSingleFlight` holds an app's refresh lock (`VAULT.lock-APPID`) across a token request,
///   so that one process per app and expiry talks to the token endpoint.
/// - `withSlotLock` holds the key-slot lock (`VAULT.lock-slots`) across a change of the ways in.
extension Vault {
    /// Upgrades a format 1 vault first (which needs the exclusive lock, so it cannot happen under
    /// the shared one), takes the shared vault lock, checks the file is still the one opened,
    /// unlocks with `material`, runs `body`, and releases the lock (unless the caller's scope
    /// already held it).
    package func withUnlocked<T>(_ material: UnlockMaterial, _ body: (DataKey) throws -> T) throws -> T {
        try upgradeIfNeeded(material)
        let wasHeld = try holdSharedLock()
        defer { if !wasHeld { lock.release() } }
        return try body(try unlock(material))
    }

    /// `withUnlocked` with `app`'s row read again under the lock: a row read before the lock was
    /// taken may hold ciphertexts of a key that a rotation has since replaced.
    package func withUnlocked<T>(_ material: UnlockMaterial, rereading app: App, _ body: (App, DataKey) throws -> T)
        throws -> T
    {
        try withUnlocked(material) { key in try body(try reread(app), key) }
    }

    /// The same scope around asynchronous work (a token request).
    package func withUnlocked<T>(
        _ material: UnlockMaterial, rereading app: App, _ body: (App, DataKey) async throws -> T
    ) async throws -> T {
        try upgradeIfNeeded(material)
        let wasHeld = try holdSharedLock()
        defer { if !wasHeld { lock.release() } }
        let current = try reread(app)
        return try await body(current, try unlock(material))
    }

    /// Runs `body` holding `app`'s refresh lock, waiting up to `timeoutSeconds` for another
    /// process's refresh to finish. Readers of a token that is still valid never take it.
    package func withSingleFlight<T>(for app: App, timeoutSeconds: Double, _ body: () async throws -> T) async throws
        -> T
    {
        let refreshLock = VaultLock(vaultPath: path, name: app.id)
        try refreshLock.acquire(.exclusive, timeout: timeoutSeconds)
        defer { refreshLock.release() }
        return try await body()
    }

    /// Runs `body` holding the key-slot lock: `passwd`, `keyfile add`/`remove` and `rotate-key`
    /// change the key slots one at a time. A rotation derives its passphrase keys before it asks
    /// for the exclusive vault lock (writers wait only for its transaction), and this keeps what
    /// it derived from being overtaken by another change of the slots meanwhile.
    /// It comes first in the lock order: a caller takes it before the vault lock (a `passwd`
    /// that held the vault lock shared while it waited for this one would deadlock with a
    /// rotation that holds this one and waits for the vault lock). Nested scopes share it.
    package func withSlotLock<T>(_ body: () throws -> T) throws -> T {
        if slotLock.held != nil { return try body() }
        assert(lock.held == nil, "the key-slot lock is taken before the vault lock")
        try slotLock.acquire(.exclusive)
        defer { slotLock.release() }
        return try body()
    }

    /// Takes the shared vault lock; true when this process held it already.
    private func holdSharedLock() throws -> Bool {
        let wasHeld = lock.held != nil
        try lock.acquire(.shared)
        try checkNotReplaced()
        return wasHeld
    }
}
