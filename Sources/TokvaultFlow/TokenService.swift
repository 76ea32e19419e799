import Foundation
import TokvaultVault

/// `token` and `refresh`: a cached access token when it is valid long enough, otherwise one
/// refresh per expiry across all processes (single flight on the app's refresh lock).
public struct TokenService: Sendable {
    public let vault: Vault
    public let client: TokenClient
    /// How long a process waits for another one's refresh before giving up.
    public var lockTimeout: Double = 120

    public init(vault: Vault, client: TokenClient = TokenClient()) {
        self.vault = vault
        self.client = client
    }

    public struct Result: Sendable {
        public var token: SecureBytes
        public var record: AccessToken
        public var refreshed: Bool
    }

    /// A token valid for at least `minValid` seconds (or a fresh one when `force`).
    public func accessToken(appName: String, scope: String?, minValid: Int64, force: Bool, material: UnlockMaterial) async throws -> Result {
        // A format 1 vault is upgraded before anything is read or locked (rows read before are not bound).
        try vault.upgradeIfNeeded(material)
        let (app, _, tokens) = try vault.appState(named: appName)
        let scopeKey = Self.scopeKey(scope, app: app)
        let seen = tokens.first { $0.scopeKey == scopeKey }
        if !force, let seen, Self.isValid(seen, minValid: minValid) {
            // The cache hit: one read, one unlock, one decryption, no lock.
            let key = try vault.unlock(material)
            let (token, record) = try openCached(seen, of: app, key: key, material: material)
            return Result(token: token, record: record, refreshed: false)
        }
        let refreshLock = try vault.acquireRefreshLock(for: app, timeoutSeconds: lockTimeout)
        defer { refreshLock.release() }
        // Another process may have refreshed while this one waited: reuse its result.
        let (current, session, _) = try vault.appState(named: appName)
        guard current.id == app.id else { throw Vault.replaced(appName) }
        // A token stored while this process waited (its sealed bytes changed: every store uses a
        // fresh nonce) is the single flight's result: use it even when the server's lifetime is
        // shorter than --min-valid, since refreshing again would not give a longer one.
        if let cached = try cachedToken(app: current, scopeKey: scopeKey, minValid: 1, material: material) {
            let fresh = cached.record.token != seen?.token
            let longEnough = !force && cached.record.expiresAt - Int64(Date().timeIntervalSince1970) >= minValid
            if fresh || longEnough {
                return Result(token: cached.token, record: cached.record, refreshed: false)
            }
        }
        if current.usesClientCredentialsFlow {
            return try await acquireAsClient(current, scopeKey: scopeKey, material: material)
        }
        guard session?.refreshToken != nil else {
            throw VaultError(exitCode: VaultError.Code.loginRequired,
                             "login required for app \"\(appName)\": no refresh token is stored",
                             hint: "run `tokvault login \(appName)` (or import one with `tokvault set \(appName) --refresh-token-stdin`)")
        }
        // No rotation may slip in between reading the refresh token and storing its successor.
        try vault.holdLock(exclusive: false)
        defer { vault.releaseLock() }
        let locked = try vault.reread(current)
        let key = try vault.unlock(material)
        guard let refreshToken = try vault.refreshToken(of: locked, key: key) else {
            throw VaultError(exitCode: VaultError.Code.loginRequired, "login required for app \"\(appName)\"", hint: "run `tokvault login \(appName)`")
        }
        let credential = try vault.credential(of: locked, key: key)
        let requestScope = scopeKey.isEmpty ? locked.scope : scopeKey
        let response = try await client.redeem(.refreshToken(refreshToken, scope: requestScope), app: locked, credential: credential)
        if let claims = response.idTokenClaims {
            try claims.validate(clientID: locked.clientID, expectedIssuer: Self.expectedIssuer(for: locked), nonce: nil,
                                now: Int64(Date().timeIntervalSince1970))
        }
        try vault.storeTokens(response.tokenSet, for: locked, scopeKey: scopeKey, key: key, action: "refresh")
        guard let stored = try vault.accessToken(of: locked, scopeKey: scopeKey, key: key) else {
            throw VaultError.failure("the refreshed token was not stored")
        }
        return Result(token: stored.token, record: stored.record, refreshed: true)
    }

    /// The client credentials grant (the caller holds the app's refresh lock): a new access
    /// token for the app itself. There is no refresh token to lose, only the cache to update.
    func acquireAsClient(_ readBeforeLock: App, scopeKey: String, material: UnlockMaterial) async throws -> Result {
        try vault.holdLock(exclusive: false)
        defer { vault.releaseLock() }
        let app = try vault.reread(readBeforeLock)
        let key = try vault.unlock(material)
        let credential = try vault.credential(of: app, key: key)
        if case .none = credential {
            throw VaultError.failure(
                "app \"\(app.name)\" uses the client credentials flow but has no client secret or certificate",
                hint: "store one with `tokvault set \(app.name) --secret-prompt` or `--certificate CERT.pem --private-key-file KEY.pem`")
        }
        let scope = scopeKey.isEmpty ? app.scope : scopeKey
        let response = try await client.redeem(.clientCredentials(scope: scope), app: app, credential: credential)
        var tokens = response.tokenSet
        // Nothing but the access token belongs to a client credentials grant.
        tokens.refreshToken = nil
        tokens.idToken = nil
        tokens.account = nil
        try vault.storeTokens(tokens, for: app, scopeKey: scopeKey, key: key, action: "client-credentials")
        guard let stored = try vault.accessToken(of: app, scopeKey: scopeKey, key: key) else {
            throw VaultError.failure("the new access token was not stored")
        }
        return Result(token: stored.token, record: stored.record, refreshed: true)
    }

    func cachedToken(app: App, scopeKey: String, minValid: Int64, material: UnlockMaterial) throws -> (token: SecureBytes, record: AccessToken)? {
        let now = Int64(Date().timeIntervalSince1970)
        guard let record = try vault.accessTokens(appID: app.id).first(where: { $0.scopeKey == scopeKey }),
              Self.isValid(record, minValid: minValid, now: now) else { return nil }
        let key = try vault.unlock(material)
        return try openCached(record, of: app, key: key, material: material)
    }

    /// Opens a cached token read without the vault lock. Reading the row and unlocking are two
    /// transactions, so a rotate-key that commits between them (it re-seals every field) leaves
    /// a row and a key of different generations: a false "the file was modified". Only then is
    /// it tried once more, with the row read again and a fresh unlock; a row that fails again,
    /// or with the same bytes and the same key, is damaged.
    func openCached(_ record: AccessToken, of app: App, key: DataKey, material: UnlockMaterial) throws -> (token: SecureBytes, record: AccessToken) {
        do {
            return (try vault.openAccessToken(record, of: app, key: key), record)
        } catch let error as VaultError where error.exitCode == VaultError.Code.damaged {
            let again = try vault.unlock(material)
            guard let reread = try vault.accessTokens(appID: app.id).first(where: { $0.scopeKey == record.scopeKey }),
                  reread.token != record.token || again.generation != key.generation else { throw error }
            return (try vault.openAccessToken(reread, of: app, key: again), reread)
        }
    }

    /// Valid for `minValid` more seconds. When the server issues tokens that live less than
    /// --min-valid, a token issued moments ago is as good as a refresh can get: it counts as
    /// valid rather than causing a refresh on every call.
    static func isValid(_ record: AccessToken, minValid: Int64, now: Int64 = Int64(Date().timeIntervalSince1970)) -> Bool {
        let lifetime = record.expiresAt - record.obtainedAt
        let needed = max(1, min(minValid, lifetime - 60))
        return record.expiresAt - now >= needed
    }

    /// '' for the app's own scope; another scope is cached under its normalized text.
    public static func scopeKey(_ scope: String?, app: App) -> String {
        guard let scope, let normalized = try? AppSpec.normalizeScope(scope), normalized != app.scope else { return "" }
        return normalized
    }

    /// The `iss` an ID token of this app must carry: Azure's v2 issuer (with the `{tenantid}`
    /// template for multi-tenant authorities), nil when unknown (generic servers).
    public static func expectedIssuer(for app: App) -> String? {
        if let issuer = app.issuer { return issuer }
        guard app.provider == .azure, let url = URLComponents(string: app.tokenEndpoint),
              let scheme = url.scheme, let host = url.host else { return nil }
        let origin = scheme + "://" + host + (url.port.map { ":\($0)" } ?? "")
        let tenant = app.tenant ?? "organizations"
        let isGUID = AppSpec.isGUID(tenant)
        return "\(origin)/\(isGUID ? tenant.lowercased() : "{tenantid}")/v2.0"
    }
}

extension Vault {
    /// What `app` authenticates with at the token endpoint, opened with `key`.
    public func credential(of app: App, key: DataKey) throws -> TokenClient.Credential {
        switch app.clientAuth {
        case .none:
            try verifyBinding(app, key: key)
            return .none
        case .privateKeyJWT:
            guard let privateKey = try privateKey(of: app, key: key) else { throw TokenClient.missingSecret(app) }
            return .privateKey(privateKey)
        case .post, .basic:
            guard let secret = try clientSecret(of: app, key: key) else { throw TokenClient.missingSecret(app) }
            return .secret(secret)
        }
    }
}
