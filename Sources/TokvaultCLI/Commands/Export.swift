import ArgumentParser
import Foundation
import TokvaultExport
import TokvaultFlow
import TokvaultVault

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print APP's variables (tenant, client id, a valid access token, …) for scripts, quoted for the consumer.",
        discussion: """
        Formats: dotenv (python-dotenv, docker compose), shell (`eval "$(tokvault export APP --shell)"`), \
        json, docker (`docker run --env-file`), github ($GITHUB_ENV; appended directly when that \
        variable is set, with ::add-mask:: lines for secrets). The access token is refreshed first \
        when it has less than --min-valid seconds left. The client secret and refresh token are \
        exported only with --with-secrets. Fields: \(ExportField.allCases.map(\.rawValue).joined(separator: ", ")).
        """)

    @Argument(help: "App name.")
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

    @Flag(name: .long, help: "curl format: write the secrets' values into the script where they are used (still never on curl's command line).")
    var reveal = false

    @Option(name: .long, help: ArgumentHelp("curl format: also call this API URL with the token.", valueName: "url"))
    var url: String?

    @Option(name: .long, help: ArgumentHelp("curl format: a header for the API call, 'Name: value' (repeatable).", valueName: "header"))
    var header: [String] = []

    @Option(name: .long, help: ArgumentHelp("Write to FILE (mode 0600, atomically) instead of stdout.", valueName: "file"))
    var output: String?

    @Flag(name: .long, help: "Replace an --output file that others can read, or a symlink.")
    var force = false

    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var vaultOptions: VaultOptions

    var resolvedFormat: ExportFormat {
        get throws {
            let chosen = [env ? "dotenv" : nil, shell ? "shell" : nil, json ? "json" : nil, format].compactMap { $0 }
            guard Set(chosen).count <= 1 else { throw VaultError.usage("choose one format") }
            let name = chosen.first ?? "dotenv"
            guard let format = ExportFormat(rawValue: name) else {
                throw VaultError.usage("unknown --format \"\(AppSpec.printable(name))\"",
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
        let variables = try await selection.variables(app: name, tokenOptions: tokenOptions, vaultOptions: vaultOptions)
        let rendered = try format.render(variables)

        if format == .github, output == nil, let githubEnv = VaultFile.environment("GITHUB_ENV"), !githubEnv.isEmpty {
            try ExportOutput.append(rendered, to: githubEnv)
            for variable in variables where variable.isSecret {
                variable.value.withUnsafeBytes { bytes in
                    for line in bytes.split(separator: 0x0A) where !line.isEmpty {
                        ExportOutput.writeStdout(Array("::add-mask::".utf8) + Array(line) + [0x0A])
                    }
                }
            }
            Diagnostics.note("appended \(variables.count) variable(s) to $GITHUB_ENV")
            return
        }
        if let output {
            try ExportOutput.replace(output, with: rendered, force: force)
            Diagnostics.note("wrote \(variables.count) variable(s) to \(output) (mode 0600)")
            return
        }
        ExportOutput.protectStdout(hasSecrets: variables.contains(where: \.isSecret))
        rendered.withUnsafeBytes { ExportOutput.writeStdout(Array($0)) }
    }
}

extension Export {
    /// The curl script: secrets as $VARS, defined at the top only with --with-secrets.
    func runCurl() async throws {
        let vault = try vaultOptions.open()
        // The script sends a refresh token to the app's token endpoint: unlocked even without
        // secrets, so that the endpoint and client id it names are proven (the app's binding).
        let read = try vault.app(named: name)
        let key = try vaultOptions.unlock(vault)
        let app = try vault.reread(read)
        try vault.verifyBinding(app, key: key)
        var snippet = CurlSnippet(app: app)
        snippet.apiURL = url
        snippet.headers = header
        if selection.withSecrets || reveal {
            snippet.defineSecrets = !reveal
            snippet.revealSecrets = reveal
            snippet.clientSecret = try vault.clientSecret(of: app, key: key)
            snippet.refreshToken = try vault.refreshToken(of: app, key: key)
        }
        let rendered = try snippet.render()
        if let output {
            try ExportOutput.replace(output, with: rendered, force: force)
            Diagnostics.note("wrote the curl script to \(output) (mode 0600)")
            return
        }
        ExportOutput.protectStdout(hasSecrets: selection.withSecrets || reveal)
        rendered.withUnsafeBytes { ExportOutput.writeStdout(Array($0)) }
    }
}

/// Where exported secrets go.
enum ExportOutput {
    static func writeStdout(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { Output.writeAll(1, $0) }
    }

    /// `> file`: make the file private before a byte is written; a terminal gets a warning.
    static func protectStdout(hasSecrets: Bool) {
        var st = stat()
        guard fstat(1, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFREG {
            fchmod(1, 0o600)
        } else if isatty(1) == 1 && hasSecrets {
            Diagnostics.warning("printing secrets to the terminal; they may stay in its scrollback")
        }
    }

    /// Atomic replace: complete 0600 temporary file in the same directory, fsync, rename(2).
    static func replace(_ path: String, with contents: SecureBytes, force: Bool) throws {
        var st = stat()
        if lstat(path, &st) == 0 {
            if st.st_mode & S_IFMT == S_IFLNK && !force {
                throw VaultError.failure("\(path) is a symbolic link; refusing to write secrets through it", hint: "pass --force to replace the link with a file")
            }
            if st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o077 != 0 && !force {
                throw VaultError.failure("\(path) is readable by other users (mode \(String(st.st_mode & 0o777, radix: 8)))",
                                         hint: "remove it, or pass --force to replace it with a private file")
            }
            if st.st_mode & S_IFMT == S_IFDIR { throw VaultError.failure("\(path) is a directory") }
        }
        try SecureFile.replace(path, contents: contents)
    }

    static func append(_ contents: SecureBytes, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.failure("cannot open $GITHUB_ENV (\(path)): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try SecureFile.writeAll(fd, contents, path: path, chmod: false)
    }
}
