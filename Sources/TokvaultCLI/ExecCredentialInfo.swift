import Foundation
import TokvaultExport
import TokvaultVault

/// What kubectl tells an exec credential plugin in `KUBERNETES_EXEC_INFO`: the ExecCredential
/// apiVersion to answer in and whether the plugin may talk to the user (`spec.interactive`).
/// kubectl controls the variable, but so does whoever runs tokvault: it is parsed strictly.
struct ExecCredentialInfo: Equatable {
    var apiVersion: String
    var interactive: Bool

    private struct Request: Decodable {
        var apiVersion: String?
        var kind: String?
        var spec: Spec?
        struct Spec: Decodable { var interactive: Bool? }
    }

    /// From the environment; without the variable (tokvault run by hand): v1, not interactive.
    static func fromEnvironment() throws -> ExecCredentialInfo {
        guard let text = VaultFile.environment("KUBERNETES_EXEC_INFO"), !text.isEmpty else {
            return ExecCredentialInfo(apiVersion: TokenOutput.execCredentialVersions[0], interactive: false)
        }
        return try parse(text)
    }

    static func parse(_ text: String) throws -> ExecCredentialInfo {
        let hint = "kubectl sets KUBERNETES_EXEC_INFO for exec credential plugins; unset it to run tokvault by hand"
        guard text.utf8.count <= 1 << 20, let request = try? JSONDecoder().decode(Request.self, from: Data(text.utf8))
        else {
            throw CommandError.usage("KUBERNETES_EXEC_INFO is not an ExecCredential (JSON object)", hint: hint)
        }
        guard request.kind == nil || request.kind == "ExecCredential" else {
            throw CommandError.usage(
                "KUBERNETES_EXEC_INFO is a \(Display.printable(request.kind ?? "")), not an ExecCredential", hint: hint)
        }
        guard let version = request.apiVersion, TokenOutput.execCredentialVersions.contains(version) else {
            throw CommandError.usage(
                "KUBERNETES_EXEC_INFO asks for ExecCredential apiVersion \(Display.printable(request.apiVersion ?? "(none)")), which tokvault does not answer",
                hint:
                    "set apiVersion: \(TokenOutput.execCredentialVersions.joined(separator: " or ")) in the kubeconfig's exec entry"
            )
        }
        return ExecCredentialInfo(apiVersion: version, interactive: request.spec?.interactive ?? false)
    }
}
