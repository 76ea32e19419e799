import ArgumentParser
import Foundation
import TokvaultExport
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

/// Options shared by `token` and `refresh`.
struct TokenOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Scopes of another resource to get a token for with the same refresh token (cached separately).",
            valueName: "scopes"))
    var scope: String?

    // Optional rather than `= 300`: ArgumentParser renders a default value through reflection
    // on every parse (and printed it a second time in the help), which `token` pays each call.
    @Option(
        name: .long,
        help: ArgumentHelp("Seconds the token must stay valid; refresh otherwise (default 300).", valueName: "seconds"))
    var minValid: Int64?

    var minValidSeconds: Int64 { minValid ?? 300 }

    func validate() throws {
        guard (0...86_400).contains(minValidSeconds) else {
            throw ValidationError("--min-valid must be between 0 and 86400 seconds")
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract:
            "Print an access token for APP (only the token, for `$(tokvault token APP)`), refreshing it when needed.",
        discussion: """
            The cached token is printed when it stays valid for --min-valid seconds; otherwise it \
            is refreshed with the stored refresh token, and the rotated refresh token is stored in \
            the same transaction. Many processes at once make a single refresh request. Exit 2 \
            means a new `tokvault login` is needed; exit 3 that the identity provider is unreachable.

            --format json prints tokvault's fields (access_token, token_type, expires_on, \
            expires_at, scope); az those of `az account get-access-token`; kubectl an \
            ExecCredential for a kubeconfig exec entry (apiVersion from $KUBERNETES_EXEC_INFO). \
            With kubectl, a needed sign-in runs on the terminal only when kubectl says the \
            plugin is interactive; otherwise nothing asks (no passphrase prompt either) and the \
            exit is 2 or 4.
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @OptionGroup var tokenOptions: TokenOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "raw (the token alone, the default), json, az (as `az account get-access-token`) or kubectl (an ExecCredential).",
            valueName: "format"))
    var format: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Send this claims challenge (JSON, or base64 as a WWW-Authenticate header gives it) with a fresh token request; the cache is not used.",
            valueName: "json"))
    var claims: String?

    @OptionGroup var vaultOptions: VaultOptions

    func validate() throws {
        if let claims { try ClaimsOption.check(claims) }
        guard let format else { return }
        guard TokenFormat(rawValue: format) != nil else {
            throw ValidationError(
                "unknown --format \(Display.printable(format)): use \(TokenFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
    }

    func run() async throws {
        let chosen = format.flatMap(TokenFormat.init(rawValue:)) ?? .raw
        let exec = chosen == .kubectl ? try ExecCredentialInfo.fromEnvironment() : nil
        // kubectl runs the plugin without a terminal of its own unless it says otherwise: then
        // nothing may ask, not even for the passphrase (kubectl would hang).
        if let exec, !exec.interactive { Terminal.disabled = true }
        // The unlock material the flags and environment name, read once: a key file may be a
        // pipe. With it, the cache hit is tried without opening the vault the usual way; any
        // other outcome goes on below, which reports it.
        let given = claims == nil ? (try? vaultOptions.materialWithoutVault()) ?? nil : nil
        // Not with a passphrase: a failed attempt would cost a second key derivation.
        if let given, given.passphrase == nil,
            let hit = TokenService.cachedWithoutOpening(
                vaultPath: vaultOptions.path, appName: name, scope: tokenOptions.scope,
                minValid: tokenOptions.minValidSeconds, material: given)
        {
            return try write(hit, format: chosen, exec: exec)
        }
        let vault = try vaultOptions.open()
        let result: TokenService.Result
        do {
            result = try await obtain(from: vault, material: given)
        } catch let error
            where exec?.interactive == true
            && Failure.report(error)?.exitCode == Failure.Exit.loginRequired
        {
            Diagnostics.note("\(Failure.report(error)?.message ?? "login required"); signing in on the terminal")
            try signInOnTerminal(vault)
            result = try await obtain(from: vault)
        }
        try write(result, format: chosen, exec: exec)
    }

    private func write(_ result: TokenService.Result, format chosen: TokenFormat, exec: ExecCredentialInfo?) throws {
        if chosen == .raw {
            // Exit 0 promises the token is on stdout: a closed or full stdout must not pass for it.
            guard Output.writeSecretLine(result.token) else { throw Self.stdoutFailure() }
            return
        }
        let scopeKey = TokenService.scopeKey(tokenOptions.scope, app: result.app)
        let output = TokenOutput(
            token: result.token, tokenType: result.record.tokenType, expiresAt: result.record.expiresAt,
            scope: result.record.grantedScope ?? (scopeKey.isEmpty ? result.app.scope : scopeKey),
            tenant: result.app.tenant)
        let rendered = try output.render(chosen, execCredentialVersion: exec?.apiVersion ?? "")
        guard rendered.withUnsafeBytes({ Output.writeFully(1, $0) }) else { throw Self.stdoutFailure() }
    }

    private func obtain(from vault: Vault, material given: UnlockMaterial? = nil) async throws -> TokenService.Result {
        let material = try given ?? vaultOptions.material(for: vault)
        return try await TokenService(vault: vault).accessToken(
            appName: name, scope: tokenOptions.scope, minValid: tokenOptions.minValidSeconds, force: false,
            material: material, claims: try claims.map { try ClaimsRequest.parse($0) })
    }

    /// kubectl's interactive case: `tokvault login APP` on the terminal, its output on stderr
    /// (stdout belongs to the ExecCredential), with this command's vault and unlock flags.
    private func signInOnTerminal(_ vault: Vault) throws {
        let login = Process()
        login.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        login.arguments =
            ["login", name, "--vault", vault.path] + vaultOptions.keyFile.flatMap { ["--key-file", $0] }
            + (vaultOptions.passphraseFile.map { ["--passphrase-file", $0] } ?? [])
        login.standardOutput = FileHandle.standardError
        try login.run()
        login.waitUntilExit()
        guard login.terminationReason == .exit, login.terminationStatus == 0 else {
            throw ExitCode(login.terminationReason == .exit ? login.terminationStatus : 128 + login.terminationStatus)
        }
    }

    private static func stdoutFailure() -> CommandError {
        CommandError.failure("cannot write the token to standard output: \(String(cString: strerror(errno)))")
    }
}

struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Refresh APP's tokens now (rotating the refresh token), and print when the new access token expires.")

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Option(
        name: .long,
        help: ArgumentHelp("Refresh the token of another resource (see `token --scope`).", valueName: "scopes"))
    var scope: String?

    @OptionGroup var vaultOptions: VaultOptions

    func run() async throws {
        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault)
        let result = try await TokenService(vault: vault).accessToken(
            appName: name, scope: scope, minValid: 0, force: true, material: material)
        print(
            "Refreshed \(name): access token valid until \(Output.isoTime(result.record.expiresAt)) (\(Output.relative(result.record.expiresAt)))"
                + (result.refreshed ? "" : ", obtained by another tokvault process just now"))
    }
}

struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout",
        abstract: "Delete APP's refresh token, ID token and cached access tokens (the registration stays).")

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let app = try vault.app(named: name)
        let removed = try vault.logout(app)
        print(removed ? "Logged out of \(name): its tokens were deleted from \(vault.path)." : "\(name) had no tokens.")
    }
}
