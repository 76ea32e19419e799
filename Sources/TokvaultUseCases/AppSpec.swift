import Foundation
import TokvaultFlow
import TokvaultVault

/// Validation and endpoint derivation for app registrations. Everything here is about
/// public data; errors quote the offending input.
package enum AppSpec {
    package static let defaultRedirectURI = "http://localhost:8080"

    package enum Cloud: String, CaseIterable, Sendable {
        case `public`, usgov, china

        package var host: String {
            switch self {
            case .public: return "login.microsoftonline.com"
            case .usgov: return "login.microsoftonline.us"
            case .china: return "login.partner.microsoftonline.cn"
            }
        }
    }

    // MARK: - Field validation

    package static func validateName(_ name: String) throws {
        guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\z"#, options: .regularExpression) != nil else {
            throw UseCaseError.usage(
                "invalid app name \"\(Display.printable(name))\"",
                hint:
                    "use 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. adme, adme-prod)")
        }
    }

    package static func validateTenant(_ tenant: String) throws {
        guard tenant.range(of: #"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}\z"#, options: .regularExpression) != nil else {
            throw UseCaseError.usage(
                "invalid tenant \"\(Display.printable(tenant))\"",
                hint:
                    "give the directory (tenant) id GUID, a verified domain such as contoso.onmicrosoft.com, or organizations/common"
            )
        }
    }

    static let guidPattern = #"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z"#

    /// 8-4-4-4-12 hex digits, without a regex (used on the `token` path).
    package static func isGUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) && $0.allSatisfy(\.isASCII) }
    }

    package static func validateClientID(_ clientID: String, azure: Bool) throws {
        if azure {
            guard clientID.range(of: guidPattern, options: .regularExpression) != nil else {
                throw UseCaseError.usage(
                    "invalid client id \"\(Display.printable(clientID))\": Azure application (client) ids are GUIDs",
                    hint: "copy the Application (client) ID from the app registration's Overview page")
            }
            return
        }
        guard !clientID.isEmpty, clientID.utf8.count <= 255,
            clientID.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw UseCaseError.usage(
                "invalid client id \"\(Display.printable(clientID))\": use 1–255 printable ASCII characters without spaces"
            )
        }
    }

    /// Scope: space-separated RFC 6749 scope tokens; runs of whitespace collapse to one space.
    package static func normalizeScope(_ scope: String) throws -> String {
        let tokens = scope.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        guard !tokens.isEmpty else { throw UseCaseError.usage("empty --scope") }
        for token in tokens {
            let ok = token.unicodeScalars.allSatisfy { s in
                s.value == 0x21 || (0x23...0x5B).contains(s.value) || (0x5D...0x7E).contains(s.value)
            }
            guard ok else {
                throw UseCaseError.usage(
                    "invalid scope \"\(Display.printable(token))\": scope tokens are printable ASCII without '\"' or '\\'"
                )
            }
        }
        return tokens.joined(separator: " ")
    }

    /// A redirect URI: http on a loopback host (the loopback listener) or https.
    package static func validateRedirectURI(_ text: String) throws -> String {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            let host = url.host, !host.isEmpty, url.fragment == nil, url.user == nil
        else {
            throw UseCaseError.usage(
                "--redirect-uri: \"\(Display.printable(text))\" is not an absolute URL without a #fragment",
                hint: "the default is \(defaultRedirectURI)")
        }
        guard scheme == "https" || (scheme == "http" && EndpointRules.isLoopbackHost(host)) else {
            throw UseCaseError.usage(
                "--redirect-uri: \"\(Display.printable(text))\" must be http://localhost:PORT (or 127.0.0.1/[::1]) or https",
                hint: "register http://localhost:8080 as a redirect URI of the app (Mobile and desktop or Web platform)"
            )
        }
        if let port = url.port, !(0...65535).contains(port) {
            throw UseCaseError.usage(
                "--redirect-uri: \"\(Display.printable(text))\" has port \(port); ports are 0–65535",
                hint: "the default is \(defaultRedirectURI)")
        }
        return text
    }

    /// `login.example.com` or `https://login.example.com` → `login.example.com`; a loopback
    /// authority (a local test identity provider) keeps its `http://` scheme.
    package static func normalizeAuthorityHost(_ text: String) throws -> String {
        var host = text
        var scheme = "https://"
        if host.lowercased().hasPrefix("https://") {
            host = String(host.dropFirst(8))
        } else if host.lowercased().hasPrefix("http://") {
            host = String(host.dropFirst(7))
            scheme = "http://"
        }
        while host.hasSuffix("/") { host.removeLast() }
        guard host.range(of: #"^[A-Za-z0-9.-]+(:[0-9]{1,5})?\z"#, options: .regularExpression) != nil else {
            throw UseCaseError.usage(
                "--authority-host: \"\(Display.printable(text))\" is not a host name",
                hint: "e.g. login.microsoftonline.us")
        }
        if scheme == "http://" {
            let name = String(host.split(separator: ":").first ?? "")
            guard EndpointRules.isLoopbackHost(name) else {
                throw UseCaseError.usage(
                    "--authority-host: \"\(Display.printable(text))\" is not https",
                    hint: "plain http is allowed only for localhost/127.0.0.1")
            }
            return "http://" + host.lowercased()
        }
        return host.lowercased()
    }

    /// `authority` is a host (https) or `http://host:port` for a loopback test provider.
    package static func azureEndpoints(host authority: String, tenant: String) -> (
        authorize: String, token: String, device: String
    ) {
        let base = "\(origin(ofAuthority: authority))/\(tenant)/oauth2/v2.0/"
        return (base + "authorize", base + "token", base + "devicecode")
    }

    /// `https://HOST`, or the authority as stored when it is a loopback `http://HOST:PORT`.
    static func origin(ofAuthority authority: String) -> String {
        authority.hasPrefix("http://") ? authority : "https://\(authority)"
    }

    /// The authority host an Azure app's stored cloud or authority host stands for.
    static func authority(of app: App) -> String {
        app.authorityHost ?? Cloud(rawValue: app.cloud ?? "public")?.host ?? Cloud.public.host
    }

    /// The endpoints an Azure app's stored tenant/cloud/authority host stand for.
    static func derivedEndpoints(of app: App) -> (authorize: String, token: String, device: String) {
        azureEndpoints(host: authority(of: app), tenant: app.tenant ?? "organizations")
    }

    package static func defaultScope(provider: App.Provider, clientID: String, flow: App.Flow = .authorizationCode)
        -> String
    {
        switch (provider, flow) {
        case (.azure, .authorizationCode): return "\(clientID)/.default openid profile offline_access"
        case (.azure, .clientCredentials): return "\(clientID)/.default"
        case (.oauth, .authorizationCode): return "openid offline_access"
        // No convention to follow: such apps name their scope (checked in `apply`).
        case (.oauth, .clientCredentials): return ""
        }
    }

    /// Scopes a token without a user cannot carry: refused for client credentials apps.
    static let userScopes: Set<String> = ["openid", "profile", "email", "offline_access", "address", "phone"]

    /// The client credentials flow gets a token for the app itself: no user scopes, and on
    /// Azure one resource's `RESOURCE/.default` (AADSTS1002012 otherwise).
    static func validateClientCredentialsScope(_ scope: String, provider: App.Provider) throws {
        let tokens = scope.split(separator: " ").map(String.init)
        if let user = tokens.first(where: { userScopes.contains($0.lowercased()) }) {
            throw UseCaseError.usage(
                "scope \"\(user)\" needs a signed-in user; the client credentials flow gets tokens for the app itself",
                hint: provider == .azure
                    ? "use RESOURCE/.default, e.g. --scope '{client_id}/.default' (the default) or 'https://management.azure.com/.default'"
                    : "name only the API scopes the app was granted")
        }
        if provider == .azure, let bad = tokens.first(where: { !$0.hasSuffix("/.default") }) {
            throw UseCaseError.usage(
                "scope \"\(bad)\" is not a RESOURCE/.default scope; Azure's client credentials flow grants the app's configured permissions of one resource",
                hint: "e.g. --scope 'api://my-api/.default' or the app's own '{client_id}/.default'")
        }
    }

}

/// The public fields of an app as given on the command line; nil means "not given".
package struct AppFields: Sendable {
    package var tenant: String?
    package var clientID: String?
    package var cloud: AppSpec.Cloud?
    package var authorityHost: String?
    package var authorizeEndpoint: String?
    package var tokenEndpoint: String?
    package var redirectURI: String?
    package var scope: String?
    package var clientAuth: App.ClientAuth?
    package var flow: App.Flow?
    /// Default request headers of `tokvault curl` to set (replacing those of the same name).
    package var headers: [RequestHeader] = []
    /// Stored headers to remove, by name (`set` only).
    package var removeHeaders: [String] = []
    package var apiBase: String?
    /// Remove the API base (`set --no-api-base`).
    package var clearAPIBase = false
    /// Authenticate with a federated credential from this source (`--federated-token-file`,
    /// `--federated-token-source`); the file path as given (made absolute, not resolved).
    package var federatedSource: App.FederatedSource?
    package var federatedTokenFile: String?
    package var federatedAudience: String?
    /// Client capabilities to declare (`--client-capability`); [] removes them.
    package var clientCapabilities: [String]?

    package init() {}

    var namesAzureAuthority: Bool { cloud != nil || authorityHost != nil }
    var namesEndpoints: Bool { authorizeEndpoint != nil || tokenEndpoint != nil }
}

extension AppSpec {
    /// A new app from command-line fields (no secret yet).
    package static func newApp(name: String, fields: AppFields, isPublic: Bool) throws -> App {
        try validateName(name)
        guard let clientID = fields.clientID else {
            throw UseCaseError.usage("missing --client-id", hint: "give the app registration's Application (client) ID")
        }
        let now = TokvaultVault.Clock.now()
        var app = App(
            id: UUID().uuidString.lowercased(), name: name, provider: .azure, tenant: nil, cloud: nil,
            authorityHost: nil, clientID: clientID, authorizeEndpoint: "", tokenEndpoint: "", deviceEndpoint: nil,
            redirectURI: defaultRedirectURI, scope: "", flow: (fields.flow ?? .authorizationCode).rawValue,
            clientAuth: .post, clientSecret: nil, createdAt: now, updatedAt: now)
        if fields.namesEndpoints {
            // A client credentials app never sends anyone to an authorize endpoint.
            let needsAuthorize = fields.flow != .clientCredentials
            guard fields.tokenEndpoint != nil, fields.authorizeEndpoint != nil || !needsAuthorize else {
                throw UseCaseError.usage(
                    "--authorize-endpoint and --token-endpoint go together",
                    hint: "give both for a non-Azure OAuth server")
            }
            guard !fields.namesAzureAuthority else {
                throw UseCaseError.usage(
                    "--cloud/--authority-host are for Azure apps; they cannot be combined with --authorize-endpoint/--token-endpoint"
                )
            }
            app.provider = .oauth
            app.clientAuth = .basic
        } else if fields.tenant == nil {
            throw UseCaseError.usage(
                "missing --tenant",
                hint:
                    "give the Azure directory (tenant) id, or --authorize-endpoint and --token-endpoint for another OAuth server"
            )
        }
        if isPublic && app.usesClientCredentialsFlow {
            throw UseCaseError.usage(
                "the client credentials flow needs a client secret or a certificate; a public client has neither",
                hint: "drop --public, and give the secret (prompt, --secret-stdin, --secret-file) or --certificate")
        }
        try apply(fields, to: &app, isNew: true)
        if isPublic { app.clientAuth = .none }
        return app
    }

    /// Applies changed fields to an app, re-deriving Azure endpoints when tenant/cloud/host move.
    package static func apply(_ fields: AppFields, to app: inout App, isNew: Bool = false) throws {
        let original = app
        if let tenant = fields.tenant {
            try validateTenant(tenant)
            app.tenant = tenant
        }
        if let clientID = fields.clientID {
            try validateClientID(clientID, azure: app.provider == .azure)
            // The default scope names the client id; it follows the client id when it was the default.
            let followsDefault =
                app.scope == AppSpec.defaultScope(provider: app.provider, clientID: app.clientID, flow: app.flowKind)
            app.clientID = clientID
            if followsDefault {
                app.scope = AppSpec.defaultScope(provider: app.provider, clientID: clientID, flow: app.flowKind)
            }
        }
        if let flow = fields.flow, flow != app.flowKind || isNew {
            if !isNew && flow == .clientCredentials && app.isPublicClient {
                throw UseCaseError.usage(
                    "the client credentials flow needs a client secret or a certificate; app \"\(app.name)\" is a public client",
                    hint:
                        "give the secret with --secret-prompt/--secret-stdin/--secret-file or --certificate with the flow"
                )
            }
            // A scope that was the old flow's default becomes the new flow's default.
            let followsDefault =
                app.scope.isEmpty
                || app.scope == AppSpec.defaultScope(provider: app.provider, clientID: app.clientID, flow: app.flowKind)
            app.flow = flow.rawValue
            if followsDefault && fields.scope == nil {
                app.scope = AppSpec.defaultScope(provider: app.provider, clientID: app.clientID, flow: flow)
            }
        }
        switch app.provider {
        case .azure:
            let touchesAuthority = fields.tenant != nil || fields.cloud != nil || fields.authorityHost != nil
            if !isNew && touchesAuthority && derivedEndpoints(of: original).token != original.tokenEndpoint {
                // tenant/cloud/authority_host are plain columns; the token endpoint is bound into
                // the secrets' AAD. If they disagree, the file was edited: don't re-seal for it.
                throw VaultError.damaged(
                    "app \"\(app.name)\": its tenant/cloud/authority host no longer match its token endpoint \(original.tokenEndpoint): the file was modified",
                    hint: "restore the vault from a backup (\(.restoreBackup))")
            }
            guard !fields.namesEndpoints else {
                throw UseCaseError.usage(
                    "app \"\(app.name)\" is an Azure app: its endpoints come from --tenant, --cloud and --authority-host"
                )
            }
            if fields.cloud != nil && fields.authorityHost != nil {
                throw UseCaseError.usage("give --cloud or --authority-host, not both")
            }
            if let cloud = fields.cloud {
                app.cloud = cloud.rawValue
                app.authorityHost = nil
            }
            if let host = fields.authorityHost {
                app.authorityHost = try normalizeAuthorityHost(host)
                app.cloud = nil
            }
            if app.cloud == nil && app.authorityHost == nil { app.cloud = Cloud.public.rawValue }
            // Endpoints are derived only when asked to: never from stored columns alone.
            if isNew || touchesAuthority {
                let endpoints = derivedEndpoints(of: app)
                app.authorizeEndpoint = endpoints.authorize
                app.tokenEndpoint = endpoints.token
                app.deviceEndpoint = endpoints.device
            }
        case .oauth:
            guard !fields.namesAzureAuthority else {
                throw UseCaseError.usage(
                    "--cloud/--authority-host apply to Azure apps only; app \"\(app.name)\" uses explicit endpoints")
            }
            if let url = fields.authorizeEndpoint {
                app.authorizeEndpoint = try EndpointRules.validateEndpoint(url, option: "--authorize-endpoint")
            }
            if app.authorizeEndpoint.isEmpty && !app.usesClientCredentialsFlow {
                throw UseCaseError.usage(
                    "app \"\(app.name)\" has no authorize endpoint, which a user's sign-in needs",
                    hint: "give --authorize-endpoint URL")
            }
            if let url = fields.tokenEndpoint {
                app.tokenEndpoint = try EndpointRules.validateEndpoint(url, option: "--token-endpoint")
            }
        }
        if let uri = fields.redirectURI { app.redirectURI = try validateRedirectURI(uri) }
        if let scope = fields.scope { app.scope = try normalizeScope(scope) }
        if app.scope.isEmpty {
            app.scope = defaultScope(provider: app.provider, clientID: app.clientID, flow: app.flowKind)
        }
        if app.usesClientCredentialsFlow {
            guard !app.scope.isEmpty else {
                throw UseCaseError.usage(
                    "give --scope: the client credentials flow has no default scope on servers other than Azure",
                    hint: "name the API scopes the app was granted, e.g. --scope api.read")
            }
            try validateClientCredentialsScope(app.scope, provider: app.provider)
        }
        if let auth = fields.clientAuth {
            guard auth != .none else { throw UseCaseError.usage("use --public to make an app a public client") }
            guard auth != .privateKeyJWT else {
                throw UseCaseError.usage("use --certificate to authenticate with a certificate")
            }
            guard !app.usesCertificate else {
                throw UseCaseError.usage(
                    "app \"\(app.name)\" authenticates with a certificate; --client-auth post|basic applies to client secrets",
                    hint: "switch to a secret with --secret-prompt (then --client-auth applies)")
            }
            app.clientAuth = auth
        }
        if !fields.headers.isEmpty || !fields.removeHeaders.isEmpty {
            let merged = try RequestDefaults.merge(
                RequestDefaults.decode(app.requestHeaders), adding: fields.headers, removing: fields.removeHeaders)
            app.requestHeaders = RequestDefaults.encode(merged)
        }
        if let base = fields.apiBase { app.apiBase = try RequestDefaults.validateAPIBase(base) }
        if fields.clearAPIBase { app.apiBase = nil }
        try applyFederated(fields, to: &app)
        if let capabilities = fields.clientCapabilities {
            app.clientCapabilities = try validateCapabilities(capabilities)
        }
    }

    /// The federated credential fields. The secret or certificate the app had is dropped by
    /// `Vault.updateApp` when the app becomes federated.
    static func applyFederated(_ fields: AppFields, to app: inout App) throws {
        // Read from the source column: `--client-auth` may already have changed client_auth.
        let previousSource = app.federatedSource
        let wasFederated = previousSource != nil
        if let source = fields.federatedSource {
            guard app.usesClientCredentialsFlow else {
                throw UseCaseError.usage(
                    "federated credentials are for the client credentials flow; app \"\(app.name)\" signs users in",
                    hint: "add --flow client-credentials")
            }
            guard fields.clientAuth == nil else {
                throw UseCaseError.usage(
                    "--client-auth is for client secrets; a federated app sends its platform's token")
            }
            app.clientAuth = .federatedAssertion
            app.federatedSource = source
            switch source {
            case .file:
                guard let file = fields.federatedTokenFile else {
                    throw UseCaseError.usage("give the token file with --federated-token-file FILE")
                }
                app.federatedTokenFile = try validateTokenFilePath(file)
                guard fields.federatedAudience == nil else {
                    throw UseCaseError.usage(
                        "--federated-audience applies to --federated-token-source github-actions; a token file's audience is set where it is issued (the pod's projection)"
                    )
                }
                app.federatedAudience = nil
            case .githubActions:
                app.federatedTokenFile = nil
                app.federatedAudience =
                    try fields.federatedAudience.map(validateAudience)
                    ?? (previousSource == .githubActions ? app.federatedAudience : nil)
            }
        } else if let audience = fields.federatedAudience {
            guard app.federatedSource == .githubActions else {
                throw UseCaseError.usage(
                    "--federated-audience applies to apps with --federated-token-source github-actions")
            }
            app.federatedAudience = try validateAudience(audience)
        } else if fields.federatedTokenFile != nil {
            throw UseCaseError.usage("--federated-token-file goes with the client credentials flow (and no secret)")
        }
        if app.usesFederatedCredential && !app.usesClientCredentialsFlow {
            throw UseCaseError.usage(
                "app \"\(app.name)\" authenticates with a federated credential, which only the client credentials flow uses",
                hint: "give it a client secret (--secret-prompt) or make it a public client (--public) first")
        }
        if wasFederated, fields.clientAuth != nil, fields.federatedSource == nil {
            throw UseCaseError.usage(
                "app \"\(app.name)\" authenticates with a federated credential; --client-auth applies to client secrets",
                hint: "switch to a secret with --secret-prompt (then --client-auth applies)")
        }
    }

    /// An absolute path, stored as given (not resolved: Kubernetes rotates the token by
    /// swapping the `..data` symlink the path goes through). A relative one is made absolute
    /// against the working directory.
    package static func validateTokenFilePath(_ path: String) throws -> String {
        guard !path.isEmpty, path.utf8.count <= 4096,
            path.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else {
            throw UseCaseError.usage(
                "invalid --federated-token-file \"\(Display.printable(path))\"",
                hint: "give the path of the token file, e.g. \"$AZURE_FEDERATED_TOKEN_FILE\"")
        }
        if path.hasPrefix("/") { return path }
        let cwd = FileManager.default.currentDirectoryPath
        return (cwd.hasSuffix("/") ? cwd : cwd + "/") + path
    }

    /// An audience for GitHub's OIDC endpoint: printable ASCII without spaces.
    static func validateAudience(_ audience: String) throws -> String {
        guard !audience.isEmpty, audience.utf8.count <= 512, audience.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else {
            throw UseCaseError.usage(
                "invalid --federated-audience \"\(Display.printable(audience))\"",
                hint: "the app registration's federated credential names it, e.g. api://AzureADTokenExchange")
        }
        return audience
    }

    /// Client capability names (`cp1`), space-separated in the column; nil for none.
    static func validateCapabilities(_ names: [String]) throws -> String? {
        var seen: [String] = []
        for name in names {
            guard name.range(of: #"^[A-Za-z0-9_-]{1,32}\z"#, options: .regularExpression) != nil else {
                throw UseCaseError.usage(
                    "invalid --client-capability \"\(Display.printable(name))\"",
                    hint: "Entra ID knows cp1 (continuous access evaluation)")
            }
            if !seen.contains(name) { seen.append(name) }
        }
        return seen.isEmpty ? nil : seen.joined(separator: " ")
    }
}
