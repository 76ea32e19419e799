import ArgumentParser
import Foundation
import TokvaultUseCases
import TokvaultVault

/// Shell completion of app names: the completion scripts run `tokvault ---completion …`, which
/// lands here. Names are read without the key (as `list` reads them), from the vault the
/// command line or `$TOKVAULT_VAULT` names, and only names `add-app` would accept are offered:
/// the file may have been edited, and a completion script hands its words to the shell.
enum AppNameCompletion {
    static let kind = CompletionKind.custom { arguments, _, prefix in names(arguments: arguments, prefix: prefix) }

    static func names(arguments: [String], prefix: String) -> [String] {
        let path = VaultOptions.resolvePath(vaultArgument(in: arguments))
        guard FileManager.default.fileExists(atPath: path),
            let vault = try? Vault.open(path: path, readOnly: true),
            let apps = try? vault.apps()
        else { return [] }
        return apps.map(\.name).filter { name in
            name.hasPrefix(prefix) && (try? AppSpec.validateName(name)) != nil
        }
    }

    /// The value of the last `--vault PATH` or `--vault=PATH` on the line being completed.
    static func vaultArgument(in arguments: [String]) -> String? {
        var found: String?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == "--vault", index + 1 < arguments.endIndex {
                found = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix("--vault=") {
                found = String(argument.dropFirst("--vault=".count))
            }
            index += 1
        }
        return found
    }
}
