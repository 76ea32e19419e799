import TokvaultExport
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

/// Where a failure becomes what the user sees: the one place that decides exit codes (as the
/// README documents them) and that turns the library layers' advice into commands and options.
enum Failure {
    /// Exit codes, as documented in the README.
    enum Exit {
        static let failure: Int32 = 1
        static let loginRequired: Int32 = 2
        static let unreachable: Int32 = 3
        static let unlock: Int32 = 4
        static let damaged: Int32 = 5
        static let usage: Int32 = 64
        /// `exec` itself failed before the command ran (env(1)'s convention).
        static let execWrapper: Int32 = 125
    }

    struct Report: Equatable {
        let message: String
        let hint: String?
        let exitCode: Int32
    }

    /// The report of one of tokvault's own errors; nil for anything else.
    static func report(_ error: Error) -> Report? {
        switch error {
        case let error as VaultError:
            return Report(message: error.message, hint: render(error.hint), exitCode: exitCode(error.kind))
        case let error as FlowError:
            return Report(message: error.message, hint: render(error.hint), exitCode: exitCode(error.kind))
        case let error as ExportError:
            return Report(message: error.message, hint: render(error.hint), exitCode: exitCode(error.kind))
        case let error as UseCaseError:
            return Report(message: error.message, hint: render(error.hint), exitCode: exitCode(error.kind))
        case let error as CommandError:
            return Report(message: error.message, hint: error.hint, exitCode: exitCode(error.kind))
        case let error as ExecWrapperFailure:
            guard let inner = report(error.underlying) else { return nil }
            return Report(message: inner.message, hint: inner.hint, exitCode: Exit.execWrapper)
        default:
            return nil
        }
    }

    static func exitCode(for error: Error) -> Int32? { report(error)?.exitCode }

    static func exitCode(_ kind: VaultFailure) -> Int32 {
        switch kind {
        case .failed: Exit.failure
        case .badInput: Exit.usage
        case .cannotUnlock: Exit.unlock
        case .damaged: Exit.damaged
        }
    }

    static func exitCode(_ kind: FlowFailure) -> Int32 {
        switch kind {
        case .failed: Exit.failure
        case .badInput: Exit.usage
        case .loginRequired: Exit.loginRequired
        case .unreachable: Exit.unreachable
        case .damaged: Exit.damaged
        }
    }

    static func exitCode(_ kind: ExportFailure) -> Int32 {
        switch kind {
        case .failed: Exit.failure
        case .badInput: Exit.usage
        }
    }

    static func exitCode(_ kind: UseCaseFailure) -> Int32 {
        switch kind {
        case .failed: Exit.failure
        case .badInput: Exit.usage
        case .loginRequired: Exit.loginRequired
        }
    }

    static func exitCode(_ kind: CommandError.Kind) -> Int32 {
        switch kind {
        case .failed: Exit.failure
        case .badInput: Exit.usage
        case .cannotUnlock: Exit.unlock
        }
    }

    static func render(_ guidance: Guidance?) -> String? { guidance.map(render) }

    static func render(_ guidance: Guidance) -> String { guidance.text(command(for:)) }

    /// The command line, or the option, that does what an action names.
    static func command(for action: Action) -> String {
        switch action {
        case .restoreBackup: "tokvault restore FILE"
        case .createVault: "tokvault init"
        case .listApps: "tokvault list"
        case .diagnose: "tokvault doctor"
        case .listKeySlots: "tokvault keyfile list"
        case .createKeyFile: "tokvault keyfile create FILE"
        case .createVaultWithKeyFile: "tokvault init --new-key-file FILE"
        case .removeKeyFile(let path): "tokvault keyfile remove \(path)"
        case .changePassphrase: "tokvault passwd"
        case .showApp(let name): "tokvault show \(name)"
        case .changeApp(let name, let setting): "tokvault set \(name) " + options(for: setting)
        case .signIn(let name, let variant): "tokvault login" + (name.map { " \($0)" } ?? "") + options(for: variant)
        case .getToken(let name): "tokvault token \(name)"
        case .runCommand(let name): "tokvault exec \(name) -- CMD"
        case .unlockSession: "tokvault unlock"
        case .exportCurlScript(let name): "tokvault export \(name) --format curl"
        case .runScriptWithSecrets(let name): "tokvault exec \(name) --with-secrets -- bash THIS-SCRIPT"
        case .option(let option): text(for: option)
        }
    }

    private static func options(for setting: Action.AppSetting) -> String {
        switch setting {
        case .any: "…"
        case .secret: "--secret-prompt"
        case .certificate: "--certificate CERT.pem --private-key-file KEY.pem"
        case .scope: "--scope …"
        case .publicClient: "--public"
        case .redirectURI: "--redirect-uri URI"
        case .redirectPort: "--redirect-uri http://localhost:PORT"
        case .refreshToken: "--refresh-token-stdin"
        case .federated: "--federated-token-file FILE"
        }
    }

    private static func options(for variant: Action.SignInVariant) -> String {
        switch variant {
        case .plain: ""
        case .device: " --device"
        case .consent: " --prompt consent"
        case .manual: " --manual"
        case .otherPort: " --port N"
        case .selectAccount(let loginHint): " --prompt select_account --login-hint \(loginHint)"
        case .claims(let word): " --claims \(word)"
        }
    }

    private static func text(for option: Action.Option) -> String {
        switch option {
        case .vaultPath: "--vault PATH or TOKVAULT_VAULT"
        case .keyFile: "--key-file or TOKVAULT_KEY_FILE"
        case .repeatedKeyFile: "--key-file (repeatable)"
        case .dropOtherSlots: "--drop-other-slots"
        case .force: "--force"
        case .issuer: "--issuer"
        case .withSecrets: "--with-secrets"
        case .secretInput: "a prompt, --secret-stdin or --secret-file"
        case .privateKeyFromStdin: "tokvault … --private-key-stdin"
        case .userKeyring: "--user-keyring (weaker: every process of your user can then read the key)"
        }
    }
}

/// A failure of a command itself: an option that does not fit, a secret that cannot be read. Its
/// hint is text: this layer knows the commands it names.
struct CommandError: Error, CustomStringConvertible {
    enum Kind: Equatable {
        case failed, badInput, cannotUnlock
    }

    let kind: Kind
    let message: String
    let hint: String?

    var description: String { message }

    static func failure(_ message: String, hint: String? = nil) -> CommandError {
        CommandError(kind: .failed, message: message, hint: hint)
    }

    static func usage(_ message: String, hint: String? = nil) -> CommandError {
        CommandError(kind: .badInput, message: message, hint: hint)
    }

    static func unlock(_ message: String, hint: String? = nil) -> CommandError {
        CommandError(kind: .cannotUnlock, message: message, hint: hint)
    }
}

/// `exec` failed before it replaced itself with the command.
struct ExecWrapperFailure: Error {
    let underlying: Error
}
