import Foundation
import GRDB

extension Vault {
    /// Upgrades a format 1 or 2 vault to the current format (docs/vault-format.md §6, "upgrade"):
    /// binds every app and re-seals every sealed field under the new binding, in one transaction
    /// under the exclusive vault lock, so a kill leaves the old or the new form. Every sealed
    /// field must open under the old format's AAD first, and from format 2 every app's binding
    /// must hold under the old format: a file that claims an older format than it holds, or
    /// whose columns were edited, is refused (exit 5), never upgraded (an edit would be bound as
    /// if the user had made it). From format 1 what it bound is told to `upgradeNotice`: the
    /// columns were not authenticated before, so the user sees what is trusted from now on.
    func upgradeFormat(from key: DataKey, material: UnlockMaterial) throws -> DataKey {
        try lock.acquire(.exclusive)
        defer { lock.release() }
        try checkNotReplaced()
        // Another process may have upgraded (or rotated the key) while this one waited.
        let old = try unlockSlot(material)
        guard old.formatVersion < Self.formatVersion else {
            format = old.formatVersion
            return old
        }
        let new = old.atFormat(Self.formatVersion)
        var bound: [App] = []
        var resealed = 0
        try Self.mapDatabaseErrors(path: path) {
            try dbQueue.inTransaction(.immediate) { db in
                guard var row = try VaultRow.fetchOne(db), row.formatVersion == old.formatVersion,
                    row.keyGeneration == old.generation, row.vaultId == old.vaultID
                else {
                    throw VaultError.failure(
                        "the vault changed while it was being upgraded; nothing was changed",
                        hint: "run the command again")
                }
                let cells = try Self.sealedCells(db)
                let rebound = try Self.rebind(
                    db, from: old, to: new,
                    verify: { app in try self.verifyBinding(app, key: old) })
                for cell in cells {
                    let plaintext = try SealedField.open(cell.sealed, key: old, place: cell.place, what: cell.what)
                    var moved = cell
                    moved.app = rebound[cell.app.id] ?? cell.app
                    try db.execute(
                        sql: "UPDATE \(cell.table) SET \(cell.column) = ? WHERE id = ?",
                        arguments: [Data(SealedField.seal(plaintext, key: new, place: moved.place)), cell.row])
                    resealed += 1
                }
                row.formatVersion = new.formatVersion
                try row.update(db)
                try Self.record(
                    db, "upgrade",
                    detail: "format \(old.formatVersion) -> \(new.formatVersion), "
                        + "\(rebound.count) app(s) bound, \(resealed) field(s) re-sealed")
                bound = rebound.values.sorted { $0.name < $1.name }
                return .commit
            }
        }
        format = new.formatVersion
        if let notice = Self.upgradeNotice, old.formatVersion >= 2 {
            notice(
                "upgraded vault \(path) to format \(new.formatVersion): \(resealed) sealed field(s) re-sealed; "
                    + "apps can now keep an API base and request headers (`\(.changeApp("NAME", .any))`)")
        } else if let notice = Self.upgradeNotice {
            notice(
                "upgraded vault \(path) to format \(new.formatVersion): \(resealed) sealed field(s) re-sealed; "
                    + "these endpoints are now bound to the data key (check them with `\(.showApp("NAME"))`):")
            for app in bound { notice("  \(Self.boundSummary(app))") }
        }
        return new
    }

    /// Upgrades a format 1 vault now, before the caller reads rows or takes the vault lock (under
    /// which `unlock` cannot upgrade). Nothing to do, and no unlock, for a current vault.
    package func upgradeIfNeeded(_ material: UnlockMaterial) throws {
        if format < Self.formatVersion && !readOnly && lock.held == nil { _ = try unlock(material) }
    }

    /// One line per app for the upgrade notice: where its secrets and sign-in go.
    static func boundSummary(_ app: App) -> String {
        var parts = ["client \(app.clientID)", "token \(app.tokenEndpoint)"]
        if !app.authorizeEndpoint.isEmpty { parts.append("authorize \(app.authorizeEndpoint)") }
        if let device = app.deviceEndpoint { parts.append("device \(device)") }
        if !app.usesClientCredentialsFlow { parts.append("redirect \(app.redirectURI)") }
        if let issuer = app.issuer { parts.append("issuer \(issuer)") }
        return Display.printable(app.name) + ": " + parts.map(Display.printable).joined(separator: ", ")
    }
}
