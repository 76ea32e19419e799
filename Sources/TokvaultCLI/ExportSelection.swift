import ArgumentParser
import Foundation
import TokvaultExport
import TokvaultFlow
import TokvaultVault

/// Which variables `export` and `exec` produce, under which names.
struct ExportSelection: ParsableArguments {
    @Flag(name: .long, help: "Also include the client secret and the refresh token.")
    var withSecrets = false

    @Option(name: .long, help: ArgumentHelp("Prefix for every default variable name (e.g. ADME_).", valueName: "prefix"))
    var prefix: String = ""

    @Option(name: .customLong("var"), help: ArgumentHelp("Rename a field: NAME=FIELD (repeatable).", valueName: "NAME=FIELD"))
    var renames: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only these fields (repeatable).", valueName: "field"))
    var only: [String] = []

    /// Whether the variables include a secret (the access token, client secret or refresh
    /// token): known before the vault is opened, so a destination can be refused first.
    func carriesSecrets() throws -> Bool {
        try naming().selected().contains { $0.field.isSecret || $0.field.isToken }
    }

    func naming() throws -> ExportNaming {
        var naming = ExportNaming()
        naming.prefix = prefix
        naming.withSecrets = withSecrets
        for spec in renames { try naming.addRename(spec) }
        if !only.isEmpty {
            naming.only = try only.map { field in
                guard let f = ExportField(rawValue: field) else {
                    throw VaultError.usage("unknown field \"\(AppSpec.printable(field))\"",
                                           hint: "fields: \(ExportField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return f
            }
        }
        return naming
    }

    /// The variables for `appName`, with a token valid for --min-valid (refreshed if needed).
    func variables(app appName: String, tokenOptions: TokenOptions, vaultOptions: VaultOptions) async throws -> [ExportVariable] {
        let selected = try naming().selected()
        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault)
        let read = try vault.app(named: appName)
        // The public fields come from a row proven with the key (a read before that could
        // have been edited and put back in between).
        var verified: App?
        var token: TokenService.Result?
        if selected.contains(where: { [.accessToken, .expiresOn, .expiresAt, .tokenType, .scope].contains($0.field) }) {
            token = try await TokenService(vault: vault).accessToken(
                appName: appName, scope: tokenOptions.scope, minValid: tokenOptions.minValidSeconds, force: false, material: material)
        }
        var secrets: (client: SecureBytes?, refresh: SecureBytes?) = (nil, nil)
        if selected.contains(where: \.field.isSecret) {
            // Under the vault lock, and the app read again: a rotate-key that ran while the token
            // was obtained (or waited for) re-sealed the secret under a key `app` predates.
            try vault.upgradeIfNeeded(material)
            try vault.holdLock(exclusive: false)
            defer { vault.releaseLock() }
            let current = try vault.reread(read)
            verified = current
            let key = try vault.unlock(material)
            secrets = (try vault.clientSecret(of: current, key: key), try vault.refreshToken(of: current, key: key))
        }
        if token == nil && !selected.contains(where: \.field.isSecret) {
            // Only public fields (client id, token endpoint, tenant): still proven with the key,
            // since a script sends its secrets where they point.
            let key = try vault.unlock(material)
            let current = try vault.reread(read)
            try vault.verifyBinding(current, key: key)
            verified = current
        }
        if let token, let row = verified, !token.app.steersLike(row) { throw Vault.replaced(appName) }
        guard let app = verified ?? token?.app else { throw Vault.replaced(appName) }
        var variables: [ExportVariable] = []
        for (field, variable) in selected {
            switch field {
            case .tenant: if let t = app.tenant { variables.append(.init(name: variable, text: t)) }
            case .clientID: variables.append(.init(name: variable, text: app.clientID))
            case .tokenEndpoint: variables.append(.init(name: variable, text: app.tokenEndpoint))
            case .accessToken: if let token { variables.append(.init(name: variable, value: token.token, isSecret: true)) }
            case .expiresOn: if let token { variables.append(.init(name: variable, text: String(token.record.expiresAt))) }
            case .expiresAt: if let token { variables.append(.init(name: variable, text: Output.isoTime(token.record.expiresAt))) }
            case .tokenType: if let token { variables.append(.init(name: variable, text: token.record.tokenType)) }
            case .scope: if let token { variables.append(.init(name: variable, text: token.record.grantedScope ?? app.scope)) }
            case .clientSecret:
                guard let s = secrets.client else {
                    throw VaultError.failure("app \"\(appName)\" has no client secret to export",
                                             hint: "drop client_secret, or store one with `tokvault set \(appName) --secret-prompt`")
                }
                variables.append(.init(name: variable, value: s, isSecret: true))
            case .refreshToken:
                guard let r = secrets.refresh else {
                    throw VaultError(exitCode: VaultError.Code.loginRequired, "app \"\(appName)\" has no refresh token to export",
                                     hint: "run `tokvault login \(appName)`")
                }
                variables.append(.init(name: variable, value: r, isSecret: true))
            }
        }
        return variables
    }
}
