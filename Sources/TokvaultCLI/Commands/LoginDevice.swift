import Foundation
import TokvaultFlow
import TokvaultVault

/// `login --device` and `login` of a client credentials app: the two ways to get tokens
/// without a browser on this machine.
extension Login {
    func loginWithDeviceCode(_ app: App, vault: Vault, material: UnlockMaterial, key: DataKey,
                             credential: TokenClient.Credential) async throws {
        // The flow uses the endpoint chosen here; the tokens are stored for the app as read.
        var flowApp = app
        flowApp.deviceEndpoint = try await deviceEndpoint(of: app)
        installInterruptHandler()
        let flow = DeviceFlow()
        let authorization = try await flow.start(app: flowApp, credential: credential)
        let minutes = max(1, authorization.expiresIn / 60)
        var text = "\nTo sign in to \(name), open this page on any device:\n\n    \(authorization.verificationURI)\n\n"
        text += "and enter the code:\n\n    \(authorization.userCode)\n\n"
        if let complete = authorization.verificationURIComplete {
            text += "(or open \(complete), which carries the code)\n"
        }
        text += "The code expires in \(minutes) minute\(minutes == 1 ? "" : "s"). Waiting for the sign-in… (Ctrl-C to cancel)\n"
        Diagnostics.write(text)
        let tokens = try await flow.poll(authorization, app: flowApp, credential: credential) { interval in
            Diagnostics.note("the identity provider asked to poll more slowly: every \(interval) s now")
        }
        // A sign-in stores nothing unless the ID token is readable and passes its checks.
        try tokens.validateIDToken(clientID: app.clientID, expectedIssuer: TokenService.expectedIssuer(for: app),
                                   nonce: nil, now: Int64(Date().timeIntervalSince1970))
        try checkLoginHint(tokens.idTokenClaims)
        try store(tokens.tokenSet, app: app, vault: vault, material: material, key: key)
        report(tokens.tokenSet, app: app)
    }

    /// The device authorization endpoint. An Azure app's is derived from its token endpoint,
    /// never read from its own column; other apps use the stored (bound) one, or discovery.
    func deviceEndpoint(of app: App) async throws -> String {
        if app.provider == .azure {
            guard app.tokenEndpoint.hasSuffix("/oauth2/v2.0/token") else {
                throw VaultError.usage("app \"\(name)\" has no Azure v2 token endpoint to derive its device endpoint from",
                                       hint: "run `tokvault login \(name)` and paste the redirect URL instead")
            }
            return String(app.tokenEndpoint.dropLast("token".count)) + "devicecode"
        }
        if let endpoint = app.deviceEndpoint { return endpoint }
        if let issuer = app.issuer {
            let document = try await DiscoveryDocument.fetch(issuer: issuer)
            if let endpoint = document.deviceAuthorizationEndpoint { return endpoint }
            throw VaultError.usage("the issuer \(issuer) does not offer the device code flow (no device_authorization_endpoint)",
                                   hint: "run `tokvault login \(name)` and paste the redirect URL instead")
        }
        throw VaultError.usage("app \"\(name)\" has no device authorization endpoint",
                               hint: "run `tokvault login \(name)` and paste the redirect URL instead (or add the app with --issuer URL to discover it)")
    }

    /// A client credentials app has no user to sign in: `login` gets its own token, which
    /// checks the secret or certificate against the provider.
    func loginAsClient(_ app: App, vault: Vault, material: UnlockMaterial) async throws {
        let result = try await TokenService(vault: vault).accessToken(
            appName: name, scope: nil, minValid: 0, force: true, material: material)
        print("Got a token for \(name) as the app itself (client credentials, \(app.usesCertificate ? "certificate" : "client secret"))")
        print("  scope:         \(Output.safe(result.record.grantedScope ?? app.scope))")
        print("  access token:  valid until \(Output.isoTime(result.record.expiresAt)) (\(Output.relative(result.record.expiresAt)))")
        print("  `tokvault token \(name)` gets a new one whenever the cached one is too old; no login is needed again.")
    }
}
