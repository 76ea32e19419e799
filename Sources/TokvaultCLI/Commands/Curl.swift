import ArgumentParser
import CTokvault
import Foundation
import TokvaultUseCases
import TokvaultVault

struct Curl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curl",
        abstract: "Run curl with APP's access token (and its stored headers), the token on no command line.",
        // tokvault's options before APP: everything after URL is curl's.
        usage: """
            tokvault curl [--any-origin] [--scope <scopes>] [--min-valid <seconds>] [--vault <path>] \
            [--key-file <file> ...] [--passphrase-file <file>] <name> <url> [<curl-arguments> ...]
            """,
        discussion: """
            The Authorization header and the app's stored headers (`set --header`) reach curl \
            through a file descriptor (-H @/dev/fd/3), never its arguments or environment. URL \
            is an https URL (plain http only to a loopback host), or a path below the app's API \
            base (`set --api-base`); with an API base, an absolute URL at another origin is \
            refused unless --any-origin. tokvault's own options (--vault, --key-file, --scope, \
            --any-origin, …) go before APP. curl runs with -q (no ~/.curlrc) and --proto =https \
            (=http for a loopback URL); everything after URL is passed to curl as it is, and \
            tokvault exits with curl's status. When the last answer is 401 with \
            error="invalid_token" or insufficient_claims, a hint says what to run. Examples:
              tokvault set adme --api-base https://contoso.energy.azure.com --header 'data-partition-id: opendes'
              tokvault curl adme /api/storage/v2/records/opendes:wellbore:1 -sS --fail
              tokvault curl adme /api/search/v2/query -X POST -H 'Content-Type: application/json' -d @query.json
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Argument(help: "URL, or a path below the app's API base.")
    var url: String

    @Flag(name: .long, help: "Allow an absolute URL at another origin than the app's API base.")
    var anyOrigin = false

    @OptionGroup var tokenOptions: TokenOptions
    @OptionGroup var vaultOptions: VaultOptions

    @Argument(parsing: .captureForPassthrough, help: "curl options, after URL (passed on unchanged).")
    var curlArguments: [String] = []

    func run() async throws {
        let vault = try vaultOptions.open()
        // What needs nothing from the vault is checked before it is unlocked; the API base and
        // headers only once the token came, from an app whose binding was verified (an edited
        // column is never quoted or used).
        guard let curl = VaultOptions.executable(named: "curl") else {
            Diagnostics.error("curl: command not found", hint: "install curl (apt-get install curl)")
            throw ExitCode(127)
        }
        let options = try checkArguments(curl: curl)
        let material = try vaultOptions.material(for: vault)
        let result = try await TokenService(vault: vault).accessToken(
            appName: name, scope: tokenOptions.scope, minValid: tokenOptions.minValidSeconds, force: false,
            material: material)
        let (target, headers) = try request(for: result.app)
        let loopback = target.lowercased().hasPrefix("http://")
        // A path below an http loopback API base: the proxy options are refused too.
        if loopback, let options {
            try options.check(curlArguments, anyOrigin: anyOrigin, loopback: true)
        }
        guard result.record.tokenType.lowercased() == "bearer" else {
            throw CommandError.failure(
                "the token of app \"\(name)\" is of type \(Display.printable(result.record.tokenType)), not Bearer; "
                    + "tokvault curl sends Bearer tokens only")
        }
        let tokenIsClean = result.token.withUnsafeBytes { bytes in
            !bytes.isEmpty && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        }
        guard tokenIsClean else {
            throw CommandError.failure("the access token of app \"\(name)\" holds characters a header cannot carry")
        }
        let prefix = Array("Authorization: Bearer ".utf8)
        let suffix = Array(headers.map { "\n" + $0.line }.joined().utf8) + [0x0A]
        let block = SecureBytes(count: prefix.count + result.token.count + suffix.count)
        block.withUnsafeMutableBytes { out in
            result.token.withUnsafeBytes { token in
                out.copyBytes(from: prefix)
                UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: token)
                UnsafeMutableRawBufferPointer(rebasing: out[(prefix.count + token.count)...]).copyBytes(from: suffix)
            }
        }
        let headerPipe = try Self.pipe(holding: block)
        defer { close(headerPipe) }
        var dumpFDs: [Int32] = [-1, -1]
        guard tokvault_pipe(&dumpFDs, 0) == 0 else {
            throw CommandError.failure("cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        var arguments = ["curl", "-q", "--proto", loopback ? "=http" : "=https", "--proto-redir", "=https"]
        if loopback { arguments += ["--noproxy", "*"] }
        arguments += ["-H", "@/dev/fd/3", "-D", "/dev/fd/4", "--url", target] + curlArguments

        // Read while curl runs (its heads may outgrow the pipe); curl holds the only write end.
        let dump = HeaderDump(reading: dumpFDs[0])
        let status = try await ChildProcess.run(
            path: curl, arguments: arguments, environment: VaultOptions.environmentWithoutUnlockVariables,
            isolateKeyring: true, passing: [headerPipe, dumpFDs[1]], started: { close(dumpFDs[1]) })
        if let hint = ResponseHint.after(headerDump: dump.wait(), appName: name) { Diagnostics.hint(hint) }
        throw ExitCode(status)
    }

    /// curl's options as the installed curl reads them (a word that is no option or value is
    /// another URL), and an absolute URL's scheme.
    private func checkArguments(curl: String) throws -> CurlArguments? {
        if RequestDefaults.isAbsolute(url) {
            _ = try RequestDefaults.resolve(url, apiBase: nil, anyOrigin: true, appName: name)
        }
        guard !curlArguments.isEmpty else { return nil }
        let help = Process()
        help.executableURL = URL(fileURLWithPath: curl)
        help.arguments = ["-q", "--help", "all"]
        help.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let out = Pipe()
        help.standardOutput = out
        help.standardError = FileHandle.nullDevice
        try help.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        help.waitUntilExit()
        let options = CurlArguments(help: text)
        guard !options.takesValue.isEmpty else {
            throw CommandError.failure("cannot read curl's options from `\(curl) --help all`")
        }
        try options.check(curlArguments, anyOrigin: anyOrigin, loopback: url.lowercased().hasPrefix("http://"))
        return options
    }

    /// The URL and headers for `app`, or a usage error for a URL the token must not go to.
    private func request(for app: App) throws -> (String, [RequestHeader]) {
        let target = try RequestDefaults.resolve(url, apiBase: app.apiBase, anyOrigin: anyOrigin, appName: app.name)
        return (target, RequestDefaults.decode(app.requestHeaders))
    }

    /// A pipe whose read end holds `bytes` (written before curl starts: no thread of ours keeps
    /// the token around while curl runs).
    private static func pipe(holding bytes: SecureBytes) throws -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard tokvault_pipe(&fds, Int32(clamping: bytes.count)) == 0 else {
            throw CommandError.failure(
                "cannot make a pipe for the headers (\(bytes.count) bytes): \(String(cString: strerror(errno)))")
        }
        defer { close(fds[1]) }
        // Never block: a pipe smaller than asked for (a user over pipe-user-pages-soft gets
        // one page) is an error, not a hang before curl is there to read it.
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        let written = bytes.withUnsafeBytes { Output.writeFully(fds[1], $0) }
        guard written else {
            close(fds[0])
            throw CommandError.failure("the headers (\(bytes.count) bytes) do not fit in a pipe")
        }
        return fds[0]
    }
}

/// What curl writes with -D (every response head), read on a thread of its own until curl
/// closes it; capped, since only the last head matters.
private final class HeaderDump: @unchecked Sendable {
    private var bytes: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    init(reading fd: Int32) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                bytes += buffer[0..<n]
                if bytes.count > 1 << 20 { bytes.removeFirst(bytes.count - (1 << 20)) }
            }
            close(fd)
            done.signal()
        }
    }

    /// Once curl has exited, its end is closed and this returns promptly.
    func wait() -> [UInt8] {
        done.wait()
        return bytes
    }
}
