import Foundation
import TokvaultFlow
import TokvaultVault

/// `login`: a user's sign-in, from the unlocked app to its stored tokens. The command supplies
/// what happens in the terminal and the browser (the authorization code, what to show for the
/// device code); this type redeems, checks and stores, so that every way of signing in stores
/// under the same rules.
package struct SignIn: Sendable {
    package let vault: Vault
    /// The app's row read after the unlock, its binding proven with `key`: the flow, endpoints,
    /// redirect URI and client id used are the ones that were sealed.
    package let app: App
    package let credential: TokenClient.Credential
    let material: UnlockMaterial
    let key: DataKey
    /// With --login-hint: the account the ID token must name.
    let loginHint: String?
    /// What the sign-in sends as `claims`: --claims (a step-up challenge) with the app's client
    /// capabilities merged in; nil when there is neither.
    package let claims: String?
    /// --claims as given (the client credentials grant merges the capabilities itself).
    let challenge: String?

    /// Unlocks before anything else: the passphrase prompt (in `material`) and the KDF must not
    /// eat into an authorization code's lifetime. `read` is the app as read before the prompt (an
    /// unknown name is an error before anything is asked); it is read again after the unlock
    /// (which may have upgraded the vault).
    package init(vault: Vault, app read: App, material: UnlockMaterial, loginHint: String?, claims: String? = nil)
        throws
    {
        let key = try vault.unlock(material)
        let app = try vault.reread(read)
        if app.usesFederatedCredential {
            // Its assertion is fetched by the grant itself (`signInAsClient`).
            try vault.verifyBinding(app, key: key)
            self.credential = .none
        } else {
            self.credential = try vault.credential(of: app, key: key)
        }
        self.challenge = claims
        self.claims = ClaimsRequest.merged(claims, capabilities: app.capabilityList)
        self.vault = vault
        self.app = app
        self.material = material
        self.key = key
        self.loginHint = loginHint
    }

    /// Redeems an authorization code (with the PKCE verifier and the app's credential) and
    /// stores the tokens; `nonce` when the authorize request asked for an ID token.
    package func redeem(code: SecureBytes, verifier: SecureBytes, redirectURI: String, nonce: String?) async throws
        -> TokenSet
    {
        let tokens = try await TokenClient().redeem(
            .authorizationCode(code: code, verifier: verifier, redirectURI: redirectURI), app: app,
            credential: credential, claims: claims)
        return try finish(tokens, nonce: nonce)
    }

    /// The device code flow (RFC 8628): `show` is called once with what the user must enter
    /// where, `onSlowDown` when the provider asks to poll less often.
    package func signInWithDeviceCode(
        show: (DeviceAuthorization) -> Void, onSlowDown: @escaping @Sendable (Int64) -> Void
    ) async throws -> TokenSet {
        // The flow uses the endpoint chosen here; the tokens are stored for the app as read.
        var flowApp = app
        flowApp.deviceEndpoint = try await deviceEndpoint()
        let flow = DeviceFlow()
        let authorization = try await flow.start(app: flowApp, credential: credential, claims: claims)
        show(authorization)
        let tokens = try await flow.poll(authorization, app: flowApp, credential: credential, onSlowDown: onSlowDown)
        return try finish(tokens, nonce: nil)
    }

    /// A client credentials app has no user to sign in: its own token, which checks the secret
    /// or certificate against the provider.
    package func signInAsClient() async throws -> TokenService.Result {
        try await TokenService(vault: vault).accessToken(
            appName: app.name, scope: nil, minValid: 0, force: true, material: material, claims: challenge)
    }

    /// The device authorization endpoint. An Azure app's is derived from its token endpoint,
    /// never read from its own column; other apps use the stored (bound) one, or discovery.
    package func deviceEndpoint() async throws -> String {
        let name = app.name
        if app.provider == .azure {
            guard app.tokenEndpoint.hasSuffix("/oauth2/v2.0/token") else {
                throw UseCaseError.usage(
                    "app \"\(name)\" has no Azure v2 token endpoint to derive its device endpoint from",
                    hint: "run `\(.signIn(name, .plain))` and paste the redirect URL instead")
            }
            return String(app.tokenEndpoint.dropLast("token".count)) + "devicecode"
        }
        if let endpoint = app.deviceEndpoint { return endpoint }
        if let issuer = app.issuer {
            let document = try await DiscoveryDocument.fetch(issuer: issuer)
            if let endpoint = document.deviceAuthorizationEndpoint { return endpoint }
            throw UseCaseError.usage(
                "the issuer \(issuer) does not offer the device code flow (no device_authorization_endpoint)",
                hint: "run `\(.signIn(name, .plain))` and paste the redirect URL instead")
        }
        throw UseCaseError.usage(
            "app \"\(name)\" has no device authorization endpoint",
            hint:
                "run `\(.signIn(name, .plain))` and paste the redirect URL instead (or add the app with \(.option(.issuer)) URL to discover it)"
        )
    }

    /// A sign-in stores nothing unless the ID token is readable and passes its checks, and
    /// names the --login-hint account when one was given.
    func finish(_ tokens: TokenResponse, nonce: String?) throws -> TokenSet {
        try tokens.validateIDToken(for: app, nonce: nonce)
        try checkLoginHint(tokens.idTokenClaims)
        try store(tokens.tokenSet)
        return tokens.tokenSet
    }

    /// With --login-hint, the signed-in account (the ID token's preferred_username, upn or
    /// email, the one shown as "Logged in … as") must be that user, compared without case.
    /// No ID token naming an account means it cannot be checked: refused too.
    func checkLoginHint(_ claims: IDTokenClaims?) throws {
        guard let loginHint else { return }
        let name = app.name
        guard let account = claims?.preferredUsername ?? claims?.upn ?? claims?.email else {
            throw UseCaseError.failure(
                "cannot check --login-hint \(Display.printable(loginHint)): the provider returned no ID token naming the signed-in account (preferred_username, upn or email); nothing was stored",
                hint:
                    "include openid and profile in the app's scope (`\(.showApp(name))`), or sign in without --login-hint"
            )
        }
        guard account.lowercased() == loginHint.lowercased() else {
            throw UseCaseError.failure(
                "signed in as \(Display.printable(account)), not as --login-hint \(Display.printable(loginHint)); nothing was stored",
                hint:
                    "run `\(.signIn(name, .selectAccount(loginHint: Display.printable(loginHint))))` and pick that account"
            )
        }
    }

    /// Stores under the vault lock; if a rotate-key slipped in during the browser wait, the
    /// tokens are stored under the new key rather than lost.
    func store(_ set: TokenSet) throws {
        try vault.withUnlocked(material) { current in
            try vault.storeTokens(
                set, for: app, key: current.generation == key.generation ? key : current, action: "login")
        }
    }
}
