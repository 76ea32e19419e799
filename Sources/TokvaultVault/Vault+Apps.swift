import Foundation
import GRDB

extension Vault {
    /// Adds an app, bound (format 2) with `key`; `clientSecret` or the certificate's
    /// `privateKey` (DER) is sealed with it in the same transaction.
    package func addApp(_ app: App, clientSecret: SecureBytes?, privateKey: SecureBytes? = nil, key: DataKey) throws {
        var app = app
        if key.formatVersion >= 2 { app.binding = Data(AppBinding.mac(of: app, key: key)) }
        if let clientSecret {
            app.clientSecret = Data(SealedField.seal(clientSecret, key: key, place: app.clientSecretPlace))
        }
        if let privateKey {
            app.privateKey = Data(SealedField.seal(privateKey, key: key, place: app.privateKeyPlace))
        }
        try sealingWrite(key: key) { db in
            if try App.filter(Column("name") == app.name).fetchCount(db) > 0 {
                throw VaultError.failure(
                    "an app named \"\(app.name)\" already exists",
                    hint: "change it with `\(.changeApp(app.name, .any))`, or pick another name")
            }
            try app.insert(db)
            try Self.record(
                db, "add-app", app: app.name, detail: "client_id=\(app.clientID) token_endpoint=\(app.tokenEndpoint)")
        }
    }

    /// What `set` changes besides public fields.
    package struct AppChanges {
        package var newClientSecret: SecureBytes?
        /// A new certificate key (DER); the certificate and algorithm are public fields of the
        /// updated app. Replaces a client secret, as a new secret replaces a certificate.
        package var newPrivateKey: SecureBytes?
        package var makePublic = false
        package var refreshToken: SecureBytes?

        package init(
            newClientSecret: SecureBytes? = nil, newPrivateKey: SecureBytes? = nil, makePublic: Bool = false,
            refreshToken: SecureBytes? = nil
        ) {
            self.newClientSecret = newClientSecret
            self.newPrivateKey = newPrivateKey
            self.makePublic = makePublic
            self.refreshToken = refreshToken
        }
    }

    package struct UpdateReport: Sendable {
        package var changedColumns: [String] = []
        package var resealed = 0
        package var droppedTokens = false
        package var droppedAccessTokens = false
    }

    /// Applies an edited app. The original's binding is checked first (an edit made in the file
    /// is never sealed as if the user had made it); the new columns are bound, and every sealed
    /// field the app keeps is re-sealed under the new binding. Tokens issued to the old client,
    /// endpoint or flow are dropped, never sent elsewhere.
    @discardableResult
    package func updateApp(original: App, updated: App, changes: AppChanges, key: DataKey) throws -> UpdateReport {
        var app = updated
        app.id = original.id
        app.createdAt = original.createdAt
        app.updatedAt = Clock.now()
        var report = UpdateReport()

        try sealingWrite(key: key) { db in
            guard let current = try App.fetchOne(db, key: original.id), current == original else {
                throw VaultError.failure(
                    "app \"\(original.name)\" changed while this command ran; nothing was changed",
                    hint: "run the command again")
            }
            try verifyBinding(original, key: key)
            if app.name != original.name, try App.filter(Column("name") == app.name).fetchCount(db) > 0 {
                throw VaultError.failure("an app named \"\(app.name)\" already exists")
            }
            // Client credential: at most one of a secret and a certificate key. `keptSecret` and
            // `keptKey` are re-sealed under the new binding below.
            var newSecret: SecureBytes?
            var newKey: SecureBytes?
            var keepSecret = original.clientSecret != nil
            var keepKey = original.privateKey != nil
            if changes.makePublic {
                app.clientAuth = .none
                Self.dropCertificate(&app)
                Self.dropFederated(&app)
                (keepSecret, keepKey) = (false, false)
            } else if let secret = changes.newClientSecret {
                if [.none, .privateKeyJWT, .federatedAssertion].contains(app.clientAuth) {
                    app.clientAuth = app.provider == .azure ? .post : .basic
                }
                Self.dropCertificate(&app)
                Self.dropFederated(&app)
                newSecret = secret
                (keepSecret, keepKey) = (false, false)
            } else if let privateKey = changes.newPrivateKey {
                precondition(
                    app.certificate != nil && app.assertionAlg != nil, "a certificate key needs its certificate")
                app.clientAuth = .privateKeyJWT
                Self.dropFederated(&app)
                newKey = privateKey
                (keepSecret, keepKey) = (false, false)
            } else if app.usesFederatedCredential {
                // A federated credential replaces the secret or certificate: none is kept.
                Self.dropCertificate(&app)
                (keepSecret, keepKey) = (false, false)
            }
            let keptSecret =
                try keepSecret
                ? original.clientSecret.map {
                    try SealedField.open(
                        [UInt8]($0), key: key, place: original.clientSecretPlace,
                        what: "app \"\(original.name)\" client_secret")
                } : nil
            let keptKey =
                try keepKey
                ? original.privateKey.map {
                    try SealedField.open(
                        [UInt8]($0), key: key, place: original.privateKeyPlace,
                        what: "app \"\(original.name)\" private_key")
                } : nil
            // Tokens were issued to the old client at the old endpoint: never send them elsewhere.
            // Tokens of a user's sign-in must not be served as the app's own, nor the reverse.
            if !app.keepsTokens(of: original) {
                let sessions = try Session.filter(Column("app_id") == app.id).deleteAll(db)
                let tokens = try AccessToken.filter(Column("app_id") == app.id).deleteAll(db)
                report.droppedTokens = sessions + tokens > 0
            } else if original.scope != app.scope {
                report.droppedAccessTokens =
                    try AccessToken
                    .filter(Column("app_id") == app.id && Column("scope_key") == "").deleteAll(db) > 0
            }
            if key.formatVersion >= 2 { app.binding = Data(AppBinding.mac(of: app, key: key)) }
            app.clientSecret = (newSecret ?? keptSecret).map {
                Data(SealedField.seal($0, key: key, place: app.clientSecretPlace))
            }
            app.privateKey = (newKey ?? keptKey).map {
                Data(SealedField.seal($0, key: key, place: app.privateKeyPlace))
            }
            report.resealed += (newSecret ?? keptSecret ?? newKey ?? keptKey) == nil ? 0 : 1
            // The tokens the app keeps are sealed under its binding too.
            if app.binding != original.binding {
                for cell in try Self.sealedCells(db, appID: app.id) where cell.table != "app" {
                    let plaintext = try SealedField.open(cell.sealed, key: key, place: cell.place, what: cell.what)
                    var moved = cell
                    moved.app = app
                    try db.execute(
                        sql: "UPDATE \(cell.table) SET \(cell.column) = ? WHERE id = ?",
                        arguments: [Data(SealedField.seal(plaintext, key: key, place: moved.place)), cell.row])
                    report.resealed += 1
                }
            }
            try app.update(db)
            if let refreshToken = changes.refreshToken {
                try Self.storeRefreshToken(db, refreshToken, app: app, key: key)
                report.resealed += 1
            }
            report.changedColumns = Self.changedColumns(original, app, changes: changes)
            try Self.record(db, "set", app: app.name, detail: report.changedColumns.joined(separator: ","))
        }
        return report
    }

    static func changedColumns(_ a: App, _ b: App, changes: AppChanges) -> [String] {
        var out: [String] = []
        if a.name != b.name { out.append("name") }
        if a.tenant != b.tenant { out.append("tenant") }
        if a.cloud != b.cloud { out.append("cloud") }
        if a.authorityHost != b.authorityHost { out.append("authority_host") }
        if a.clientID != b.clientID { out.append("client_id") }
        if a.authorizeEndpoint != b.authorizeEndpoint { out.append("authorize_endpoint") }
        if a.tokenEndpoint != b.tokenEndpoint { out.append("token_endpoint") }
        if a.redirectURI != b.redirectURI { out.append("redirect_uri") }
        if a.scope != b.scope { out.append("scope") }
        if a.clientAuth != b.clientAuth { out.append("client_auth") }
        if a.flow != b.flow { out.append("flow") }
        if a.certificate != b.certificate { out.append("certificate") }
        if a.assertionAlg != b.assertionAlg { out.append("assertion_alg") }
        if a.apiBase != b.apiBase { out.append("api_base") }
        if a.requestHeaders != b.requestHeaders { out.append("request_headers") }
        if a.federatedSource != b.federatedSource { out.append("federated_source") }
        if a.federatedTokenFile != b.federatedTokenFile { out.append("federated_token_file") }
        if a.federatedAudience != b.federatedAudience { out.append("federated_audience") }
        if a.clientCapabilities != b.clientCapabilities { out.append("client_capabilities") }
        if a.clientSecret != nil && b.clientSecret == nil && changes.newClientSecret == nil && !changes.makePublic {
            out.append("client_secret(removed)")
        }
        if a.privateKey != nil && b.privateKey == nil && changes.newPrivateKey == nil && changes.newClientSecret == nil
            && !changes.makePublic
        {
            out.append("private_key(removed)")
        }
        if changes.newClientSecret != nil { out.append("client_secret") }
        if changes.newPrivateKey != nil { out.append("private_key") }
        if changes.makePublic { out.append("client_secret(removed)") }
        if changes.refreshToken != nil { out.append("refresh_token") }
        return out
    }

    static func dropFederated(_ app: inout App) {
        app.federatedSource = nil
        app.federatedTokenFile = nil
        app.federatedAudience = nil
    }

    static func dropCertificate(_ app: inout App) {
        app.certificate = nil
        app.privateKey = nil
        app.assertionAlg = nil
    }

    /// Stores an imported refresh token for `app`. It starts a new session: the previous ID
    /// token and account belonged to another grant.
    static func storeRefreshToken(_ db: Database, _ token: SecureBytes, app: App, key: DataKey) throws {
        let now = Clock.now()
        var session =
            try Session.filter(Column("app_id") == app.id).fetchOne(db)
            ?? Session(
                id: UUID().uuidString.lowercased(), appID: app.id, refreshToken: nil, idToken: nil,
                account: nil, grantedScope: nil, obtainedAt: now, refreshedAt: nil)
        session.refreshToken = Data(
            SealedField.seal(
                token, key: key, place: app.place(table: "session", column: "refresh_token", row: session.id)))
        session.idToken = nil
        session.account = nil
        session.grantedScope = nil
        session.obtainedAt = now
        session.refreshedAt = nil
        // Imported: when it was issued, and whether it expires, is not known.
        (session.refreshIssuedAt, session.refreshExpiresAt) = (nil, nil)
        (session.refreshRefusedAt, session.refreshRefusal) = (nil, nil)
        try session.save(db)
    }

    /// Removes an app and every token of it.
    package func removeApp(_ app: App) throws {
        try sealingWrite(key: nil) { db in
            guard try App.deleteOne(db, key: app.id) else {
                throw VaultError.failure("no app named \"\(app.name)\"")
            }
            try Self.record(db, "remove", app: app.name)
        }
    }
}
