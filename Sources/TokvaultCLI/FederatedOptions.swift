import ArgumentParser
import TokvaultUseCases
import TokvaultVault

/// A federated credential (workload identity federation) for a client credentials app: the
/// token its platform issues is sent as the client assertion, and no secret is stored.
struct FederatedOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Authenticate with the token in this file, read afresh for every grant (AKS: $AZURE_FEDERATED_TOKEN_FILE); stored as an absolute path, not resolved.",
            valueName: "file"))
    var federatedTokenFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where the federated token comes from: github-actions (the job's OIDC token; needs `permissions: id-token: write`) or file (with --federated-token-file).",
            valueName: "source"))
    var federatedTokenSource: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Audience to ask GitHub for (default api://AzureADTokenExchange, …USGov or …China by cloud).",
            valueName: "audience"))
    var federatedAudience: String?

    /// A new credential source is given (not just an audience).
    var givesCredential: Bool { federatedTokenFile != nil || federatedTokenSource != nil }

    func validate() throws {
        if let source = federatedTokenSource {
            switch source {
            case "github-actions":
                if federatedTokenFile != nil {
                    throw ValidationError(
                        "--federated-token-source github-actions gets the token from GitHub; drop --federated-token-file"
                    )
                }
            case "file":
                if federatedTokenFile == nil {
                    throw ValidationError("--federated-token-source file needs --federated-token-file FILE")
                }
            default:
                throw ValidationError("--federated-token-source must be github-actions or file")
            }
        }
    }

    /// Adds what was given to `fields`.
    func apply(to fields: inout AppFields) {
        if federatedTokenSource == "github-actions" {
            fields.federatedSource = .githubActions
        } else if federatedTokenFile != nil {
            fields.federatedSource = .file
        }
        fields.federatedTokenFile = federatedTokenFile
        fields.federatedAudience = federatedAudience
    }
}
