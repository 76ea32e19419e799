import ArgumentParser
import Foundation
import TokvaultFlow
import TokvaultVault

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve APP's tokens on a local managed-identity endpoint (Azure App Service protocol).",
        discussion: """
            Azure SDKs (ManagedIdentityCredential, and so DefaultAzureCredential) get their tokens \
            from the endpoint when IDENTITY_ENDPOINT and IDENTITY_HEADER are set. Once it listens, \
            serve prints exactly those two variables as shell assignments on stdout (messages go \
            to stderr), and answers until SIGTERM or SIGINT:
              tokvault serve adme >mi.env &
              . ./mi.env; python3 deploy.py
            It listens on 127.0.0.1 only, and answers only requests that carry the header (a new \
            random secret each start) with Host 127.0.0.1:PORT. A request for resource R gets a \
            token for the app's own scope when R is its resource, and for R/.default (R as the \
            scope on other providers) when --resource lists R; other resources are refused. The \
            vault is unlocked once at start and its key kept in guarded memory until the process \
            ends. See also `tokvault exec APP --managed-identity -- CMD`.
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Option(name: .long, help: ArgumentHelp("Port on 127.0.0.1 (0, the default: a free one).", valueName: "port"))
    var port: Int = 0

    @Option(
        name: .customLong("resource"),
        help: ArgumentHelp(
            "Also serve tokens for this resource, e.g. https://management.azure.com (repeatable).",
            valueName: "resource"))
    var resources: [String] = []

    @OptionGroup var vaultOptions: VaultOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
    }

    func run() async throws {
        let server = try ManagedIdentityServer.start(
            appName: name, resources: resources, port: port, vaultOptions: vaultOptions)
        defer { server.endpoint.close() }
        // After the start: a passphrase prompt installs its own SIGINT handling while it reads.
        let stop = AsyncStream<Int32>.makeStream()
        try SignalEvents.deliver([SIGINT, SIGTERM, SIGHUP]) { sig, _ in stop.continuation.yield(sig) }
        var lines = ""
        for (variable, value) in server.variables { lines += "\(variable)=\(value); export \(variable);\n" }
        guard Array(lines.utf8).withUnsafeBytes({ Output.writeFully(1, $0) }) else {
            throw CommandError.failure(
                "cannot write the endpoint's variables to standard output: \(String(cString: strerror(errno)))")
        }
        // Nothing else goes to stdout: a reader waiting for its end (a pipe) gets it now.
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if null >= 0 {
            dup2(null, 1)
            close(null)
        }
        Diagnostics.note(
            "serving app \"\(name)\" at \(server.endpoint.url) until SIGTERM or SIGINT"
                + (resources.isEmpty ? "" : " (also for \(resources.joined(separator: ", ")))"))
        for await _ in stop.stream { break }
        Diagnostics.note("stopped serving app \"\(name)\"")
    }
}
