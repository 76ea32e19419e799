import Foundation
import TokvaultFlow
import TokvaultVault

/// `token` and `refresh`: a cached access token when it is valid long enough, otherwise one
/// refresh per expiry across all processes (single flight on the app's refresh lock).
package struct TokenService: Sendable {
    package let vault: Vault
    package let client: TokenClient
    /// How long a process waits for another one's refresh before giving up: at least as long
    /// as that refresh can legitimately take (`refreshLockWait`).
    package var lockTimeout: Double
    /// Where a GitHub Actions federated app finds its OIDC request URL and token; nil: this
    /// process's environment, read only by such a grant (not on every `token` call).
    package var environment: [String: String]?

    /// Where warnings go (the CLI prints them on stderr as `tokvault: warning: …`).
    nonisolated(unsafe) package static var warningNotice: ((Guidance) -> Void)?

    package init(vault: Vault, client: TokenClient = TokenClient()) {
        self.vault = vault
        self.client = client
        self.lockTimeout = Self.refreshLockWait(for: client.options)
    }

    /// Seconds beyond the token endpoint exchange that a holder of the refresh lock may
    /// spend: unlocking (Argon2id at the largest costs a slot may have takes seconds on a busy
    /// machine), reading and storing, and shutting the HTTP client down.
    package static let vaultWorkSeconds: Double = 30

    /// How long to wait for another process's refresh: the longest exchange its client can
    /// have (every attempt to its deadline, the Retry-After cap or back-off between them) plus
    /// the vault work, so that a slow provider is never reported as a stuck lock. 225 s with
    /// the default options (3 × (10 + 30 + 5) + 2 × 30 + 30).
    package static func refreshLockWait(for options: TokenClient.Options) -> Double {
        // The holder may itself wait for the vault lock (behind a rotate-key or restore).
        options.longestExchangeSeconds + vaultWorkSeconds + VaultLock.timeoutSeconds
    }

    package struct Result: Sendable {
        package var token: SecureBytes
        package var record: AccessToken
        package var refreshed: Bool
        /// The app's row whose binding was proven with the key the token was opened with.
        package var app: App
    }

    /// A token valid for at least `minValid` seconds (or a fresh one when `force`). With
    /// `claims` (a step-up challenge, JSON) the cache is bypassed and the claims are sent.
    package func accessToken(
        appName: String, scope: String?, minValid: Int64, force: Bool, material: UnlockMaterial,
        claims: String? = nil
    ) async throws -> Result {
        let force = force || claims != nil
        // A format 1 vault is upgraded before anything is read or locked (rows read before are not bound).
        try vault.upgradeIfNeeded(material)
        let (app, _, tokens) = try vault.appState(named: appName)
        let scopeKey = Self.scopeKey(scope, app: app)
        let seen = tokens.first { $0.scopeKey == scopeKey }
        if !force, let seen, Self.isValid(seen, minValid: minValid) {
            // The cache hit: one read, one unlock, one decryption, no lock.
            let key = try vault.unlock(material)
            let (token, record) = try openCached(seen, of: app, key: key, material: material)
            return Result(token: token, record: record, refreshed: false, app: app)
        }
        return try await vault.withSingleFlight(for: app, timeoutSeconds: lockTimeout) {
            try await refreshOrReuse(
                app, seen: seen, scopeKey: scopeKey, minValid: minValid, force: force, material: material,
                claims: claims)
        }
    }

    /// The cache hit without opening the vault the usual way (`Vault.readCachedToken`): a
    /// token of `appName` for `scope` valid for `minValid` more seconds, or nil, having
    /// reported and written nothing, for the caller to call `accessToken`.
    package static func cachedWithoutOpening(
        vaultPath: String, appName: String, scope: String?, minValid: Int64, material: UnlockMaterial
    ) -> Result? {
        let now = Clock.now()
        let read = Vault.readCachedToken(path: vaultPath, appName: appName, material: material) { app, tokens in
            let scopeKey = Self.scopeKey(scope, app: app)
            return tokens.first { $0.scopeKey == scopeKey && Self.isValid($0, minValid: minValid, now: now) }
        }
        guard let read else { return nil }
        return Result(token: read.token, record: read.record, refreshed: false, app: read.app)
    }

    /// Under the app's refresh lock: the token another process stored while this one waited,
    /// or one new token (a refresh, or a client credentials grant).
    func refreshOrReuse(
        _ app: App, seen: AccessToken?, scopeKey: String, minValid: Int64, force: Bool,
        material: UnlockMaterial, claims: String? = nil
    ) async throws -> Result {
        let appName = app.name
        // Another process may have refreshed while this one waited: reuse its result.
        let (current, session, _) = try vault.appState(named: appName)
        guard current.id == app.id else { throw Vault.replaced(appName) }
        // A token stored while this process waited (its sealed bytes changed: every store uses a
        // fresh nonce) is the single flight's result: use it even when the server's lifetime is
        // shorter than --min-valid, since refreshing again would not give a longer one.
        if claims == nil,
            let cached = try cachedToken(app: current, scopeKey: scopeKey, minValid: 1, material: material)
        {
            let fresh = cached.record.token != seen?.token
            let longEnough =
                !force && Self.secondsLeft(cached.record, now: Int64(Date().timeIntervalSince1970)) >= minValid
            if fresh || longEnough {
                return Result(token: cached.token, record: cached.record, refreshed: false, app: current)
            }
        }
        if current.usesClientCredentialsFlow {
            return try await acquireAsClient(current, scopeKey: scopeKey, material: material, claims: claims)
        }
        guard session?.refreshToken != nil else {
            throw UseCaseError(
                .loginRequired,
                "login required for app \"\(appName)\": no refresh token is stored",
                hint:
                    "run `\(.signIn(appName, .plain))` (or import one with `\(.changeApp(appName, .refreshToken))`)"
            )
        }
        // No rotation may slip in between reading the refresh token and storing its successor.
        return try await vault.withUnlocked(material, rereading: current) { locked, key in
            guard let refreshToken = try vault.refreshToken(of: locked, key: key) else {
                throw UseCaseError(
                    .loginRequired, "login required for app \"\(appName)\"",
                    hint: "run `\(.signIn(appName, .plain))`")
            }
            let credential = try vault.credential(of: locked, key: key)
            let requestScope = scopeKey.isEmpty ? locked.scope : scopeKey
            let response: TokenResponse
            do {
                response = try await client.redeem(
                    .refreshToken(refreshToken, scope: requestScope), app: locked, credential: credential,
                    claims: ClaimsRequest.merged(claims, capabilities: locked.capabilityList))
            } catch let error as FlowError where error.kind == .loginRequired && error.refusal != nil {
                // Kept for `show` and `doctor`: the refresh token the server no longer takes.
                try? vault.recordRefreshRefusal(locked, summary: error.refusal?.summary ?? "refused")
                throw error
            }
            // The server may have rotated the refresh token: its answer is stored even when the ID
            // token in it fails its checks (only that one is dropped, the previous one is kept),
            // since the old refresh token may no longer work. `login` refuses such an answer.
            var received = response.tokenSet
            if let failure = response.idTokenFailure(for: locked, nonce: nil) {
                received.idToken = nil
                received.account = nil
                Self.warningNotice?(
                    "app \"\(locked.name)\": \(failure); that ID token was not stored (the previous one is kept), the new access and refresh tokens were; if this repeats, check the app's client id and issuer (`\(.showApp(locked.name))`)"
                )
            }
            let stored = try vault.storeTokens(received, for: locked, scopeKey: scopeKey, key: key, action: "refresh")
            return Result(token: received.accessToken, record: stored.accessToken, refreshed: true, app: stored.app)
        }
    }

    /// The client credentials grant (the caller holds the app's refresh lock): a new access
    /// token for the app itself. There is no refresh token to lose, only the cache to update.
    func acquireAsClient(_ readBeforeLock: App, scopeKey: String, material: UnlockMaterial, claims: String? = nil)
        async throws -> Result
    {
        try await vault.withUnlocked(material, rereading: readBeforeLock) { app, key in
            let credential: TokenClient.Credential
            if app.usesFederatedCredential {
                // Proven before the file is read or GitHub is asked: the source is a bound column.
                try vault.verifyBinding(app, key: key)
                credential = .federated(
                    try await Self.federatedAssertion(
                        for: app, environment: environment ?? ProcessInfo.processInfo.environment, client: client))
            } else {
                credential = try vault.credential(of: app, key: key)
            }
            if case .none = credential {
                throw UseCaseError.failure(
                    "app \"\(app.name)\" uses the client credentials flow but has no client secret or certificate",
                    hint:
                        "store one with `\(.changeApp(app.name, .secret))` or `\(.changeApp(app.name, .certificate))`"
                )
            }
            let scope = scopeKey.isEmpty ? app.scope : scopeKey
            let response = try await client.redeem(
                .clientCredentials(scope: scope), app: app, credential: credential,
                claims: ClaimsRequest.merged(claims, capabilities: app.capabilityList))
            var tokens = response.tokenSet
            // Nothing but the access token belongs to a client credentials grant.
            tokens.refreshToken = nil
            tokens.idToken = nil
            tokens.account = nil
            let stored = try vault.storeTokens(
                tokens, for: app, scopeKey: scopeKey, key: key, action: "client-credentials")
            return Result(token: tokens.accessToken, record: stored.accessToken, refreshed: true, app: stored.app)
        }
    }

    func cachedToken(app: App, scopeKey: String, minValid: Int64, material: UnlockMaterial) throws -> (
        token: SecureBytes, record: AccessToken
    )? {
        let now = Int64(Date().timeIntervalSince1970)
        guard let record = try vault.accessTokens(appID: app.id).first(where: { $0.scopeKey == scopeKey }),
            Self.isValid(record, minValid: minValid, now: now)
        else { return nil }
        let key = try vault.unlock(material)
        return try openCached(record, of: app, key: key, material: material)
    }

    /// Opens a cached token read without the vault lock. Reading the row and unlocking are two
    /// transactions, so a rotate-key that commits between them (it re-seals every field) leaves
    /// a row and a key of different generations: a false "the file was modified". Only then is
    /// it tried once more, with the row read again and a fresh unlock; a row that fails again,
    /// or with the same bytes and the same key, is damaged.
    func openCached(_ record: AccessToken, of app: App, key: DataKey, material: UnlockMaterial) throws -> (
        token: SecureBytes, record: AccessToken
    ) {
        do {
            return (try vault.openAccessToken(record, of: app, key: key), record)
        } catch let error as VaultError where error.kind == .damaged {
            let again = try vault.unlock(material)
            // The app is read again too: a rotation binds it anew under the new key.
            let (current, _, tokens) = try vault.appState(named: app.name)
            guard current.id == app.id, current.steersLike(app),
                let reread = tokens.first(where: { $0.scopeKey == record.scopeKey }),
                reread.token != record.token || again.generation != key.generation
            else { throw error }
            return (try vault.openAccessToken(reread, of: current, key: again), reread)
        }
    }

    /// Valid for `minValid` more seconds. When the server issues tokens that live less than
    /// --min-valid, a token issued moments ago is as good as a refresh can get: it counts as
    /// valid rather than causing a refresh on every call.
    static func isValid(_ record: AccessToken, minValid: Int64, now: Int64 = Int64(Date().timeIntervalSince1970))
        -> Bool
    {
        let lifetime = minus(record.expiresAt, record.obtainedAt)
        let needed = max(1, min(minValid, minus(lifetime, 60)))
        return secondsLeft(record, now: now) >= needed
    }

    /// expires_at − now. Both times are read from the vault file, where any number can be
    /// written, so the arithmetic saturates instead of trapping.
    static func secondsLeft(_ record: AccessToken, now: Int64) -> Int64 {
        minus(record.expiresAt, now)
    }

    /// a − b, saturated at the ends of Int64.
    static func minus(_ a: Int64, _ b: Int64) -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (b < 0 ? .max : .min) : difference
    }

    /// '' for the app's own scope; another scope is cached under its normalized text.
    package static func scopeKey(_ scope: String?, app: App) -> String {
        guard let scope, let normalized = try? AppSpec.normalizeScope(scope), normalized != app.scope else { return "" }
        return normalized
    }

    /// The `iss` an ID token of this app must carry: Azure's v2 issuer (with the `{tenantid}`
    /// template for multi-tenant authorities), nil when unknown (generic servers).
    package static func expectedIssuer(for app: App) -> String? {
        if let issuer = app.issuer { return issuer }
        guard app.provider == .azure, let url = URLComponents(string: app.tokenEndpoint),
            let scheme = url.scheme, let host = url.host
        else { return nil }
        let origin = scheme + "://" + host + (url.port.map { ":\($0)" } ?? "")
        let tenant = app.tenant ?? "organizations"
        let isGUID = AppSpec.isGUID(tenant)
        return "\(origin)/\(isGUID ? tenant.lowercased() : "{tenantid}")/v2.0"
    }
}

extension TokenService {
    /// A federated app's assertion for one grant, from its file or from GitHub Actions.
    package static func federatedAssertion(for app: App, environment: [String: String], client: TokenClient)
        async throws -> FederatedAssertion
    {
        switch app.federatedSource {
        case .file?:
            guard let path = app.federatedTokenFile else { throw TokenClient.missingSecret(app) }
            return try FederatedAssertion.read(file: path)
        case .githubActions?:
            return try await FederatedAssertion.fromGitHubActions(
                environment: environment, audience: FederatedAssertion.audience(for: app), options: client.options)
        case nil:
            throw TokenClient.missingSecret(app)
        }
    }
}

extension App {
    /// The client capabilities, one per word of the column (`cp1`).
    package var capabilityList: [String] {
        (clientCapabilities ?? "").split(separator: " ").map(String.init)
    }
}

extension Vault {
    /// What `app` authenticates with at the token endpoint, opened with `key`.
    package func credential(of app: App, key: DataKey) throws -> TokenClient.Credential {
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
        case .federatedAssertion:
            // Fetched per grant (`TokenService.federatedAssertion`), never read from the vault.
            try verifyBinding(app, key: key)
            throw TokenClient.missingSecret(app)
        }
    }
}
