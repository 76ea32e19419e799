import Foundation
import Testing
import TokvaultFakeIdP

@testable import TokvaultExport
@testable import TokvaultVault

/// `token --format raw|json|az|kubectl`: each parsed by what reads it.
@Suite("token --format")
struct TokenFormatTests {
    static let httpsServer: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Support/https-api-server.py").path

    /// A client-credentials app with a token from the fake provider.
    static func clientApp() throws -> ProviderSetup {
        let client = FakeClient(clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret)
        let s = try ProviderSetup(client: client)
        let add = s.addApp(["--flow", "client-credentials", "--secret-stdin"], stdin: ProviderSetup.clientSecret + "\n")
        #expect(add.status == 0, "\(add)")
        return s
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    @Test func jsonAzAndKubectlCarryTheSameTokenAsRaw() throws {
        let s = try Self.clientApp()
        defer { s.idp.stop() }
        let raw = s.cli.run(["token", "deploy"] + s.key)
        try #require(raw.status == 0, "\(raw)")
        let token = raw.stdout.trimmingCharacters(in: .newlines)
        #expect(s.idp.accessTokenInfo(token) != nil)

        let json = s.cli.run(["token", "deploy", "--format", "json"] + s.key)
        #expect(json.status == 0, "\(json)")
        let own = try Self.object(json.stdout)
        #expect(own["access_token"] as? String == token)
        #expect(own["token_type"] as? String == "Bearer")
        let expiresOn = try #require(own["expires_on"] as? Int)
        #expect(own["expires_at"] as? String == Timestamp.iso8601(Int64(expiresOn)))
        #expect(own["scope"] as? String == ProviderSetup.clientID + "/.default")

        // az prints local time; compared with Foundation's own formatting of that zone.
        let az = s.cli.run(["token", "deploy", "--format", "az"] + s.key, env: ["TZ": "Asia/Kolkata"])
        #expect(az.status == 0, "\(az)")
        let fields = try Self.object(az.stdout)
        #expect(fields["accessToken"] as? String == token)
        #expect(fields["tokenType"] as? String == "Bearer")
        #expect(fields["expires_on"] as? Int == expiresOn)
        #expect(fields["tenant"] as? String == FakeIdPConfiguration(clients: []).tenant)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Kolkata")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        #expect(
            fields["expiresOn"] as? String
                == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(expiresOn))))
        // As scripts written against az read it.
        let parsed = runToEnd(
            "/usr/bin/python3",
            [
                "-c",
                "import json,sys,datetime; d=json.load(sys.stdin); "
                    + "datetime.datetime.strptime(d['expiresOn'], '%Y-%m-%d %H:%M:%S.%f'); "
                    + "assert isinstance(d['expires_on'], int) and d['tokenType'] == 'Bearer'; print(d['accessToken'])"
            ], stdin: Data(az.stdout.utf8))
        #expect(parsed.status == 0, "\(String(decoding: parsed.stderr, as: UTF8.self))")
        #expect(String(decoding: parsed.stdout, as: UTF8.self) == token + "\n")

        let kubectl = s.cli.run(["token", "deploy", "--format", "kubectl"] + s.key)
        #expect(kubectl.status == 0, "\(kubectl)")
        let credential = try Self.object(kubectl.stdout)
        #expect(credential["apiVersion"] as? String == "client.authentication.k8s.io/v1")
        #expect(credential["kind"] as? String == "ExecCredential")
        let status = try #require(credential["status"] as? [String: Any])
        #expect(status["token"] as? String == token)
        #expect(status["expirationTimestamp"] as? String == Timestamp.iso8601(Int64(expiresOn)))

        let beta = s.cli.run(
            ["token", "deploy", "--format", "kubectl"] + s.key,
            env: [
                "KUBERNETES_EXEC_INFO":
                    #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#
            ])
        #expect(try Self.object(beta.stdout)["apiVersion"] as? String == "client.authentication.k8s.io/v1beta1")
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1, "the formats read the cached token")
    }

    /// kubectl itself, with the exec entry the README shows, against a TLS API server stand-in.
    @Test(
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"), "kubectl is not installed"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "openssl is not installed"))
    func kubectlSendsTheTokenToTheAPIServer() throws {
        let s = try Self.clientApp()
        defer { s.idp.stop() }
        let dir = s.f.dir
        let (cert, key) = (dir.file("api-cert.pem"), dir.file("api-key.pem"))
        let made = runToEnd(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", key, "-out", cert
            ])
        try #require(made.status == 0, "\(String(decoding: made.stderr, as: UTF8.self))")
        let log = dir.file("authorization.log")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [Self.httpsServer, cert, key, log]
        let out = Pipe()
        server.standardOutput = out
        // Not the test run's stderr: a server left behind would hold the runner's pipe open.
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // SIGKILL: the test process may pass on an ignored SIGTERM.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let port = try #require(
            String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).split(separator: "\n").first)
        let kubeconfig = dir.write(
            "kubeconfig",
            """
            apiVersion: v1
            kind: Config
            clusters:
            - name: api
              cluster:
                server: https://127.0.0.1:\(port)
                certificate-authority: \(cert)
            contexts:
            - name: api
              context: {cluster: api, user: tokvault}
            current-context: api
            users:
            - name: tokvault
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: \(CLI.binary)
                  args: [token, deploy, --format, kubectl, --key-file, \(s.f.keyFile)]
                  interactiveMode: Never
            """)
        let result = CLI.exec(
            ["/usr/bin/kubectl", "--kubeconfig", kubeconfig, "get", "--raw", "/api/v1/namespaces"],
            environment: s.cli.environment)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains(#""authorized": true"#), "\(result)")
        let token = s.cli.run(["token", "deploy"] + s.key).stdout.trimmingCharacters(in: .newlines)
        let sent = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(sent.split(separator: "\n").contains { $0 == "Bearer " + token }, "the API server got: \(sent)")
    }

    /// Not interactive (kubectl's default when it has no terminal to give, and the case without
    /// KUBERNETES_EXEC_INFO): a passphrase vault without another source exits 4 at once instead
    /// of prompting, even with a terminal there.
    @Test func kubectlNotInteractiveNeverOpensTheTerminal() throws {
        let s = try Self.clientApp()
        defer { s.idp.stop() }
        let command =
            "\(shellQuoted(CLI.binary)) token deploy --format kubectl; echo \"[exit $?]\""
        let session = try TerminalSession(
            command: command,
            environment: s.cli.environment.merging([
                "KUBERNETES_EXEC_INFO":
                    #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#
            ]) { $1 }, cwd: s.f.dir.path)
        #expect(session.wait(seconds: 20) { $0.contains("[exit ") }, "\(session.text)")
        _ = session.finish(seconds: 10)
        #expect(session.text.contains("[exit 4]"), "\(session.text)")
        #expect(!session.text.contains("Passphrase for"), "it prompted: \(session.text)")
        // Without KUBERNETES_EXEC_INFO (run by hand) the same; plain `token` does ask there.
        let byHand = try TerminalSession(
            command: "\(shellQuoted(CLI.binary)) token deploy --format kubectl; echo \"[exit $?]\"",
            environment: s.cli.environment, cwd: s.f.dir.path)
        #expect(byHand.wait(seconds: 20) { $0.contains("[exit ") }, "\(byHand.text)")
        _ = byHand.finish(seconds: 10)
        #expect(byHand.text.contains("[exit 4]") && !byHand.text.contains("Passphrase for"), "\(byHand.text)")
        let asked = try TerminalSession(
            command: "\(shellQuoted(CLI.binary)) token deploy </dev/null; echo \"[exit $?]\"",
            environment: s.cli.environment, cwd: s.f.dir.path)
        #expect(asked.wait(seconds: 20) { $0.contains("Passphrase for") }, "raw did not ask: \(asked.text)")
        // Answered, so the whole prompt (terminal attributes saved, echo off, restored) runs.
        asked.type(Fixture.passphrase)
        #expect(asked.wait(seconds: 20) { $0.contains("[exit ") }, "\(asked.text)")
        _ = asked.finish(seconds: 10)
        #expect(asked.text.contains("[exit 0]"), "\(asked.text)")
        #expect(!asked.text.contains(Fixture.passphrase), "the passphrase was echoed: \(asked.text)")
    }

    /// A user app that needs a sign-in: exit 2 with the login hint, nothing on stdout.
    @Test func kubectlNotInteractiveNeedingASignInExits2() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let result = s.cli.run(["token", "adme", "--format", "kubectl", "--key-file", s.f.keyFile])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("tokvault login adme"), "\(result)")
    }

    /// Interactive: the sign-in runs (messages on stderr), then the ExecCredential is printed.
    @Test func kubectlInteractiveSignsInThenPrintsTheCredential() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let result = s.cli.run(
            ["token", "adme", "--format", "kubectl", "--key-file", s.f.keyFile],
            env: [
                "BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": "normal",
                "KUBERNETES_EXEC_INFO":
                    #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#
            ])
        #expect(result.status == 0, "\(result)")
        let credential = try Self.object(result.stdout)
        let token = try #require((credential["status"] as? [String: Any])?["token"] as? String)
        #expect(s.idp.accessTokenInfo(token) != nil)
        #expect(result.stderr.contains("signing in on the terminal"), "\(result)")
    }

    @Test(arguments: [
        ("not json", "is not an ExecCredential"),
        (#"{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}"#, "not an ExecCredential"),
        (#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}"#, "v1alpha1"),
        (#"{"kind":"ExecCredential"}"#, "(none)"),
        (#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"yes"}}"#, "is not an ExecCredential"),
        (#"{"apiVersion":"client.authentication.k8s.io/v1\u001b[31m"}"#, "which tokvault does not answer")
    ])
    func aBadExecInfoIsAUsageErrorBeforeAnythingElse(info: String, message: String) throws {
        let s = try Self.clientApp()
        defer { s.idp.stop() }
        let result = s.cli.run(
            ["token", "deploy", "--format", "kubectl"] + s.key, env: ["KUBERNETES_EXEC_INFO": info])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("KUBERNETES_EXEC_INFO") && result.stderr.contains(message), "\(result)")
        #expect(!result.stderr.contains("\u{1b}"), "a control character was echoed: \(result)")
        #expect(result.stdout.isEmpty)
        #expect(s.idp.stats.tokenRequests["client_credentials"] == nil, "a token was requested")
    }

    @Test func anUnknownFormatIsAUsageError() throws {
        let f = Fixture()
        let result = f.cli.run(["token", "x", "--format", "yaml"])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("raw, json, az, kubectl"), "\(result)")
    }

    /// The az format is for bearer tokens only; json carries any type.
    @Test func azRefusesATokenThatIsNotBearer() throws {
        let output = TokenOutput(
            token: secure("pop-token"), tokenType: "pop", expiresAt: 1_764_751_638, scope: "s", tenant: nil)
        #expect(throws: ExportError.self) { try output.render(.az) }
        let json = try output.render(.json).withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        #expect(try Self.object(json)["token_type"] as? String == "pop")
        var bearer = output
        bearer.tokenType = "bearer"
        let az = try bearer.render(.az).withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        let fields = try Self.object(az)
        #expect(fields["tokenType"] as? String == "Bearer")
        #expect(fields["tenant"] == nil, "no tenant for an app without one")
        #expect(Timestamp.iso8601(1_764_751_638) == "2025-12-03T08:47:18Z")
    }
}
