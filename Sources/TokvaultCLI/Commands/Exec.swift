import ArgumentParser
import CTokvault
import Foundation
import TokvaultExport
import TokvaultVault

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command with APP's variables in its environment (nothing written to disk).",
        discussion: """
            tokvault replaces itself with the command (execve), so the command's exit status and \
            signals are its own. The command does not inherit tokvault's unlock variables, umask, \
            core-dump limit or signal settings, nor any of its files, and it gets a session keyring \
            of its own (--keep-session-keyring to share tokvault's). Like env(1), exit 125 means \
            tokvault failed, 126 that the command could not be run, 127 that it was not found.
              tokvault exec adme -- az rest --url …
              tokvault exec adme --prefix ADME_ -- ./deploy.sh

            With --managed-identity, tokvault does not replace itself: it serves APP's tokens on a \
            managed-identity endpoint (see `tokvault serve`) for exactly as long as the command \
            runs, and the command gets IDENTITY_ENDPOINT and IDENTITY_HEADER instead of the app's \
            variables (and no IDENTITY_SERVER_THUMBPRINT, IMDS_ENDPOINT, MSI_ENDPOINT or MSI_SECRET, \
            which would send an Azure SDK elsewhere). Signals are passed on to the command, and \
            tokvault exits with its status (128+N when signal N ended it).
              tokvault exec adme --managed-identity -- python3 deploy.py
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @OptionGroup var selection: ExportSelection
    @OptionGroup var tokenOptions: TokenOptions

    @Flag(
        name: .long,
        help: """
            Let the command share tokvault's session keyring. By default it gets a new, empty one, \
            so it cannot read the keys of the caller's session.
            """)
    var keepSessionKeyring = false
    @Flag(
        name: .long,
        help: "Run the command with a managed-identity endpoint for APP instead of APP's variables.")
    var managedIdentity = false

    @Option(
        name: .customLong("resource"),
        help: ArgumentHelp(
            "With --managed-identity: also serve this resource (repeatable; see `tokvault serve`).",
            valueName: "resource"))
    var resources: [String] = []

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    /// Set in the child: the app ids of the exec chain, to refuse nesting for the same app.
    static let marker = "TOKVAULT_EXEC_APPS"

    func validate() throws {
        if command.isEmpty {
            throw ValidationError("give the command to run after --, e.g. `tokvault exec \(name) -- env`")
        }
        if !resources.isEmpty && !managedIdentity {
            throw ValidationError("--resource is for --managed-identity; to choose the token's scope, use --scope")
        }
        if managedIdentity
            && (selection.withSecrets || !selection.prefix.isEmpty || !selection.renames.isEmpty
                || !selection.only.isEmpty || tokenOptions.scope != nil || tokenOptions.minValid != nil)
        {
            throw ValidationError(
                "--managed-identity passes no app variables, so --with-secrets, --prefix, --var, --only, --scope and --min-valid do not apply; drop them (or drop --managed-identity)"
            )
        }
    }

    func run() async throws {
        do {
            try await execute()
        } catch let error where Failure.report(error) != nil {
            // env(1)'s convention: 125 when the wrapper itself fails.
            throw ExecWrapperFailure(underlying: error)
        }
    }

    private func execute() async throws {
        let chain = (VaultFile.environment(Self.marker) ?? "").split(separator: ",").map(String.init)
        if chain.contains(name) {
            throw CommandError.usage(
                "already inside `tokvault exec \(name)`; refusing to nest it",
                hint: "the variables are already in this environment")
        }
        if managedIdentity { throw ExitCode(try await runWithEndpoint(chain: chain)) }
        let variables = try await selection.variables(app: name, tokenOptions: tokenOptions, vaultOptions: vaultOptions)

        // The vault's unlock secrets stay with tokvault.
        var environment = VaultOptions.environmentWithoutUnlockVariables
        for variable in variables {
            let value = try variable.value.withUnsafeBytes { bytes -> String in
                guard !bytes.contains(0), let text = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
                else {
                    throw CommandError.failure(
                        "cannot pass \(variable.name) in the environment: its value is not text without NUL bytes")
                }
                return text
            }
            environment[variable.name] = value
        }
        environment[Self.marker] = (chain + [name]).joined(separator: ",")

        guard let path = VaultOptions.executable(named: command[0]) else {
            Diagnostics.error("\(command[0]): command not found")
            throw ExitCode(127)
        }
        // Hand back what tokvault changed for itself.
        umask(Entry.originalUmask)
        var core = Entry.originalCoreLimit
        setrlimit(Int32(RLIMIT_CORE.rawValue), &core)
        tokvault_reset_signals(&Entry.originalIgnoredSignals)
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)

        // On this thread, right before execve: credentials, the session keyring among them, are
        // per thread, and execve keeps the calling thread's.
        if !keepSessionKeyring { try Self.isolateSessionKeyring() }
        Self.closeOnExecAll()
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve(path, argv, envp)
        let reason = String(cString: strerror(errno))
        Diagnostics.error("cannot run \(command[0]): \(reason)")
        throw ExitCode(errno == ENOENT ? 127 : 126)
    }

    /// `--managed-identity`: the endpoint, the command as a child, its exit status.
    private func runWithEndpoint(chain: [String]) async throws -> Int32 {
        let server = try ManagedIdentityServer.start(
            appName: name, resources: resources, port: 0, vaultOptions: vaultOptions)
        defer { server.endpoint.close() }
        var environment = VaultOptions.environmentWithoutUnlockVariables
        for variable in ManagedIdentityServer.reroutingVariables { environment[variable] = nil }
        for (variable, value) in server.variables { environment[variable] = value }
        environment[Self.marker] = (chain + [name]).joined(separator: ",")
        guard let path = VaultOptions.executable(named: command[0]) else {
            Diagnostics.error("\(command[0]): command not found")
            return 127
        }
        return try await ChildProcess.run(
            path: path, arguments: command, environment: environment, isolateKeyring: !keepSessionKeyring)
    }

    /// Gives the calling thread (and so the command) a new, empty session keyring. Where the
    /// kernel refuses keyring calls altogether there is no key to keep from the command.
    static func isolateSessionKeyring() throws {
        do {
            try KernelKeyring.joinAnonymousSession()
        } catch let refusal as KernelKeyring.Refusal {
            guard ![ENOSYS, EPERM].contains(refusal.errno) else { return }
            throw CommandError.failure(
                "cannot give the command a session keyring of its own: \(refusal)",
                hint: "pass --keep-session-keyring to let it share tokvault's")
        }
    }

    /// Marks every descriptor above stderr close-on-exec: runtime and library descriptors
    /// (event queues, random devices) must not reach the child.
    static func closeOnExecAll() {
        var fds: [Int32] = []
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            fds = entries.compactMap { Int32($0) }
        } else {
            fds = Array(3..<1024)
        }
        for fd in fds where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}
