import Foundation
import TokvaultVault

/// The fields `export` can emit and their default variable names (the Azure SDKs' names).
package enum ExportField: String, CaseIterable, Sendable {
    case tenant
    case clientID = "client_id"
    case accessToken = "access_token"
    case expiresOn = "expires_on"
    case
        expiresAt = "expires_at"
    case tokenType = "token_type"
    case scope
    case tokenEndpoint = "token_endpoint"
    case
        clientSecret = "client_secret"
    case refreshToken = "refresh_token"
    /// A file-federated app's token file and a non-public cloud's authority host: what
    /// azure-identity's WorkloadIdentityCredential reads. Only when asked for (`--only`,
    /// `--workload-identity`), so the default set stays as it was.
    case federatedTokenFile = "federated_token_file"
    case authorityHost = "authority_host"

    package var defaultName: String {
        switch self {
        case .tenant: return "AZURE_TENANT_ID"
        case .clientID: return "AZURE_CLIENT_ID"
        case .accessToken: return "ACCESS_TOKEN"
        case .expiresOn: return "ACCESS_TOKEN_EXPIRES_ON"
        case .expiresAt: return "ACCESS_TOKEN_EXPIRES_AT"
        case .tokenType: return "TOKEN_TYPE"
        case .scope: return "SCOPE"
        case .tokenEndpoint: return "TOKEN_ENDPOINT"
        case .clientSecret: return "AZURE_CLIENT_SECRET"
        case .refreshToken: return "REFRESH_TOKEN"
        case .federatedTokenFile: return "AZURE_FEDERATED_TOKEN_FILE"
        case .authorityHost: return "AZURE_AUTHORITY_HOST"
        }
    }

    /// In the default selection (the opt-in fields are not).
    package var isDefault: Bool { self != .federatedTokenFile && self != .authorityHost }

    /// What azure-identity's WorkloadIdentityCredential (and DefaultAzureCredential) reads.
    package static let workloadIdentity: [ExportField] = [.clientID, .tenant, .federatedTokenFile, .authorityHost]

    /// Secrets leave the vault only with --with-secrets.
    package var isSecret: Bool { self == .clientSecret || self == .refreshToken }
}

/// Which fields, under which names.
package struct ExportNaming: Sendable {
    package var prefix = ""
    package var renames: [ExportField: String] = [:]
    package var only: [ExportField]?
    package var withSecrets = false

    package init() {}

    package func selected() throws -> [(field: ExportField, name: String)] {
        var fields = only ?? ExportField.allCases.filter { $0.isDefault && (!$0.isSecret || withSecrets) }
        if !withSecrets, let secret = fields.first(where: \.isSecret) {
            throw ExportError.usage("\(secret.rawValue) is a secret: add --with-secrets to export it")
        }
        var seen = Set<ExportField>()
        fields = fields.filter { seen.insert($0).inserted }
        let named = fields.map { ($0, renames[$0] ?? prefix + $0.defaultName) }
        for (_, name) in named { try ExportNames.validate(name) }
        let names = named.map(\.1)
        if let duplicate = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ExportError.usage("two fields would both be exported as \(duplicate)")
        }
        return named
    }

    /// `--var NAME=field`.
    package mutating func addRename(_ spec: String) throws {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let field = ExportField(rawValue: parts[1]) else {
            throw ExportError.usage(
                "--var takes NAME=FIELD, FIELD one of \(ExportField.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try ExportNames.validate(parts[0])
        renames[field] = parts[0]
    }
}
