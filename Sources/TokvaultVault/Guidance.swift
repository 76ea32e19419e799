/// Advice shown with an error or a notice: prose with actions in it.
///
/// The library layers say *what* the user can do (sign in again, restore a backup, store a
/// secret); only the command-line layer knows *how* (which command, which option), and renders
/// each `Action` when it prints the advice. Written as a string literal:
/// `"restore it from a backup with `\(.restoreBackup)`"`.
package struct Guidance: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    package enum Part: Sendable, Equatable {
        case text(String)
        case action(Action)
    }

    package private(set) var parts: [Part]

    package init(stringLiteral value: String) { parts = value.isEmpty ? [] : [.text(value)] }

    package init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

    package struct StringInterpolation: StringInterpolationProtocol {
        var parts: [Part] = []

        package init(literalCapacity: Int, interpolationCount: Int) {}

        package mutating func appendLiteral(_ literal: String) { appendText(literal) }

        package mutating func appendInterpolation(_ action: Action) { parts.append(.action(action)) }

        package mutating func appendInterpolation(_ guidance: Guidance) {
            for part in guidance.parts {
                if case .text(let text) = part { appendText(text) } else { parts.append(part) }
            }
        }

        package mutating func appendInterpolation(_ value: some Any) { appendText(String(describing: value)) }

        private mutating func appendText(_ text: String) {
            guard !text.isEmpty else { return }
            if case .text(let previous) = parts.last {
                parts[parts.count - 1] = .text(previous + text)
            } else {
                parts.append(.text(text))
            }
        }
    }

    package static func + (lhs: Guidance, rhs: Guidance) -> Guidance { "\(lhs)\(rhs)" }

    package static func += (lhs: inout Guidance, rhs: Guidance) { lhs = lhs + rhs }

    /// The advice as text, each action written by `render`.
    package func text(_ render: (Action) -> String) -> String {
        parts.map { part in
            switch part {
            case .text(let text): text
            case .action(let action): render(action)
            }
        }.joined()
    }

    /// The prose with each action as its name in angle brackets: for logs and test failures, never
    /// for the user.
    package var description: String { text { "<\($0)>" } }
}

/// Something the user can do about a failure, named by what it achieves. The command-line layer
/// turns each into the command or option that does it (`Sources/TokvaultCLI/Failure.swift`).
package enum Action: Sendable, Equatable {
    /// Put a backup in place of the vault.
    case restoreBackup
    /// Create a new vault.
    case createVault
    /// See the apps in the vault.
    case listApps
    /// See the vault's state, its key slots among it.
    case diagnose
    /// See the key-file slots.
    case listKeySlots
    /// Create a new key file (and its slot).
    case createKeyFile
    /// Create a vault with a new key file.
    case createVaultWithKeyFile
    /// Remove the key-file slot of the key file at this path.
    case removeKeyFile(String)
    /// Set or change the passphrase.
    case changePassphrase
    /// See one app's settings.
    case showApp(String)
    /// Change one app's settings.
    case changeApp(String, AppSetting)
    /// Sign in to one app (nil: the app the user is working with).
    case signIn(String?, SignInVariant)
    /// Get an access token for one app.
    case getToken(String)
    /// Run a command with the app's token in its environment.
    case runCommand(String)
    /// Keep the vault unlocked for this session (the key in the kernel keyring).
    case unlockSession
    /// Write the app's curl script.
    case exportCurlScript(String)
    /// Run a generated script with the app's secrets in its environment.
    case runScriptWithSecrets(String)
    /// Name an option of the current command.
    case option(Option)

    package enum AppSetting: Sendable, Equatable {
        case any, secret, certificate, scope, publicClient, redirectURI, redirectPort, refreshToken, federated
    }

    package enum SignInVariant: Sendable, Equatable {
        case plain, device, consent, manual, otherPort
        case selectAccount(loginHint: String)
        /// With a claims challenge, already one shell word (`ClaimsRequest.shellWord`).
        case claims(String)
    }

    package enum Option: Sendable, Equatable {
        /// Where the vault is (option and environment variable).
        case vaultPath
        /// Unlock with a key file (option and environment variable).
        case keyFile
        /// A key file for each key-file slot, repeated.
        case repeatedKeyFile
        /// Remove the slots not given.
        case dropOtherSlots
        /// Replace an existing file.
        case force
        /// The issuer to discover endpoints from.
        case issuer
        /// Export secrets too.
        case withSecrets
        /// The ways a client secret is read (prompt, standard input, file).
        case secretInput
        /// Read a private key from standard input (any command that takes one).
        case privateKeyFromStdin
        /// Keep the unlocked key in the uid-wide user keyring instead of the session keyring.
        case userKeyring
    }
}
