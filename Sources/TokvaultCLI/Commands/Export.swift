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

    @Flag(name: .long, help: "Also export the client secret and the refresh token.")
    var withSecrets = false

    @Option(name: .long, help: ArgumentHelp("Prefix for every default variable name (e.g. ADME_).", valueName: "prefix"))
    var prefix: String = ""

    @Option(name: .customLong("var"), help: ArgumentHelp("Rename a field: NAME=FIELD (repeatable).", valueName: "NAME=FIELD"))
    var renames: [String] = []

    @Option(name: .long, help: ArgumentHelp("Export only these fields (repeatable).", valueName: "field"))
    var only: [String] = []

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
        let format = try resolvedFormat
        var naming = ExportNaming()
        naming.prefix = prefix
        naming.withSecrets = withSecrets
        for spec in renames { try naming.addRename(spec) }
        if !only.isEmpty {
            naming.only = try only.map { field in
                guard let f = ExportField(rawValue: field) else {
                    throw VaultError.usage("unknown field \"\(AppSpec.printable(field))\"",
                                           hint: "fields: \(ExportField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return f
            }
        }
        let selected = try naming.selected()

        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault)
        let app = try vault.app(named: name)
        var token: TokenService.Result?
        if selected.contains(where: { [.accessToken, .expiresOn, .expiresAt, .tokenType, .scope].contains($0.field) }) {
            token = try await TokenService(vault: vault).accessToken(
                appName: name, scope: tokenOptions.scope, minValid: tokenOptions.minValid, force: false, material: material)
        }
        var secrets: (client: SecureBytes?, refresh: SecureBytes?) = (nil, nil)
        if selected.contains(where: \.field.isSecret) {
            let key = try vault.unlock(material)
            secrets = (try vault.clientSecret(of: app, key: key), try vault.refreshToken(of: app, key: key))
        }
        var variables: [ExportVariable] = []
        for (field, variable) in selected {
            switch field {
            case .tenant: if let t = app.tenant { variables.append(.init(name: variable, text: t)) }
            case .clientID: variables.append(.init(name: variable, text: app.clientID))
            case .tokenEndpoint: variables.append(.init(name: variable, text: app.tokenEndpoint))
            case .accessToken: if let token { variables.append(.init(name: variable, value: token.token, isSecret: true)) }
            case .expiresOn: if let token { variables.append(.init(name: variable, text: String(token.record.expiresAt))) }
            case .expiresAt: if let token { variables.append(.init(name: variable, text: Output.isoTime(token.record.expiresAt))) }
            case .tokenType: if let token { variables.append(.init(name: variable, text: token.record.tokenType)) }
            case .scope: if let token { variables.append(.init(name: variable, text: token.record.grantedScope ?? app.scope)) }
            case .clientSecret:
                guard let s = secrets.client else {
                    throw VaultError.failure("app \"\(name)\" has no client secret to export", hint: "drop client_secret, or store one with `tokvault set \(name) --secret-prompt`")
                }
                variables.append(.init(name: variable, value: s, isSecret: true))
            case .refreshToken:
                guard let r = secrets.refresh else {
                    throw VaultError(exitCode: VaultError.Code.loginRequired, "app \"\(name)\" has no refresh token to export", hint: "run `tokvault login \(name)`")
                }
                variables.append(.init(name: variable, value: r, isSecret: true))
            }
        }
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

/// Where exported secrets go.
enum ExportOutput {
    static func writeStdout(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
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
