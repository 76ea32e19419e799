import GRDB
import Glibc

/// Where `tokvault unlock` leaves the data key (docs/vault-format.md §9).
package enum SessionRing: Sendable, CaseIterable, CustomStringConvertible {
    /// The caller's session keyring: processes that possess it (this shell and its children).
    case session
    /// The uid-wide user keyring, opted into with `--user-keyring`: every process of the uid.
    case user

    var special: KernelKeyring.Ring { self == .session ? .session : .user }

    package var description: String { self == .session ? "session keyring" : "user keyring" }

    /// Possessor view/read/search/setattr; in the user keyring also user view/read/search, since
    /// a session that does not link the user keyring does not possess its keys (and any process
    /// of the uid can link it, so the bits give nobody more than the opt-in already did).
    var permissions: UInt32 {
        self == .session ? KernelKeyring.possessorOnly : KernelKeyring.possessorOnly | 0x000b_0000
    }
}

/// The session key of a vault, found in the keyring and proved to be the vault's.
package struct FoundSessionKey: Sendable {
    package let key: DataKey
    package let expiresAt: Int64
    package let ring: SessionRing
}

/// A key with the vault's description that was not used, and why.
package struct DiscardedSessionKey: Sendable, Equatable {
    package enum Reason: Sendable, Equatable {
        /// Not a "user" key of the effective uid (planted by another user, or chowned).
        case foreign(type: String, uid: uid_t)
        case refused(SessionKey.Refusal)
        case unreadable(KernelKeyring.Refusal)
    }

    package let ring: SessionRing
    package let reason: Reason
    /// Whether it could be invalidated.
    package let removed: Bool
}

/// What looking for the vault's session key found.
package struct SessionKeyLookup: Sendable {
    package var found: FoundSessionKey?
    package var discarded: [DiscardedSessionKey] = []
    /// A key is present, but the vault has no app whose binding could prove it (a new vault,
    /// or format 1): it was left in place and not used.
    package var unverifiable = false
}

extension Vault {
    /// The vault id, format and key generation: what a session key is described by and checked
    /// against, read without the migration bookkeeping `summary()` adds.
    private func keyIdentity() throws -> (vaultID: String, formatVersion: Int, generation: Int64) {
        let row = try read { db in try VaultRow.fetchOne(db, sql: "SELECT * FROM vault WHERE singleton = 1") }
        guard let row else { throw VaultError.damaged("vault \(path) has no vault record") }
        return (row.vaultId, row.formatVersion, row.keyGeneration)
    }

    /// The keyring description of this vault's session key at its current key generation.
    package func sessionKeyDescription() throws -> String {
        let identity = try keyIdentity()
        return SessionKey.description(vaultID: identity.vaultID, generation: identity.generation)
    }

    /// The data key in a session-key payload, once it has proved to be this vault's: the payload
    /// must be for this vault's id and current generation and unexpired, and the key must verify
    /// the binding of the vault's oldest app (lowest rowid). A key from the keyring did not come out of a key
    /// slot, and a key that merely looks right would seal new secrets where the vault's own key
    /// cannot open them (and whoever planted it can).
    package func openSessionKey(_ payload: SecureBytes, now: Int64) throws -> (key: DataKey, expiresAt: Int64) {
        let identity = try keyIdentity()
        let (key, expiresAt) = try SessionKey.open(
            payload, vaultID: identity.vaultID, generation: identity.generation,
            formatVersion: identity.formatVersion, now: now)
        guard identity.formatVersion >= 2,
            let app = try read({ db in try App.fetchOne(db, sql: "SELECT * FROM app ORDER BY rowid LIMIT 1") })
        else { throw SessionKey.Refusal.unverifiable }
        guard AppBinding.holds(for: app, key: key) else { throw SessionKey.Refusal.notThisVaultsKey }
        return (key, expiresAt)
    }

    /// Why `ring` is no place for a session key, as the error `unlock` reports; nil when it is.
    package static func sessionKeyringRefusal(_ ring: SessionRing) -> VaultError? {
        let keyFiles: Guidance =
            "unlock with a key file instead (`\(.createKeyFile)`, then \(.option(.keyFile)))"
        let ownSession: Guidance =
            "run `keyctl session` to start a shell with a session keyring of its own, or pass \(.option(.userKeyring))"
        let problem: KernelKeyring.SessionProblem?
        switch ring {
        case .session:
            problem = KernelKeyring.sessionKeyringProblem()
        case .user:
            do {
                let owner = try KernelKeyring.describe(KernelKeyring.id(of: .user)).uid
                problem = owner == geteuid() ? nil : .ownedBy(owner)
            } catch let refusal as KernelKeyring.Refusal {
                problem = .unavailable(refusal)
            } catch {
                problem = .unavailable(KernelKeyring.Refusal(operation: "keyctl", errno: EINVAL))
            }
        }
        switch problem {
        case nil:
            return nil
        case .isUserSession:
            return VaultError.unlock(
                "this process has no session keyring of its own: it falls back to uid \(geteuid())'s user-session keyring, which outlives the session (no pam_keyinit: a container, `su` without a login, cron)",
                hint: ownSession)
        case .ownedBy(let owner):
            return VaultError.unlock(
                "the \(ring) belongs to uid \(owner), not to uid \(geteuid()) (as under sudo): its owner could read the key",
                hint: ring == .session
                    ? ownSession : "run tokvault as the user whose vault it is, or in a session keyring of your own")
        case .unavailable(let refusal):
            return VaultError.unlock(
                "the kernel refuses keyring calls here (\(refusal); a container's seccomp profile?)", hint: keyFiles)
        }
    }

    /// Puts `key` into `ring` for `seconds`, replacing this vault's keys there (of any
    /// generation: add_key cannot update a key without write permission, and an entry of an
    /// older generation is of no use). Returns the expiry the payload carries.
    package func storeSessionKey(_ key: DataKey, seconds: Int, in ring: SessionRing, now: Int64) throws -> Int64 {
        precondition((1...24 * 3600).contains(seconds))
        if let refusal = Self.sessionKeyringRefusal(ring) { throw refusal }
        do {
            let ringID = try KernelKeyring.id(of: ring.special)
            Self.removeSessionKeys(in: [ring]) { $0.hasPrefix(Self.sessionKeyPrefix(vaultID: key.vaultID)) }
            let expiresAt = now + Int64(seconds)
            _ = try KernelKeyring.add(
                description: SessionKey.description(vaultID: key.vaultID, generation: key.generation),
                payload: SessionKey.payload(for: key, expiresAt: expiresAt), to: ringID,
                permissions: ring.permissions, timeoutSeconds: UInt32(seconds))
            return expiresAt
        } catch let refusal as KernelKeyring.Refusal {
            throw VaultError.unlock("cannot store the key in the \(ring): \(refusal)")
        }
    }

    /// This vault's session key, looked for in the session keyring, then the user keyring. A key
    /// with the vault's description that is not the effective uid's, or does not prove itself
    /// (`openSessionKey`), is removed and reported; the kernel refusing keyring calls is the
    /// same as no key.
    package func findSessionKey(now: Int64) throws -> SessionKeyLookup {
        let description = try sessionKeyDescription()
        var lookup = SessionKeyLookup()
        var seen: Set<Int32> = []
        for ring in SessionRing.allCases {
            guard let ringID = try? KernelKeyring.id(of: ring.special) else { continue }
            // A search returns one match; after a discarded key is invalidated, look again.
            while let serial = try? KernelKeyring.search(ringID, description: description), seen.insert(serial).inserted
            {
                func discard(_ reason: DiscardedSessionKey.Reason) {
                    let removed = (try? KernelKeyring.invalidate(serial)) != nil
                    lookup.discarded.append(DiscardedSessionKey(ring: ring, reason: reason, removed: removed))
                }
                do {
                    let info = try KernelKeyring.describe(serial)
                    guard info.type == "user", info.uid == geteuid() else {
                        discard(.foreign(type: info.type, uid: info.uid))
                        continue
                    }
                    let payload = try KernelKeyring.read(serial, limit: SessionKey.payloadLength + 1)
                    let (key, expiresAt) = try openSessionKey(payload, now: now)
                    // The session keyring may link the user keyring: say where the key really is.
                    let linkedInSession = (try? KernelKeyring.keys(in: KernelKeyring.id(of: .session)))?.contains(
                        serial)
                    lookup.found = FoundSessionKey(
                        key: key, expiresAt: expiresAt, ring: linkedInSession == true ? .session : .user)
                    return lookup
                } catch let refusal as KernelKeyring.Refusal {
                    if !refusal.isNoKey { discard(.unreadable(refusal)) }
                } catch SessionKey.Refusal.unverifiable {
                    lookup.unverifiable = true
                    return lookup
                } catch let refusal as SessionKey.Refusal {
                    discard(.refused(refusal))
                }
            }
        }
        return lookup
    }

    /// Invalidates this vault's session keys, of every generation, in both rings; returns how many.
    @discardableResult
    package func removeSessionKeys() throws -> Int {
        let prefix = Self.sessionKeyPrefix(vaultID: try keyIdentity().vaultID)
        return Self.removeSessionKeys(in: SessionRing.allCases) { $0.hasPrefix(prefix) }
    }

    /// Invalidates every tokvault session key in both rings (`lock --all`); returns how many.
    @discardableResult
    package static func removeAllSessionKeys() -> Int {
        removeSessionKeys(in: SessionRing.allCases) { $0.hasPrefix("tokvault:") }
    }

    static func sessionKeyPrefix(vaultID: String) -> String { "tokvault:\(vaultID):" }

    /// Invalidates the "user" keys linked directly into `rings` whose description matches.
    @discardableResult
    static func removeSessionKeys(in rings: [SessionRing], where matches: (String) -> Bool) -> Int {
        var removed: Set<Int32> = []
        for ring in rings {
            guard let ringID = try? KernelKeyring.id(of: ring.special),
                let serials = try? KernelKeyring.keys(in: ringID)
            else { continue }
            for serial in serials where !removed.contains(serial) {
                guard let info = try? KernelKeyring.describe(serial), info.type == "user", matches(info.description)
                else { continue }
                if (try? KernelKeyring.invalidate(serial)) != nil { removed.insert(serial) }
            }
        }
        return removed.count
    }
}
