import ArgumentParser
import Foundation
import TokvaultExport
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract:
            "Print APP's variables (tenant, client id, a valid access token, …) for scripts, quoted for the consumer.",
        discussion: """
            Formats: dotenv (python-dotenv, docker compose), shell (`eval "$(tokvault export APP --shell)"`), \
            json, docker (`docker run --env-file`), github ($GITHUB_ENV; appended directly when that \
            variable is set, after ::add-mask:: lines for the secrets on stdout: do not redirect it \
            into $GITHUB_ENV, which is refused). The access token is refreshed first \
            when it has less than --min-valid seconds left. The client secret and refresh token are \
            exported only with --with-secrets. Fields: \(ExportField.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Option(name: .long, help: ArgumentHelp("dotenv, shell, json, github or docker.", valueName: "format"))
    var format: String?

    @Flag(name: .long, help: "Same as --format dotenv.")
    var env = false

    @Flag(name: .long, help: "Same as --format shell.")
    var shell = false

    @Flag(name: .long, help: "Same as --format json.")
    var json = false

    @OptionGroup var selection: ExportSelection

    @Flag(name: .long, help: "Same as --format curl.")
    var curl = false

    @Flag(
        name: .long,
        help:
            "curl format: write the secrets' values into the script where they are used (still never on curl's command line)."
    )
    var reveal = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "curl format: also call this API URL with the token (a path: below the app's --api-base), with the app's stored headers.",
            valueName: "url"))
    var url: String?

    @Option(
        name: .long,
        help: ArgumentHelp("curl format: a header for the API call, 'Name: value' (repeatable).", valueName: "header"))
    var header: [String] = []

    @Option(
        name: .long, help: ArgumentHelp("Write to FILE (mode 0600, atomically) instead of stdout.", valueName: "file"))
    var output: String?

    @Flag(
        name: .long,
        help:
            "Replace an --output file that others can read, or a symlink; write secrets into a redirected standard output that is another user's file or cannot be made private."
    )
    var force = false

    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var vaultOptions: VaultOptions

    var resolvedFormat: ExportFormat {
        get throws {
            let chosen = [env ? "dotenv" : nil, shell ? "shell" : nil, json ? "json" : nil, format].compactMap { $0 }
            guard Set(chosen).count <= 1 else { throw CommandError.usage("choose one format") }
            let name = chosen.first ?? "dotenv"
            guard let format = ExportFormat(rawValue: name) else {
                throw CommandError.usage(
                    "unknown --format \"\(Display.printable(name))\"",
                    hint: "use \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return format
        }
    }

    func run() async throws {
        if curl || format == "curl" {
            try await runCurl()
            return
        }
        let format = try resolvedFormat
        let githubEnv =
            format == .github && output == nil
            ? VaultFile.environment("GITHUB_ENV").flatMap { $0.isEmpty ? nil : $0 } : nil
        // Checked before anything is fetched or written.
        try ExportOutput.refuseRunnerFileAsStdout(app: name, output: output)
        if output == nil {
            try ExportOutput.protectStdout(hasSecrets: selection.carriesSecrets(), force: force)
        }
        let variables = try await selection.variables(app: name, tokenOptions: tokenOptions, vaultOptions: vaultOptions)
        let rendered = try format.render(variables)

        if let githubEnv {
            // The masks reach the runner before a secret is appended anywhere it could be echoed.
            let masks = ExportFormat.githubMaskCommands(variables)
            guard masks.withUnsafeBytes({ Output.writeFully(1, $0) }) else {
                throw CommandError.failure(
                    "cannot write the ::add-mask:: lines to standard output: \(String(cString: strerror(errno))); nothing was appended to $GITHUB_ENV"
                )
            }
            try ExportOutput.append(rendered, to: githubEnv)
            Diagnostics.note("appended \(variables.count) variable(s) to $GITHUB_ENV")
            return
        }
        if let output {
            try ExportOutput.replace(output, with: rendered, force: force)
            Diagnostics.note("wrote \(variables.count) variable(s) to \(output) (mode 0600)")
            return
        }
        rendered.withUnsafeBytes { ExportOutput.writeStdout(Array($0)) }
    }
}

extension Export {
    /// The curl script: secrets as $VARS, defined at the top only with --with-secrets.
    func runCurl() async throws {
        if output == nil {
            try ExportOutput.refuseRunnerFileAsStdout(app: name)
            try ExportOutput.protectStdout(hasSecrets: selection.withSecrets || reveal, force: force)
        }
        let vault = try vaultOptions.open()
        let read = try vault.app(named: name)
        let material = try vaultOptions.material(for: vault)
        var snippet = try ExportVariables(vault: vault, material: material).curlSnippet(
            for: read, withSecrets: selection.withSecrets || reveal)
        // A path is resolved against the app's API base; an absolute URL is used as given (the
        // script is the user's to read before running it).
        snippet.apiURL = try url.map {
            try RequestDefaults.resolve($0, apiBase: snippet.apiBase, anyOrigin: true, appName: read.name)
        }
        snippet.headers += header
        if selection.withSecrets || reveal {
            snippet.defineSecrets = !reveal
            snippet.revealSecrets = reveal
        }
        let rendered = try snippet.render(spelling: Failure.command(for:))
        if let output {
            try ExportOutput.replace(output, with: rendered, force: force)
            Diagnostics.note("wrote the curl script to \(output) (mode 0600)")
            return
        }
        rendered.withUnsafeBytes { ExportOutput.writeStdout(Array($0)) }
    }
}

/// Where exported secrets go.
enum ExportOutput {
    static func writeStdout(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { Output.writeAll(1, $0) }
    }

    /// `> file`: make the file private before a byte is written; a terminal gets a warning.
    /// Output with secrets is refused (unless `force`) when stdout is a regular file of
    /// another user, or one that still has group or other permission bits after fchmod
    /// (fchmod failed: an append-only file, a file system without modes, …).
    static func protectStdout(hasSecrets: Bool, force: Bool) throws {
        var st = stat()
        guard fstat(1, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFREG else {
            if isatty(1) == 1 && hasSecrets {
                Diagnostics.warning("printing secrets to the terminal; they may stay in its scrollback")
            }
            return
        }
        guard hasSecrets && !force else {
            _ = fchmod(1, 0o600)
            return
        }
        let name = stdoutName
        guard st.st_uid == geteuid() else {
            throw CommandError.failure(
                "standard output\(name) is a file owned by another user (uid \(st.st_uid)), who could read the secrets; nothing was written",
                hint:
                    "write to a file of your own (`--output FILE` creates it with mode 0600), or pass --force to write into it anyway"
            )
        }
        let changed = fchmod(1, 0o600) == 0 ? nil : String(cString: strerror(errno))
        guard fstat(1, &st) == 0 else { return }
        if st.st_mode & 0o077 != 0 {
            throw CommandError.failure(
                "standard output\(name) is readable by other users (mode \(String(st.st_mode & 0o777, radix: 8))) and could not be made private\(changed.map { " (fchmod: \($0))" } ?? ""); nothing was written",
                hint:
                    "write to a private file (`--output FILE` creates it with mode 0600), or pass --force to write into it anyway"
            )
        }
    }

    /// " (PATH)" of standard output, for messages; empty when it cannot be told.
    static var stdoutName: String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/1"),
            path.hasPrefix("/")
        else { return "" }
        return " (\(Display.printable(path)))"
    }

    /// `export … >> "$GITHUB_ENV"` (or `$GITHUB_OUTPUT`): the runner reads that file as
    /// NAME=VALUE lines, so ::add-mask:: lines written there register no mask, and the
    /// runner's error about such a line prints it, secret included. Refused, whatever the
    /// format (none of them masks anything there); `--force` does not change that.
    /// `--output "$GITHUB_ENV"` likewise: it would also replace the variables earlier steps
    /// appended.
    static func refuseRunnerFileAsStdout(app: String, output: String? = nil) throws {
        var out = stat()
        if let output {
            guard stat(output, &out) == 0 else { return }
        } else {
            guard fstat(1, &out) == 0 else { return }
        }
        for variable in ["GITHUB_ENV", "GITHUB_OUTPUT"] {
            guard let path = VaultFile.environment(variable), !path.isEmpty else { continue }
            var file = stat()
            guard stat(path, &file) == 0, file.st_dev == out.st_dev, file.st_ino == out.st_ino else { continue }
            throw CommandError.failure(
                "\(output.map { "--output \(Display.printable($0))" } ?? "standard output") is $\(variable) (\(Display.printable(path))): the runner would read the secrets from it without masking them; nothing was written",
                hint:
                    "run `tokvault export \(app) --format github` without redirecting its output: with $GITHUB_ENV set it appends the variables itself and prints the ::add-mask:: lines to the log"
            )
        }
    }

    /// Atomic replace: complete 0600 temporary file in the same directory, fsync, rename(2).
    static func replace(_ path: String, with contents: SecureBytes, force: Bool) throws {
        var st = stat()
        if lstat(path, &st) == 0 {
            if st.st_mode & S_IFMT == S_IFLNK && !force {
                throw CommandError.failure(
                    "\(path) is a symbolic link; refusing to write secrets through it",
                    hint: "pass --force to replace the link with a file")
            }
            if st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o077 != 0 && !force {
                throw CommandError.failure(
                    "\(path) is readable by other users (mode \(String(st.st_mode & 0o777, radix: 8)))",
                    hint: "remove it, or pass --force to replace it with a private file")
            }
            if st.st_mode & S_IFMT == S_IFDIR { throw CommandError.failure("\(path) is a directory") }
        }
        try SecureFile.replace(path, contents: contents)
    }

    static func append(_ contents: SecureBytes, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CommandError.failure("cannot open $GITHUB_ENV (\(path)): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_mode & S_IFMT != S_IFREG {
            // A pipe or FIFO (a runner reading it as it goes): nothing to fsync.
            guard contents.withUnsafeBytes({ Output.writeFully(fd, $0) }) else {
                throw CommandError.failure("cannot write $GITHUB_ENV (\(path)): \(String(cString: strerror(errno)))")
            }
            return
        }
        try SecureFile.writeAll(fd, contents, path: path, chmod: false)
    }
}
