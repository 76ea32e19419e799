import CTokvault
import Foundation
import GRDB
import GRDBSQLite

/// Sealed fields: opening one app's secrets, and walking every sealed cell of the file.
extension Vault {
    /// Proves with the data key that the columns of `app` which steer its secrets and sign-in
    /// are the ones that were sealed (`AppBinding`). Every accessor that opens a secret of an
    /// app calls it first; commands that send nothing secret (a public client's sign-in) call it
    /// before they print, open or send anything. A format 1 vault has no binding yet.
    package func verifyBinding(_ app: App, key: DataKey) throws { try Self.verifyBinding(app, key: key) }

    static func verifyBinding(_ app: App, key: DataKey) throws {
        // Before format 3 the columns of migration 0005 are NULL in every vault tokvault wrote
        // (format 2's binding also covers them; format 1 has none, and its upgrade would bind them).
        // The same holds for the columns of 0006 and the client authentication they came with.
        if key.formatVersion < 3 && app.hasFormat3Columns {
            throw VaultError.damaged(
                "app \"\(Display.printable(app.name))\" failed authentication: the file was modified (an API base, "
                    + "request headers, a federated credential or client capabilities in a vault of format "
                    + "\(key.formatVersion), which has none)",
                hint: "restore the vault from a backup (\(.restoreBackup)); nothing was sent anywhere")
        }
        guard key.formatVersion >= 2 else { return }
        guard AppBinding.holds(for: app, key: key) else {
            throw VaultError.damaged(
                "app \"\(Display.printable(app.name))\" failed authentication: the file was modified (a column that decides "
                    + "where its secrets or sign-in go — name, endpoints, client id, redirect URI, scope, flow, client "
                    + "authentication, issuer, certificate, API base, request headers, federated credential or client "
                    + "capabilities — is not the one that was sealed)",
                hint: "restore the vault from a backup (\(.restoreBackup)); nothing was sent anywhere")
        }
    }

    package func clientSecret(of app: App, key: DataKey) throws -> SecureBytes? {
        try verifyBinding(app, key: key)
        guard let sealed = app.clientSecret else { return nil }
        return try SealedField.open(
            [UInt8](sealed), key: key, place: app.clientSecretPlace, what: "app \"\(app.name)\" client_secret")
    }

    /// The DER of the app's certificate key, for signing client assertions.
    package func privateKey(of app: App, key: DataKey) throws -> SecureBytes? {
        try verifyBinding(app, key: key)
        guard let sealed = app.privateKey else { return nil }
        return try SealedField.open(
            [UInt8](sealed), key: key, place: app.privateKeyPlace, what: "app \"\(app.name)\" private_key")
    }

    package func refreshToken(of app: App, key: DataKey) throws -> SecureBytes? {
        try verifyBinding(app, key: key)
        guard let session = try session(appID: app.id), let sealed = session.refreshToken else { return nil }
        return try SealedField.open(
            [UInt8](sealed), key: key, place: app.place(table: "session", column: "refresh_token", row: session.id),
            what: "app \"\(app.name)\" refresh_token")
    }

    /// Every sealed field in the vault, for verification and re-encryption.
    struct SealedCell {
        var table: String
        var column: String
        var row: String
        var app: App
        var sealed: [UInt8]
        var scopeKey = ""
        var place: SealedFieldPlace { app.place(table: table, column: column, row: row, scopeKey: scopeKey) }
        var what: String { "app \"\(app.name)\" \(table).\(column)" }
    }

    static func sealedCells(_ db: Database, appID: String? = nil) throws -> [SealedCell] {
        var apps: [String: App] = [:]
        let filter = appID == nil ? "" : " WHERE app_id = ?"
        let arguments: StatementArguments = appID.map { [$0] } ?? []
        for app in try App.fetchAll(
            db, sql: "SELECT * FROM app" + (appID == nil ? "" : " WHERE id = ?"), arguments: arguments)
        {
            apps[app.id] = app
        }
        var cells: [SealedCell] = []
        for app in apps.values {
            if let secret = app.clientSecret {
                cells.append(
                    SealedCell(table: "app", column: "client_secret", row: app.id, app: app, sealed: [UInt8](secret)))
            }
            if let privateKey = app.privateKey {
                cells.append(
                    SealedCell(table: "app", column: "private_key", row: app.id, app: app, sealed: [UInt8](privateKey)))
            }
        }
        for session in try Session.fetchAll(db, sql: "SELECT * FROM session" + filter, arguments: arguments) {
            guard let app = apps[session.appID] else {
                throw VaultError.damaged("session \(session.id) belongs to no app")
            }
            if let t = session.refreshToken {
                cells.append(
                    SealedCell(table: "session", column: "refresh_token", row: session.id, app: app, sealed: [UInt8](t))
                )
            }
            if let t = session.idToken {
                cells.append(
                    SealedCell(table: "session", column: "id_token", row: session.id, app: app, sealed: [UInt8](t)))
            }
        }
        for token in try AccessToken.fetchAll(db, sql: "SELECT * FROM access_token" + filter, arguments: arguments) {
            guard let app = apps[token.appID] else {
                throw VaultError.damaged("access token \(token.id) belongs to no app")
            }
            cells.append(
                SealedCell(
                    table: "access_token", column: "token", row: token.id, app: app, sealed: [UInt8](token.token),
                    scopeKey: token.scopeKey))
        }
        return cells
    }

    /// Checks every app's binding and opens every sealed field; returns how many fields there
    /// are. Throws on the first that fails.
    package func verifyAllSealedFields(key: DataKey) throws -> Int {
        let (apps, cells) = try read { db in (try App.fetchAll(db, sql: "SELECT * FROM app"), try Self.sealedCells(db))
        }
        for app in apps { try verifyBinding(app, key: key) }
        for cell in cells {
            _ = try SealedField.open(cell.sealed, key: key, place: cell.place, what: cell.what)
        }
        return cells.count
    }

    /// Checks the binding of one app (as stored now) and opens its sealed fields; returns how
    /// many there are.
    package func verifySealedFields(of app: App, key: DataKey) throws -> Int {
        let (current, cells) = try read { db in
            (
                try App.fetchOne(db, sql: "SELECT * FROM app WHERE id = ?", arguments: [app.id]),
                try Self.sealedCells(db, appID: app.id)
            )
        }
        guard let current else { throw Self.replaced(app.name) }
        try verifyBinding(current, key: key)
        for cell in cells {
            _ = try SealedField.open(cell.sealed, key: key, place: cell.place, what: cell.what)
        }
        return cells.count
    }
}
