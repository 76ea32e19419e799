import ArgumentParser
import Foundation
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

struct AddApp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-app",
        abstract: "Register an app (Azure, or any OAuth 2.0 server) in the vault.",
        discussion: """
            The client secret is asked without echo, or read with --secret-stdin / --secret-file; \
            it is never accepted on the command line. Examples:
              tokvault add-app adme --tenant $TENANT --client-id $CLIENT_ID
              printf %s "$SECRET" | tokvault add-app adme --tenant T --client-id C --secret-stdin
              tokvault add-app cli --tenant T --client-id C --public
              tokvault add-app deploy --tenant T --client-id C --flow client-credentials --secret-stdin
              tokvault add-app deploy --tenant T --client-id C --flow client-credentials \\
                  --certificate cert.pem --private-key-file key.pem
              tokvault add-app aks --tenant T --client-id C --flow client-credentials \\
                  --federated-token-file "$AZURE_FEDERATED_TOKEN_FILE"
              tokvault add-app ci --tenant T --client-id C --flow client-credentials \\
                  --federated-token-source github-actions
            """)

    @Argument(help: "Name of the app in this vault (letters, digits, '.', '_', '-').")
    var name: String

    @OptionGroup var fieldOptions: AppFieldOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "OpenID Connect issuer: endpoints and client authentication come from its discovery document.",
            valueName: "url"))
    var issuer: String?
    @OptionGroup var secret: SecretOptions
    @OptionGroup var certificateOptions: CertificateOptions
    @OptionGroup var federatedOptions: FederatedOptions

    @Flag(name: .long, help: "A public client (no client secret), e.g. a 'Mobile and desktop' registration.")
    var `public` = false

    @OptionGroup var vaultOptions: VaultOptions

    func validate() throws {
        if `public` && secret.isGiven {
            throw ValidationError("--public apps have no client secret; drop --secret-stdin/--secret-file")
        }
        if `public` && fieldOptions.clientAuth != nil {
            throw ValidationError("--public apps do not authenticate; drop --client-auth")
        }
        if certificateOptions.isGiven && (secret.isGiven || `public`) {
            throw ValidationError(
                "--certificate replaces the client secret: drop --secret-stdin/--secret-file/--public")
        }
        if certificateOptions.isGiven && fieldOptions.clientAuth != nil {
            throw ValidationError("--client-auth is for client secrets; a --certificate app sends signed assertions")
        }
        if certificateOptions.assertionAlg != nil && !certificateOptions.isGiven {
            throw ValidationError("--assertion-alg goes with --certificate FILE")
        }
        if federatedOptions.givesCredential && (secret.isGiven || `public` || certificateOptions.isGiven) {
            throw ValidationError(
                "a federated credential replaces the client secret: drop --secret-stdin/--secret-file/--certificate/--public"
            )
        }
        if secret.secretStdin && certificateOptions.privateKeyStdin {
            throw ValidationError("standard input can carry one secret")
        }
    }

    func run() async throws {
        var fields = try fieldOptions.fields()
        federatedOptions.apply(to: &fields)
        // A federated credential is the client credentials flow's: implied when no flow is given.
        if federatedOptions.givesCredential && fields.flow == nil { fields.flow = .clientCredentials }
        var discovered: DiscoveryDocument?
        if let issuer {
            guard fields.tenant == nil, fields.cloud == nil, fields.authorityHost == nil,
                fields.authorizeEndpoint == nil, fields.tokenEndpoint == nil
            else {
                throw CommandError.usage(
                    "--issuer finds the endpoints itself: drop --tenant, --cloud, --authority-host, --authorize-endpoint and --token-endpoint"
                )
            }
            let document = try await DiscoveryDocument.fetch(issuer: issuer)
            fields.authorizeEndpoint = document.authorizationEndpoint
            fields.tokenEndpoint = document.tokenEndpoint
            if fields.clientAuth == nil && !`public` { fields.clientAuth = document.preferredClientAuth }
            discovered = document
        }
        var app = try AppSpec.newApp(name: name, fields: fields, isPublic: `public`)
        if let discovered {
            app.issuer = discovered.issuer
            app.deviceEndpoint = discovered.deviceAuthorizationEndpoint
        }
        let vault = try vaultOptions.open()
        if (try? vault.app(named: name)) != nil {
            throw CommandError.failure(
                "an app named \"\(name)\" already exists",
                hint: "change it with `tokvault set \(name) …`, or pick another name")
        }
        var clientSecret: SecureBytes?
        var certificate: CertificateOptions.Loaded?
        if let loaded = try certificateOptions.load() {
            certificate = loaded
            app.clientAuth = .privateKeyJWT
            app.certificate = Data(loaded.certificateDER)
            app.assertionAlg = loaded.algorithm
            if let warning = CertificateOptions.expiryWarning(loaded.info, appName: name) {
                Diagnostics.warning(warning)
            }
        } else if app.usesFederatedCredential {
            if app.federatedSource == .file, let path = app.federatedTokenFile {
                // Checked now for the user's sake; every grant reads it again.
                do { _ = try FederatedAssertion.read(file: path) } catch let error as FlowError {
                    Diagnostics.warning(
                        "\(error.message); the app is added, and each grant reads the file again")
                }
            }
        } else if !`public` {
            guard let read = try secret.read(prompt: "Client secret for \(name): ") else {
                throw CommandError.usage(
                    "no client secret given and no terminal to ask for it",
                    hint: "use --secret-stdin or --secret-file, or --public for an app without a secret")
            }
            clientSecret = read
        }
        // Every app is bound to the data key (its endpoints and client id), public ones too.
        try vaultOptions.writing(vault) { key in
            try vault.addApp(app, clientSecret: clientSecret, privateKey: certificate?.privateKeyDER, key: key)
        }
        let credential =
            certificate.map { "certificate \($0.info.sha1Hex), key sealed, \($0.algorithm.rawValue) assertions" }
            ?? (app.usesFederatedCredential
                ? AppView.federatedDescription(app) + ", no secret stored"
                : (`public` ? "public client" : "client secret sealed"))
        print("Added app \(name): client id \(app.clientID), token endpoint \(app.tokenEndpoint) (\(credential))")
        if app.usesClientCredentialsFlow {
            print("Flow: client credentials, scope \(app.scope). Get a token with `tokvault token \(name)`.")
        }
    }
}
