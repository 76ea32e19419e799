import ArgumentParser
import Foundation
import TokvaultExport
import TokvaultUseCases
import TokvaultVault

/// Which variables `export` and `exec` produce, under which names.
struct ExportSelection: ParsableArguments {
    @Flag(name: .long, help: "Also include the client secret and the refresh token.")
    var withSecrets = false

    @Option(
        name: .long, help: ArgumentHelp("Prefix for every default variable name (e.g. ADME_).", valueName: "prefix"))
    var prefix: String = ""

    @Option(
        name: .customLong("var"),
        help: ArgumentHelp("Rename a field: NAME=FIELD (repeatable).", valueName: "NAME=FIELD"))
    var renames: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only these fields (repeatable).", valueName: "field"))
    var only: [String] = []

    @Flag(
        name: .long,
        help:
            "Only what azure-identity's WorkloadIdentityCredential reads: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and, outside the public cloud, AZURE_AUTHORITY_HOST (apps with --federated-token-file)."
    )
    var workloadIdentity = false

    /// Whether the variables include a secret (the access token, client secret or refresh
    /// token): known before the vault is opened, so a destination can be refused first.
    func carriesSecrets() throws -> Bool {
        try naming().selected().contains { $0.field.isSecret || $0.field == .accessToken }
    }

    func naming() throws -> ExportNaming {
        var naming = ExportNaming()
        naming.prefix = prefix
        naming.withSecrets = withSecrets
        for spec in renames { try naming.addRename(spec) }
        if workloadIdentity {
            guard only.isEmpty, !withSecrets else {
                throw CommandError.usage("--workload-identity selects its own fields: drop --only and --with-secrets")
            }
            naming.only = ExportField.workloadIdentity
        }
        if !only.isEmpty {
            naming.only = try only.map { field in
                guard let f = ExportField(rawValue: field) else {
                    throw CommandError.usage(
                        "unknown field \"\(Display.printable(field))\"",
                        hint: "fields: \(ExportField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return f
            }
        }
        return naming
    }

    /// The variables for `appName`, with a token valid for --min-valid (refreshed if needed).
    func variables(app appName: String, tokenOptions: TokenOptions, vaultOptions: VaultOptions) async throws
        -> [ExportVariable]
    {
        let selected = try naming().selected()
        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault)
        return try await ExportVariables(vault: vault, material: material).variables(
            app: appName, selected: selected, scope: tokenOptions.scope, minValid: tokenOptions.minValidSeconds)
    }
}
