import TokvaultExport
import TokvaultFlow
import TokvaultVault

/// `export` and `exec`: the variables of an app, each field read from where it is proven.
package struct ExportVariables: Sendable {
    package let vault: Vault
    package let material: UnlockMaterial

    package init(vault: Vault, material: UnlockMaterial) {
        self.vault = vault
        self.material = material
    }

    /// The `selected` fields of `appName` under their variable names (`ExportNaming.selected`),
    /// with an access token valid for `minValid` seconds (refreshed if needed) when one is selected.
    package func variables(
        app appName: String, selected: [(field: ExportField, name: String)], scope: String?,
        minValid: Int64
    ) async throws -> [ExportVariable] {
        let read = try vault.app(named: appName)
        // The public fields come from a row proven with the key (a read before that could
        // have been edited and put back in between).
        var verified: App?
        var token: TokenService.Result?
        if selected.contains(where: { [.accessToken, .expiresOn, .expiresAt, .tokenType, .scope].contains($0.field) }) {
            token = try await TokenService(vault: vault).accessToken(
                appName: appName, scope: scope, minValid: minValid, force: false, material: material)
        }
        var secrets: (client: SecureBytes?, refresh: SecureBytes?) = (nil, nil)
        if selected.contains(where: \.field.isSecret) {
            // Under the vault lock, and the app read again: a rotate-key that ran while the token
            // was obtained (or waited for) re-sealed the secret under a key `app` predates.
            try vault.withUnlocked(material, rereading: read) { current, key in
                verified = current
                secrets = (try vault.clientSecret(of: current, key: key), try vault.refreshToken(of: current, key: key))
            }
        }
        if token == nil && !selected.contains(where: \.field.isSecret) {
            // Only public fields (client id, token endpoint, tenant): still proven with the key,
            // since a script sends its secrets where they point.
            let key = try vault.unlock(material)
            let current = try vault.reread(read)
            try vault.verifyBinding(current, key: key)
            verified = current
        }
        // The token and the secrets must be of one client at one endpoint; a scope edited in
        // between does not make them another app's.
        if let token, let row = verified, !row.keepsTokens(of: token.app) { throw Vault.replaced(appName) }
        guard let app = verified ?? token?.app else { throw Vault.replaced(appName) }
        var variables: [ExportVariable] = []
        for (field, variable) in selected {
            switch field {
            case .tenant: if let t = app.tenant { variables.append(.init(name: variable, text: t)) }
            case .clientID: variables.append(.init(name: variable, text: app.clientID))
            case .tokenEndpoint: variables.append(.init(name: variable, text: app.tokenEndpoint))
            case .federatedTokenFile:
                guard let file = app.federatedTokenFile else {
                    throw UseCaseError.usage(
                        "app \"\(appName)\" has no federated token file to export",
                        hint: "it is for apps added with --federated-token-file (`\(.showApp(appName))`)")
                }
                variables.append(.init(name: variable, text: file))
            case .authorityHost:
                if let host = Self.authorityHost(of: app) { variables.append(.init(name: variable, text: host)) }
            case .accessToken:
                if let token { variables.append(.init(name: variable, value: token.token, isSecret: true)) }
            case .expiresOn:
                if let token { variables.append(.init(name: variable, text: String(token.record.expiresAt))) }
            case .expiresAt:
                if let token {
                    variables.append(.init(name: variable, text: Timestamp.iso8601(token.record.expiresAt)))
                }
            case .tokenType: if let token { variables.append(.init(name: variable, text: token.record.tokenType)) }
            case .scope:
                if let token {
                    variables.append(.init(name: variable, text: token.record.grantedScope ?? token.app.scope))
                }
            case .clientSecret:
                guard let s = secrets.client else {
                    throw UseCaseError.failure(
                        "app \"\(appName)\" has no client secret to export",
                        hint: "drop client_secret, or store one with `\(.changeApp(appName, .secret))`")
                }
                variables.append(.init(name: variable, value: s, isSecret: true))
            case .refreshToken:
                guard let r = secrets.refresh else {
                    throw UseCaseError(
                        .loginRequired, "app \"\(appName)\" has no refresh token to export",
                        hint: "run `\(.signIn(appName, .plain))`")
                }
                variables.append(.init(name: variable, value: r, isSecret: true))
            }
        }
        return variables
    }

    /// AZURE_AUTHORITY_HOST for an Azure app outside the public cloud (azure-identity's
    /// default is the public cloud's), nil otherwise.
    static func authorityHost(of app: App) -> String? {
        let authority = AppSpec.authority(of: app)
        guard app.provider == .azure, authority != AppSpec.Cloud.public.host else { return nil }
        return AppSpec.origin(ofAuthority: authority)
    }

    /// The curl script's app and, with `withSecrets`, its client secret and refresh token. The
    /// script sends a refresh token to the app's token endpoint: unlocked even without secrets,
    /// so that the endpoint and client id it names are proven (the app's binding). `read` is the
    /// app as read before the unlock (an unknown name is an error before a prompt).
    package func curlSnippet(for read: App, withSecrets: Bool) throws -> CurlSnippet {
        let key = try vault.unlock(material)
        let app = try vault.reread(read)
        try vault.verifyBinding(app, key: key)
        var snippet = CurlSnippet(app: app)
        if withSecrets {
            snippet.clientSecret = try vault.clientSecret(of: app, key: key)
            snippet.refreshToken = try vault.refreshToken(of: app, key: key)
        }
        return snippet
    }
}
