import Foundation
import TokvaultExport
import TokvaultFlow
import TokvaultVault

/// `serve` and `exec --managed-identity`: tokens for the resources a managed-identity client
/// (an Azure SDK's ManagedIdentityCredential) asks for, from one app, with the vault unlocked
/// once for the life of the process.
package actor ManagedIdentity {
    package let appName: String
    /// Resources served besides the app's own (`--resource`), as given.
    package let extraResources: [String]
    private let requestedPath: String
    private var vault: Vault
    private var identity: FileIdentity?
    /// The data key (as `sessionKey`) and the key files it was unlocked with; never a passphrase,
    /// which is not kept once the key is open. A rotation since then is answered with an error.
    private var material: UnlockMaterial
    /// One request to the token endpoint per scope at a time; concurrent requests wait for it.
    private var flights: [String: Task<TokenService.Result, Error>] = [:]
    private let client: TokenClient

    /// Unlocks `vault` with `material` and checks that `appName` exists.
    package init(
        vault: Vault, appName: String, extraResources: [String], material: UnlockMaterial,
        client: TokenClient = TokenClient()
    ) throws {
        let identity = FileIdentity(path: vault.path)
        try vault.upgradeIfNeeded(material)
        let key = try vault.unlock(material)
        _ = try vault.app(named: appName)
        var kept = UnlockMaterial(keyFiles: material.keyFiles, sessionKey: key)
        kept.passphrase = nil
        self.vault = vault
        self.identity = identity
        self.requestedPath = vault.path
        self.material = kept
        self.appName = appName
        self.extraResources = try extraResources.map(Self.validatedResource)
        self.client = client
    }

    /// What a request asked for.
    package struct Request: Sendable {
        package var resource: String
        package var clientID: String?
        package init(resource: String, clientID: String?) {
            self.resource = resource
            self.clientID = clientID
        }
    }

    /// The App Service answer (`access_token`, `expires_on` as a string of epoch seconds,
    /// `resource`, `token_type`, `client_id`), as JSON.
    package func answer(_ request: Request) async throws -> SecureBytes {
        let vault = try currentVault()
        let app = try vault.app(named: appName)
        if let clientID = request.clientID, clientID.lowercased() != app.clientID.lowercased() {
            throw UseCaseError.usage(
                "client_id \(Display.printable(clientID)) is not the client id of app \"\(appName)\" (\(app.clientID))",
                hint: "unset AZURE_CLIENT_ID, or set it to the app's client id")
        }
        let scope = try Self.scope(for: request.resource, app: app, extra: extraResources)
        let result = try await flight(scope: scope, app: app)
        return try TokenOutput.managedIdentityAnswer(
            token: result.token, tokenType: result.record.tokenType, expiresAt: result.record.expiresAt,
            resource: request.resource, clientID: result.app.clientID)
    }

    /// The token for `scope` (nil: the app's own), shared by every request that arrives while
    /// it is obtained.
    private func flight(scope: String?, app: App) async throws -> TokenService.Result {
        let key = TokenService.scopeKey(scope, app: app)
        if let running = flights[key] { return try await running.value }
        let service = TokenService(vault: vault, client: client)
        let (name, material) = (appName, material)
        let task = Task {
            try await service.accessToken(appName: name, scope: scope, minValid: 300, force: false, material: material)
        }
        flights[key] = task
        defer { flights[key] = nil }
        return try await task.value
    }

    /// The vault at the path it was opened from: opened again after a `restore` (which renames a
    /// new file into place), so that the file now there is the one read.
    private func currentVault() throws -> Vault {
        let now = FileIdentity(path: requestedPath)
        if let now, now != identity {
            vault = try Vault.open(path: requestedPath)
            identity = now
        }
        return vault
    }

    /// The scope to request for `resource`: nil for the app's own resource (its configured
    /// scope, cached as `tokvault token APP` caches it), `R/.default` for another Azure
    /// resource listed in `extra` (as MSAL maps a v1 resource), R itself for other providers.
    /// Anything else is refused: whoever holds the endpoint's header could otherwise get tokens
    /// for every resource the refresh token reaches.
    package static func scope(for resource: String, app: App, extra: [String]) throws -> String? {
        let wanted = try validatedResource(resource)
        if ownResources(of: app).contains(where: { same($0, wanted) }) { return nil }
        guard extra.contains(where: { same($0, wanted) }) else {
            let own = ownResources(of: app).map { "\"\(Display.printable($0))\"" }.joined(separator: ", ")
            throw UseCaseError.usage(
                "resource \(Display.printable(resource)) is not served for app \"\(app.name)\" (it serves \(own.isEmpty ? "no resource" : own))",
                hint: "start the endpoint with --resource \(Display.printable(resource)) to serve it too")
        }
        return app.provider == .azure ? wanted + "/.default" : wanted
    }

    /// The resources of the app's own scope: on Azure, each scope's resource (the part before its
    /// last `/`; a bare scope such as `User.Read` is Microsoft Graph's), OpenID scopes left out; on
    /// other providers the scope without its OpenID scopes, as one string.
    package static func ownResources(of app: App) -> [String] {
        let tokens = app.scope.split(separator: " ").map(String.init).filter {
            !AppSpec.userScopes.contains($0.lowercased())
        }
        guard app.provider == .azure else { return tokens.isEmpty ? [] : [tokens.joined(separator: " ")] }
        var resources: [String] = []
        for token in tokens {
            let resource =
                token.lastIndex(of: "/").map { String(token[..<$0]) } ?? "https://graph.microsoft.com"
            if !resources.contains(where: { same($0, resource) }) { resources.append(resource) }
        }
        return resources
    }

    /// Resources compare without case and without one trailing slash (`https://management.core.windows.net/`
    /// is the same resource as `…windows.net`).
    static func same(_ a: String, _ b: String) -> Bool {
        func trimmed(_ s: String) -> String { s.hasSuffix("/") ? String(s.dropLast()).lowercased() : s.lowercased() }
        return trimmed(a) == trimmed(b)
    }

    /// A resource is one scope's worth of printable ASCII (non-Azure scopes may be several
    /// tokens separated by single spaces), at most 1024 bytes.
    package static func validatedResource(_ resource: String) throws -> String {
        guard !resource.isEmpty, resource.utf8.count <= 1024,
            resource.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) || $0 == " " }),
            !resource.hasPrefix(" "), !resource.hasSuffix(" "), !resource.contains("  ")
        else {
            throw UseCaseError.usage(
                "invalid resource \(Display.printable(resource)): use an absolute URI or an app id URI such as https://management.azure.com"
            )
        }
        return resource
    }
}

/// Which file a path names (device and inode), to notice one renamed over it.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
