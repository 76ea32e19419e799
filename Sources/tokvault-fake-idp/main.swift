// tokvault-fake-idp: the fake Microsoft identity platform v2, standalone on 127.0.0.1.
// Prints exactly one line, "listening on http://127.0.0.1:PORT", then serves until SIGTERM/SIGINT.

import Foundation
import TokvaultFakeIdP

let usage = """
    usage: tokvault-fake-idp [--port N] [--tenant TID]
                             [--client-id ID --client-secret-file FILE]... [--public-client ID]...
                             [--redirect-uri URI]... [--access-token-lifetime S] [--code-lifetime S]
                             [--refresh-token-lifetime S] [--user USERNAME] [--always-refresh-token] [--log]

      --port N                    port on 127.0.0.1 (default 0: ephemeral)
      --tenant TID                tenant id (default 00000000-0000-0000-0000-0000000000aa)
      --client-id ID              a confidential client; its secret is read from the next
      --client-secret-file FILE   option's file (one trailing newline stripped)
      --public-client ID          a public client (no secret)
      --redirect-uri URI          registered for every client (repeatable; default http://localhost:8080;
                                  loopback URIs match any port at the authorize endpoint)
      --access-token-lifetime S   expires_in (default 3600)
      --code-lifetime S           authorization code lifetime (default 600)
      --refresh-token-lifetime S  refresh token lifetime (default 7776000)
      --user USERNAME             preferred_username of the user every sign-in approves as
      --always-refresh-token      issue a refresh token even without offline_access
      --log                       log "METHOD /path STATUS" per request to stderr

    With no client option, one public client is registered: \(FakeClient.defaultPublic.clientID).
    Control endpoints: POST /_fake/fault, POST /_fake/deny, GET /_fake/stats (see the library docs).

    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("tokvault-fake-idp: \(message)\n".utf8))
    exit(status)
}

/// Parses the command line into a configuration (exits 2 on a usage error).
func parseArguments(_ arguments: [String]) -> FakeIdPConfiguration {
    var configuration = FakeIdPConfiguration(clients: [])
    var clients: [(id: String, secret: String?)] = []
    var redirectURIs: [String] = []
    var pendingClientID: String?
    var logRequests = false

    var index = 0
    func nextValue(_ option: String) -> String {
        index += 1
        guard index < arguments.count else { fail("\(option) needs a value") }
        return arguments[index]
    }
    func intValue(_ option: String, _ text: String) -> Int {
        guard let value = Int(text), value >= 0 else { fail("\(option): not a non-negative number: \(text)") }
        return value
    }

    while index < arguments.count {
        var option = arguments[index]
        var inline: String?
        if option.hasPrefix("--"), let eq = option.firstIndex(of: "=") {
            inline = String(option[option.index(after: eq)...])
            option = String(option[..<eq])
        }
        func value() -> String { inline ?? nextValue(option) }
        switch option {
        case "-h", "--help":
            print(usage, terminator: "")
            exit(0)
        case "--port":
            let port = intValue(option, value())
            guard port <= 65535 else { fail("--port: out of range") }
            configuration.port = port
        case "--tenant":
            configuration.tenant = value()
        case "--client-id":
            if let pendingClientID { fail("--client-id \(pendingClientID) needs --client-secret-file (or use --public-client)") }
            pendingClientID = value()
        case "--client-secret-file":
            let path = value()
            guard let id = pendingClientID else { fail("--client-secret-file must follow --client-id") }
            guard let data = FileManager.default.contents(atPath: path), var secret = String(data: data, encoding: .utf8)
            else { fail("cannot read the secret file \(path)") }
            if secret.hasSuffix("\r\n") { secret.removeLast(2) } else if secret.hasSuffix("\n") { secret.removeLast() }
            guard !secret.isEmpty else { fail("the secret file \(path) is empty") }
            clients.append((id, secret))
            pendingClientID = nil
        case "--public-client":
            clients.append((value(), nil))
        case "--redirect-uri":
            redirectURIs.append(value())
        case "--access-token-lifetime":
            configuration.accessTokenLifetime = intValue(option, value())
        case "--code-lifetime":
            configuration.codeLifetime = intValue(option, value())
        case "--refresh-token-lifetime":
            configuration.refreshTokenLifetime = intValue(option, value())
        case "--user":
            configuration.user.username = value()
        case "--always-refresh-token":
            configuration.issueRefreshTokenWithoutOfflineAccess = true
        case "--log":
            logRequests = true
        default:
            fail("unknown option \(option)\n\(usage)")
        }
        index += 1
    }
    if let pendingClientID { fail("--client-id \(pendingClientID) needs --client-secret-file (or use --public-client)") }
    if redirectURIs.isEmpty { redirectURIs = ["http://localhost:8080"] }
    configuration.clients =
        clients.isEmpty
        ? [FakeClient(clientID: FakeClient.defaultPublic.clientID, clientSecret: nil, redirectURIs: redirectURIs)]
        : clients.map { FakeClient(clientID: $0.id, clientSecret: $0.secret, redirectURIs: redirectURIs) }
    if logRequests {
        configuration.requestLogger = { line in FileHandle.standardError.write(Data("\(line)\n".utf8)) }
    }
    return configuration
}

let configuration = parseArguments(Array(CommandLine.arguments.dropFirst()))

// Block the termination signals before any NIO thread exists, so they inherit the mask and the
// main thread receives them through sigwait.
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGINT)
sigaddset(&signals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &signals, nil)

let provider = FakeIdentityProvider(configuration)
let port: Int
do {
    port = try provider.start()
} catch {
    fail("cannot listen on 127.0.0.1:\(configuration.port): \(error)", status: 1)
}
FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(port)\n".utf8))

var received: Int32 = 0
while sigwait(&signals, &received) != 0 {}
provider.stop()
exit(0)
