// tokvault-fake-idp: the fake Microsoft identity platform v2, standalone on 127.0.0.1.
// Prints exactly one line, "listening on http://127.0.0.1:PORT", then serves until SIGTERM/SIGINT.

import Foundation
import TokvaultFakeIdP

let usage = """
    usage: tokvault-fake-idp [--port N] [--tenant TID]
                             [--client-id ID [--client-secret-file FILE] [--client-certificate FILE]...
                              [--federated-credential ISSUER,SUBJECT[,AUDIENCE]...]...
                              [--allow-public-client-flows]]... [--public-client ID]...
                             [--redirect-uri URI]... [--access-token-lifetime S] [--code-lifetime S]
                             [--refresh-token-lifetime S] [--user USERNAME] [--always-refresh-token]
                             [--device-interval S] [--device-code-lifetime S]
                             [--device-approval manual|after:N|decline:N|never]
                             [--github-actions-token-file FILE [--github-actions-issuer URL]
                              [--github-actions-subject SUB]] [--claims-challenge JSON]
                             [--conditional-access-block] [--refresh-expires-in] [--log]

      --port N                    port on 127.0.0.1 (default 0: ephemeral)
      --tenant TID                tenant id (default 00000000-0000-0000-0000-0000000000aa)
      --client-id ID              a confidential client, configured by the options that follow it:
      --client-secret-file FILE     its secret, read from FILE (one trailing newline stripped)
      --client-certificate FILE     a PEM certificate whose key may sign client assertions (repeatable);
                                    a client needs a secret file, a certificate, a federated
                                    credential, or several
      --federated-credential ISSUER,SUBJECT[,AUDIENCE]...
                                    trusts tokens of ISSUER about SUBJECT for AUDIENCE (default
                                    api://AzureADTokenExchange) signed by the fake's workload key
                                    (GET /github-actions/idtoken, POST /_fake/federated-token) as
                                    client assertions of the client credentials grant (repeatable)
      --allow-public-client-flows   may poll the device code grant without credentials
      --public-client ID          a public client (no secret)
      --redirect-uri URI          registered for every client (repeatable; default http://localhost:8080;
                                  loopback URIs match any port at the authorize endpoint)
      --access-token-lifetime S   expires_in (default 3600)
      --code-lifetime S           authorization code lifetime (default 600)
      --refresh-token-lifetime S  refresh token lifetime (default 7776000)
      --user USERNAME             preferred_username of the user every sign-in approves as
      --always-refresh-token      issue a refresh token even without offline_access
      --device-interval S         device code polling interval (default 5)
      --device-code-lifetime S    device code lifetime (default 900)
      --device-approval POLICY    how device sign-ins get decided: manual (default: POST
                                  /_fake/device/approve or /decline), after:N (approved after N
                                  pending polls), decline:N (declined after N), never (they expire)
      --github-actions-token-file FILE
                                  serve GET /github-actions/idtoken (GitHub Actions OIDC tokens) to
                                  requests whose bearer token is FILE's content (one trailing
                                  newline stripped)
      --github-actions-issuer URL iss of those tokens (default https://token.actions.githubusercontent.com)
      --github-actions-subject S  sub of those tokens (default repo:contoso/deploy:ref:refs/heads/main)
      --claims-challenge JSON     refresh_token and authorization_code grants must send claims
                                  containing JSON, else AADSTS50076 with the challenge
      --conditional-access-block  refresh_token and authorization_code grants get AADSTS53003
      --refresh-expires-in        answers with a refresh token carry refresh_expires_in
      --log                       log "METHOD /path STATUS" per request to stderr

    With no client option, one public client is registered: \(FakeClient.defaultPublic.clientID).
    Control endpoints: POST /_fake/fault, POST /_fake/deny, GET /_fake/stats, GET /_fake/device,
    POST /_fake/device/approve|decline [user_code=...], POST /_fake/settings,
    POST /_fake/federated-token issuer=... subject=... [audience=...] (see the library docs).

    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("tokvault-fake-idp: \(message)\n".utf8))
    exit(status)
}

/// Parses the command line into a configuration (exits 2 on a usage error).
func parseArguments(_ arguments: [String]) -> FakeIdPConfiguration {
    var configuration = FakeIdPConfiguration(clients: [])
    var clients: [FakeClient] = []
    var redirectURIs: [String] = []
    /// Index in `clients` of the confidential client the per-client options apply to.
    var openClient: Int?
    var logRequests = false
    var githubActions: FakeGitHubActions?

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
    /// Ends the confidential client being configured; it must have a way to authenticate.
    func closeClient() {
        guard let open = openClient else { return }
        let client = clients[open]
        if client.isPublic {
            fail(
                "--client-id \(client.clientID) needs --client-secret-file, --client-certificate or --federated-credential (or use --public-client)"
            )
        }
        openClient = nil
    }
    func currentClient(_ option: String) -> Int {
        guard let open = openClient else { fail("\(option) must follow --client-id") }
        return open
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
            let id = value()
            closeClient()
            clients.append(FakeClient(clientID: id))
            openClient = clients.count - 1
        case "--client-secret-file":
            let path = value()
            let open = currentClient(option)
            guard clients[open].clientSecret == nil else {
                fail("--client-id \(clients[open].clientID) has two secret files")
            }
            guard let data = FileManager.default.contents(atPath: path),
                var secret = String(data: data, encoding: .utf8)
            else { fail("cannot read the secret file \(path)") }
            if secret.hasSuffix("\r\n") { secret.removeLast(2) } else if secret.hasSuffix("\n") { secret.removeLast() }
            guard !secret.isEmpty else { fail("the secret file \(path) is empty") }
            clients[open].clientSecret = secret
        case "--client-certificate":
            let path = value()
            let open = currentClient(option)
            guard let data = FileManager.default.contents(atPath: path), let pem = String(data: data, encoding: .utf8)
            else { fail("cannot read the certificate file \(path)") }
            guard !FakeClient.certificateThumbprints(pem: pem).isEmpty else {
                fail("the certificate file \(path) holds no PEM certificate")
            }
            clients[open].certificatePEMs.append(pem)
        case "--federated-credential":
            let text = value()
            let open = currentClient(option)
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
                fail("--federated-credential: expected ISSUER,SUBJECT[,AUDIENCE]..., not \(text)")
            }
            let audiences = parts.count > 2 ? Array(parts[2...]) : ["api://AzureADTokenExchange"]
            clients[open].federatedCredentials.append(
                FakeFederatedCredential(issuer: parts[0], subject: parts[1], audiences: audiences))
        case "--github-actions-token-file":
            let path = value()
            guard let data = FileManager.default.contents(atPath: path),
                var token = String(data: data, encoding: .utf8)
            else { fail("cannot read the request token file \(path)") }
            if token.hasSuffix("\r\n") { token.removeLast(2) } else if token.hasSuffix("\n") { token.removeLast() }
            guard !token.isEmpty else { fail("the request token file \(path) is empty") }
            githubActions = FakeGitHubActions(
                requestToken: token, issuer: githubActions?.issuer ?? "https://token.actions.githubusercontent.com",
                subject: githubActions?.subject ?? "repo:contoso/deploy:ref:refs/heads/main")
        case "--github-actions-issuer":
            let issuer = value()
            guard githubActions != nil else { fail("--github-actions-issuer must follow --github-actions-token-file") }
            githubActions?.issuer = issuer
        case "--github-actions-subject":
            let subject = value()
            guard githubActions != nil else { fail("--github-actions-subject must follow --github-actions-token-file") }
            githubActions?.subject = subject
        case "--claims-challenge":
            let challenge = value()
            guard (try? JSONSerialization.jsonObject(with: Data(challenge.utf8))) is [String: Any] else {
                fail("--claims-challenge: not a JSON object: \(challenge)")
            }
            configuration.claimsChallenge = challenge
        case "--conditional-access-block":
            configuration.conditionalAccessBlock = true
        case "--refresh-expires-in":
            configuration.sendRefreshExpiresIn = true
        case "--allow-public-client-flows":
            clients[currentClient(option)].allowPublicClientFlows = true
        case "--public-client":
            let id = value()
            closeClient()
            clients.append(FakeClient(clientID: id))
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
        case "--device-interval":
            configuration.deviceCodeInterval = intValue(option, value())
        case "--device-code-lifetime":
            configuration.deviceCodeLifetime = intValue(option, value())
        case "--device-approval":
            let policy = value()
            if policy == "manual" {
                configuration.deviceApproval = .manual
            } else if policy == "never" {
                configuration.deviceApproval = .never
            } else if policy.hasPrefix("after:") {
                configuration.deviceApproval = .approveAfterPolls(intValue(option, String(policy.dropFirst(6))))
            } else if policy.hasPrefix("decline:") {
                configuration.deviceApproval = .declineAfterPolls(intValue(option, String(policy.dropFirst(8))))
            } else {
                fail("--device-approval: expected manual, after:N, decline:N or never, not \(policy)")
            }
        case "--log":
            logRequests = true
        default:
            fail("unknown option \(option)\n\(usage)")
        }
        index += 1
    }
    closeClient()
    if redirectURIs.isEmpty { redirectURIs = ["http://localhost:8080"] }
    if clients.isEmpty { clients = [FakeClient(clientID: FakeClient.defaultPublic.clientID)] }
    configuration.clients = clients.map { client in
        var client = client
        client.redirectURIs = redirectURIs
        return client
    }
    configuration.githubActions = githubActions
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
