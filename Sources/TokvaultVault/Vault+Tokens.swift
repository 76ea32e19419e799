import Foundation
import GRDB

/// What a token endpoint answered, ready to be sealed.
package struct TokenSet: Sendable {
    package var accessToken: SecureBytes
    package var tokenType: String
    package var expiresAt: Int64
    package var grantedScope: String?
    package var refreshToken: SecureBytes?
    package var idToken: SecureBytes?
    package var account: String?
    /// When the refresh token expires, where the provider says (`refresh_expires_in`).
    package var refreshExpiresAt: Int64?

    package init(
        accessToken: SecureBytes, tokenType: String, expiresAt: Int64, grantedScope: String? = nil,
        refreshToken: SecureBytes? = nil, idToken: SecureBytes? = nil, account: String? = nil,
        refreshExpiresAt: Int64? = nil
    ) {
        self.refreshExpiresAt = refreshExpiresAt
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresAt = expiresAt
        self.grantedScope = grantedScope
        self.refreshToken = refreshToken
        self.idToken = idToken
        self.account = account
    }
}

/// Held while one process refreshes an app's tokens; others wait, then reuse the result.
final class RefreshLock: @unchecked Sendable {
    let lock: VaultLock

    init(_ lock: VaultLock) { self.lock = lock }

    func release() { lock.release() }
}

extension Vault {
    /// The per-app single-flight lock (`flock(2)` on `VAULT.lock-APPID`). Readers of a token
    /// that is still valid never take it.
    func acquireRefreshLock(for app: App, timeoutSeconds: Double) throws -> RefreshLock {
        let lock = VaultLock(vaultPath: path, name: app.id)
        try lock.acquire(.exclusive, timeout: timeoutSeconds)
        return RefreshLock(lock)
    }

    /// Deletes an app's refresh token, ID token and cached access tokens.
    @discardableResult
    package func logout(_ app: App) throws -> Bool {
        try sealingWrite(key: nil) { db in
            let sessions = try Session.filter(Column("app_id") == app.id).deleteAll(db)
            let tokens = try AccessToken.filter(Column("app_id") == app.id).deleteAll(db)
            try Self.record(db, "logout", app: app.name)
            return sessions + tokens > 0
        }
    }

    /// What `storeTokens` stored: the app's row as it is now, and the access token's record
    /// (not saved when the app's own scope changed meanwhile).
    package struct StoredTokens: Sendable {
        package var app: App
        package var accessToken: AccessToken
        package var accessTokenSaved: Bool
    }

    /// Stores a token response in one transaction: the access token for `scopeKey` ('' = the
    /// app's own scope) and, when present, the rotated refresh token and the ID token. A
    /// refresh token the server did not rotate is kept.
    @discardableResult
    package func storeTokens(
        _ tokens: TokenSet, for obtainedFor: App, scopeKey: String = "", key: DataKey, action: String = "tokens"
    ) throws -> StoredTokens {
        try sealingWrite(key: key) { db in
            // The tokens go to the app they were obtained for, as long as it still has the same
            // client, endpoint and flow: an app edited that way meanwhile does not get them (its
            // tokens were dropped). Any other edit (a `set --scope`, a new secret, a rename) keeps
            // them: the server may have rotated the refresh token, and the old one is spent. Only
            // an access token for the app's own scope, which has changed, is not cached. The
            // binding may have moved too (an edit, or a rotate-key while a browser sign-in
            // waited): the tokens are sealed under the one the row has now, once that is proven
            // with the key this transaction seals with.
            guard let app = try App.fetchOne(db, key: obtainedFor.id), app.keepsTokens(of: obtainedFor) else {
                throw VaultError.failure(
                    "app \"\(obtainedFor.name)\" was removed, or given another client, endpoint or flow, while this command ran; the tokens were not stored"
                )
            }
            try verifyBinding(app, key: key)
            let now = Clock.now()
            let cacheable = !scopeKey.isEmpty || app.scope == obtainedFor.scope
            var access =
                try AccessToken.filter(Column("app_id") == app.id && Column("scope_key") == scopeKey).fetchOne(db)
                ?? AccessToken(
                    id: UUID().uuidString.lowercased(), appID: app.id, scopeKey: scopeKey, token: Data(),
                    tokenType: tokens.tokenType, grantedScope: nil, expiresAt: 0, obtainedAt: now)
            access.token = Data(SealedField.seal(tokens.accessToken, key: key, place: app.accessTokenPlace(access)))
            access.tokenType = tokens.tokenType
            access.grantedScope = tokens.grantedScope
            access.expiresAt = tokens.expiresAt
            access.obtainedAt = now
            if cacheable { try access.save(db) }

            if tokens.refreshToken != nil || tokens.idToken != nil || tokens.account != nil {
                var session =
                    try Session.filter(Column("app_id") == app.id).fetchOne(db)
                    ?? Session(
                        id: UUID().uuidString.lowercased(), appID: app.id, refreshToken: nil, idToken: nil,
                        account: nil, grantedScope: nil, obtainedAt: now, refreshedAt: nil)
                if let refresh = tokens.refreshToken {
                    session.refreshToken = Data(
                        SealedField.seal(
                            refresh, key: key,
                            place: app.place(table: "session", column: "refresh_token", row: session.id)))
                    session.refreshIssuedAt = now
                    session.refreshExpiresAt = tokens.refreshExpiresAt
                }
                // The refresh token (or the sign-in that replaced it) was accepted.
                (session.refreshRefusedAt, session.refreshRefusal) = (nil, nil)
                if let id = tokens.idToken {
                    session.idToken = Data(
                        SealedField.seal(
                            id, key: key, place: app.place(table: "session", column: "id_token", row: session.id)))
                }
                if let account = tokens.account { session.account = account }
                if scopeKey.isEmpty, let scope = tokens.grantedScope { session.grantedScope = scope }
                session.refreshedAt = now
                try session.save(db)
            }
            try Self.record(
                db, action, app: app.name,
                detail: "scope=\(scopeKey.isEmpty ? obtainedFor.scope : scopeKey) expires=\(tokens.expiresAt)"
                    + (tokens.refreshToken != nil ? " refresh_token=rotated" : "")
                    + (cacheable ? "" : " access_token=not-cached(scope changed)"))
            return StoredTokens(app: app, accessToken: access, accessTokenSaved: cacheable)
        }
    }

    /// Records that the provider refused the app's refresh token (`summary`: its public error
    /// code, e.g. `invalid_grant AADSTS700082`), for `show` and `doctor`. Nothing is sealed.
    package func recordRefreshRefusal(_ app: App, summary: String) throws {
        try sealingWrite(key: nil) { db in
            try db.execute(
                sql: "UPDATE session SET refresh_refused_at = ?, refresh_refusal = ? WHERE app_id = ?",
                arguments: [Clock.now(), summary, app.id])
        }
    }

    /// Opens an access token record already read (no second query on the cache-hit path).
    package func openAccessToken(_ record: AccessToken, of app: App, key: DataKey) throws -> SecureBytes {
        try verifyBinding(app, key: key)
        return try SealedField.open(
            [UInt8](record.token), key: key, place: app.accessTokenPlace(record),
            what: "app \"\(app.name)\" access_token")
    }

    /// Opens the cached access token for `scopeKey`; nil when none is stored.
    package func accessToken(of app: App, scopeKey: String = "", key: DataKey) throws -> (
        token: SecureBytes, record: AccessToken
    )? {
        guard let record = try accessTokens(appID: app.id).first(where: { $0.scopeKey == scopeKey }) else { return nil }
        return (try openAccessToken(record, of: app, key: key), record)
    }
}
