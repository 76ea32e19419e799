import ArgumentParser
import Foundation
import TokvaultUseCases
import TokvaultVault

struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change an app's fields, replace its client secret, or import a refresh token.",
        discussion: """
            Changing --client-id or the token endpoint (directly, or through --tenant/--cloud/ \
            --authority-host) re-seals the client secret for the new values and removes the app's \
            tokens, which were issued to the old client. Examples:
              tokvault set adme --secret-stdin < new-secret.txt
              tokvault set adme --scope "$CLIENT_ID/.default offline_access"
              tokvault set adme --refresh-token-stdin < refresh-token.txt
              tokvault set deploy --certificate new-cert.pem --private-key-file new-key.pem
              tokvault set deploy --federated-token-file /var/run/secrets/azure/tokens/azure-identity-token
              tokvault set deploy --secret-prompt        # back from a federated credential to a secret
              tokvault set adme --api-base https://contoso.energy.azure.com --header 'data-partition-id: opendes'
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Option(name: .long, help: ArgumentHelp("New name for the app.", valueName: "name"))
    var rename: String?

    @OptionGroup var fieldOptions: AppFieldOptions
    @OptionGroup var secret: SecretOptions
    @OptionGroup var certificateOptions: CertificateOptions
    @OptionGroup var federatedOptions: FederatedOptions

    @Flag(name: .long, help: "Declare no client capabilities any more.")
    var noClientCapabilities = false

    @Flag(name: .long, help: "Ask for a new client secret on the terminal (no echo).")
    var secretPrompt = false

    @Flag(name: .long, help: "Make the app a public client: drop its client secret (and its tokens).")
    var `public` = false

    @Flag(name: [.long, .customShort("y")], help: "Don't ask before dropping the client secret (--public).")
    var yes = false

    @Flag(name: .long, help: "Import a refresh token from standard input (from the manual authorize/curl procedure).")
    var refreshTokenStdin = false

    @Option(name: .long, help: ArgumentHelp("Import a refresh token from this file.", valueName: "file"))
    var refreshTokenFile: String?

    @Option(
        name: .customLong("remove-header"),
        help: ArgumentHelp("Remove a stored request header by name (repeatable).", valueName: "name"))
    var removeHeaders: [String] = []

    @Flag(name: .long, help: "Remove the app's API base (tokvault curl then takes absolute https URLs only).")
    var noApiBase = false

    @OptionGroup var vaultOptions: VaultOptions

    func validate() throws {
        let secretSources = [secret.secretStdin, secret.secretFile != nil, secretPrompt].filter { $0 }.count
        if secretSources > 1 {
            throw ValidationError("give the new client secret once: --secret-stdin, --secret-file or --secret-prompt")
        }
        if `public` && secretSources > 0 {
            throw ValidationError("--public drops the client secret; don't give a new one")
        }
        if refreshTokenStdin && refreshTokenFile != nil {
            throw ValidationError("give the refresh token once: --refresh-token-stdin or --refresh-token-file")
        }
        if refreshTokenStdin && secret.secretStdin {
            throw ValidationError(
                "standard input can carry one secret: use --secret-file or --refresh-token-file for the other")
        }
        if certificateOptions.isGiven && (secretSources > 0 || `public`) {
            throw ValidationError("give a new client secret or a new --certificate, not both (and not with --public)")
        }
        if certificateOptions.privateKeyStdin && (secret.secretStdin || refreshTokenStdin) {
            throw ValidationError("standard input can carry one secret")
        }
        if federatedOptions.givesCredential && (secretSources > 0 || `public` || certificateOptions.isGiven) {
            throw ValidationError(
                "give one credential: a federated token source, a client secret, a certificate or --public")
        }
        if noClientCapabilities && !fieldOptions.clientCapabilities.isEmpty {
            throw ValidationError("give --client-capability NAME or --no-client-capabilities, not both")
        }
        if noApiBase && fieldOptions.apiBase != nil {
            throw ValidationError("give --api-base URL or --no-api-base, not both")
        }
    }

    func run() throws {
        let vault = try vaultOptions.open()
        let original = try vault.app(named: name)
        var updated = original
        if let rename {
            try AppSpec.validateName(rename)
            updated.name = rename
        }
        do {
            var fields = try fieldOptions.fields()
            fields.removeHeaders = removeHeaders
            fields.clearAPIBase = noApiBase
            federatedOptions.apply(to: &fields)
            if noClientCapabilities { fields.clientCapabilities = [] }
            try AppSpec.apply(fields, to: &updated)
        } catch let error where Failure.report(error)?.exitCode == Failure.Exit.usage {
            // Refused against the stored columns (a flow that forbids the scope, say): if those
            // were edited in the file, that is the error to report, not the user's options.
            if let key = try? vaultOptions.unlock(vault) {
                try vault.verifyBinding(try vault.reread(original), key: key)
            }
            throw error
        }
        if `public` { updated.clientAuth = .none }

        var changes = Vault.AppChanges()
        changes.makePublic = `public`
        if let loaded = try certificateOptions.load() {
            updated.certificate = Data(loaded.certificateDER)
            updated.assertionAlg = try certificateOptions.algorithm() ?? original.assertionAlg ?? .ps256
            changes.newPrivateKey = loaded.privateKeyDER
            if let warning = CertificateOptions.expiryWarning(loaded.info, appName: name) {
                Diagnostics.warning(warning)
            }
        } else if let algorithm = try certificateOptions.algorithm() {
            guard original.usesCertificate else {
                throw CommandError.usage(
                    "app \"\(name)\" has no certificate; --assertion-alg applies to certificate credentials",
                    hint: "add one with --certificate CERT.pem --private-key-file KEY.pem")
            }
            updated.assertionAlg = algorithm
        }
        if secretPrompt {
            guard let typed = try Terminal.readSecret(prompt: "New client secret for \(name): ") else {
                throw CommandError.usage(
                    "no terminal to ask for the client secret", hint: "use --secret-stdin or --secret-file")
            }
            changes.newClientSecret = try SecretInput.check(typed, what: "client secret")
        } else {
            changes.newClientSecret = try secret.read(prompt: nil)
        }
        if refreshTokenStdin {
            changes.refreshToken = try SecretInput.fromStandardInput(what: "refresh token")
        } else if let refreshTokenFile {
            changes.refreshToken = try SecretInput.fromFile(refreshTokenFile, what: "refresh token")
        }
        if updated == original && changes.newClientSecret == nil && changes.newPrivateKey == nil
            && changes.refreshToken == nil && !changes.makePublic
        {
            throw CommandError.usage(
                "nothing to change for app \"\(name)\"", hint: "see `tokvault set --help` for what can be changed")
        }
        if !original.isPublicClient && !original.usesCertificate && !updated.usesFederatedCredential
            && original.clientSecret == nil
            && changes.newClientSecret == nil
            && changes.newPrivateKey == nil && !`public`
        {
            Diagnostics.warning(
                "app \"\(name)\" has no client secret; give one with --secret-stdin, --secret-file or --secret-prompt")
        }
        if `public` && original.clientAuth != .none {
            guard
                try Terminal.confirmOrRequireYes(
                    "Make \(name) a public client? Its client secret and tokens are deleted.", yes: yes,
                    refusal: "refusing to delete the client secret of \"\(name)\" without confirmation")
            else { return }
        }
        // Every change is bound anew to the data key (and the old binding checked first).
        let report = try vaultOptions.writing(vault) { key in
            // Read again under the lock: an upgrade of a format 1 vault by this unlock re-sealed the
            // row (new ciphertexts and binding, same columns); any other change is refused by updateApp.
            var current = try vault.reread(original)
            if !current.steersLike(original) || current.updatedAt != original.updatedAt { current = original }
            return try vault.updateApp(original: current, updated: updated, changes: changes, key: key)
        }
        print("Updated app \(updated.name): \(report.changedColumns.joined(separator: ", "))")
        if original.tokenEndpoint != updated.tokenEndpoint {
            print(
                "Token endpoint: \(original.tokenEndpoint) -> \(updated.tokenEndpoint) (the client secret is now sent there)"
            )
        }
        if report.droppedTokens {
            print(
                "Removed the app's tokens: they were issued to the old client or endpoint. Run `tokvault login \(updated.name)`."
            )
        } else if report.droppedAccessTokens {
            print("Removed the cached access token for the old scope.")
        }
    }
}
