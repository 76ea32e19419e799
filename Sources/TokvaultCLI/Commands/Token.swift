import ArgumentParser
import Foundation
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
            """)

    @Argument(help: "App name.")
    var name: String

    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var vaultOptions: VaultOptions

    func run() async throws {
        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault)
        let result = try await TokenService(vault: vault).accessToken(
            appName: name, scope: tokenOptions.scope, minValid: tokenOptions.minValidSeconds, force: false,
            material: material)
        // Exit 0 promises the token is on stdout: a closed or full stdout must not pass for it.
        guard Output.writeSecretLine(result.token) else {
            throw CommandError.failure("cannot write the token to standard output: \(String(cString: strerror(errno)))")
        }
    }
}

struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Refresh APP's tokens now (rotating the refresh token), and print when the new access token expires.")

    @Argument(help: "App name.")
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

    @Argument(help: "App name.")
    var name: String

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let app = try vault.app(named: name)
        let removed = try vault.logout(app)
        print(removed ? "Logged out of \(name): its tokens were deleted from \(vault.path)." : "\(name) had no tokens.")
    }
}
