import Foundation
import Testing
import TokvaultFakeIdP

@testable import TokvaultFlow

/// `serve` and `exec --managed-identity`: Azure App Service's managed-identity protocol, spoken
/// to azure-identity from PyPI and to hostile local clients.
@Suite("managed-identity endpoint")
struct ManagedIdentityTests {
    static let management = "https://management.azure.com"
    /// azure-identity is required in CI (.ci/run installs it); elsewhere its tests say it is missing.
    static let azureIdentityRequired = azureIdentityPython != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// What azure-identity's credential `kind` got for `scope` with `environment`.
    static func sdkToken(_ kind: String, _ scope: String, environment: [String: String]) throws -> [String: Any] {
        let python = try #require(azureIdentityPython, "azure-identity is not installed")
        let run = runToEnd(python, [azureIdentityClient, kind, scope], environment: environment)
        let text = String(decoding: run.stdout, as: UTF8.self)
        return try #require(
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            "\(kind): \(text) \(String(decoding: run.stderr, as: UTF8.self))")
    }

    /// The environment of an SDK process: the test's own (for python's paths) and the endpoint.
    static func sdkEnvironment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AZURE_") }
        for name in ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"] {
            environment[name] = nil
        }
        return environment.merging(extra) { $1 }
    }

    @Test(
        .enabled(if: azureIdentityRequired, "azure-identity is not installed (python3 -m pip install azure-identity)"))
    func azureIdentityGetsTokensThroughServe() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        let served = try ServingEndpoint(s.cli, ["deploy", "--resource", Self.management] + s.key)
        #expect(served.endpoint.hasPrefix("http://127.0.0.1:") && served.endpoint.hasSuffix("/msi/token"))
        #expect(served.header.utf8.count == 43, "32 random bytes, base64url: \(served.header)")
        let environment = Self.sdkEnvironment(served.environment)
        let own = ProviderSetup.clientID + "/.default"
        for kind in ["mi", "default"] {
            let answer = try Self.sdkToken(kind, own, environment: environment)
            let token = try #require(answer["token"] as? String, "\(kind): \(answer)")
            #expect(s.idp.accessTokenInfo(token)?.scope == own, "\(kind)")
            let expiresOn = try #require(answer["expires_on"] as? Int)
            #expect(abs(expiresOn - Int(Date().timeIntervalSince1970) - 3600) < 120, "\(kind): \(expiresOn)")
            let listed = try Self.sdkToken(kind, Self.management + "/.default", environment: environment)
            let managementToken = try #require(listed["token"] as? String, "\(kind): \(listed)")
            #expect(s.idp.accessTokenInfo(managementToken)?.scope == Self.management + "/.default", "\(kind)")
        }
        // The token the endpoint gave for the app's own resource is the one `token` has cached.
        let cached = s.cli.run(["token", "deploy"] + s.key).stdout.trimmingCharacters(in: .newlines)
        let again = try Self.sdkToken("mi", own, environment: environment)
        #expect(again["token"] as? String == cached)
        // One grant per resource: the second credential and `token` were answered from the cache.
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 2, "\(s.idp.stats.tokenRequests)")

        // A resource not listed: refused with App Service's message, nothing sent.
        let vault = try Self.sdkToken("mi", "https://vault.azure.net/.default", environment: environment)
        #expect(vault["token"] == nil)
        let message = vault["message"] as? String ?? ""
        #expect(message.contains("https://vault.azure.net is not served"), "\(vault)")
        #expect(message.contains("--resource"), "\(vault)")
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 2)
        // DefaultAzureCredential sends AZURE_CLIENT_ID as client_id: another app's is refused.
        var other = environment
        other["AZURE_CLIENT_ID"] = "99999999-8888-7777-6666-555555555555"
        let wrong = try Self.sdkToken("default", own, environment: other)
        #expect(wrong["token"] == nil, "\(wrong)")
        other["AZURE_CLIENT_ID"] = ProviderSetup.clientID.uppercased()
        #expect(try Self.sdkToken("default", own, environment: other)["token"] as? String == cached)

        #expect(served.stop() == 0, "\(served.process.stderr)")
        let stderr = served.process.stderr
        #expect(stderr.contains("stopped serving app \"deploy\""), "\(stderr)")
        #expect(stderr.contains("resource https://vault.azure.net: "), "\(stderr)")
        #expect(!stderr.contains(ProviderSetup.clientSecret) && !stderr.contains(cached), "\(stderr)")
        #expect(served.printed.split(separator: "\n").count == 2, "stdout: \(served.printed)")
    }

    @Test(
        .enabled(if: azureIdentityRequired, "azure-identity is not installed (python3 -m pip install azure-identity)"))
    func azureIdentityGetsTokensThroughExec() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        let python = try #require(azureIdentityPython)
        let own = ProviderSetup.clientID + "/.default"
        // The variables that would send the SDK elsewhere are set in tokvault's environment.
        let rerouting = [
            "IDENTITY_SERVER_THUMBPRINT": "00", "IMDS_ENDPOINT": "http://169.254.169.254",
            "MSI_ENDPOINT": "http://127.0.0.1:9/msi", "MSI_SECRET": "x"
        ]
        let environment = Self.sdkEnvironment(s.cli.environment).merging(rerouting) { $1 }
        for kind in ["mi", "default"] {
            let run = CLI.exec(
                ["/usr/bin/setsid", "-w", CLI.binary, "exec", "deploy", "--managed-identity"] + s.key
                    + ["--", python, azureIdentityClient, kind, own],
                environment: environment, cwd: s.f.dir.path)
            #expect(run.status == 0, "\(kind): \(run)")
            let answer = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:]
            let token = try #require(answer["token"] as? String, "\(kind): \(run)")
            #expect(s.idp.accessTokenInfo(token)?.scope == own)
        }
        // Each exec unlocks afresh, but the token is cached in the vault: one grant.
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1, "\(s.idp.stats.tokenRequests)")
    }

    /// The child's environment and descriptors, its exit status, and the endpoint's lifetime.
    @Test func execRunsTheChildWithTheEndpointAndNothingElse() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        let envFile = s.f.dir.file("child.env")
        let command = "env > \(shellQuoted(envFile)); exec ls -1 /proc/self/fd"
        let run = s.cli.run(
            ["exec", "deploy", "--managed-identity"] + s.key + ["--", "/bin/sh", "-c", command],
            env: ["MSI_ENDPOINT": "http://127.0.0.1:9/msi", "MSI_SECRET": "x", "IMDS_ENDPOINT": "http://x", "KEEP": "1"]
        )
        #expect(run.status == 0, "\(run)")
        // ls has 0-2 and the directory it reads: no listener, vault or key descriptor leaked.
        let fds = run.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(fds.count == 4 && fds.allSatisfy { $0 <= 3 }, "child descriptors: \(run.stdout)")
        let env = (try? String(contentsOfFile: envFile, encoding: .utf8)) ?? ""
        var variables: [String: String] = [:]
        for line in env.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { variables[String(parts[0])] = String(parts[1]) }
        }
        let endpoint = try #require(variables["IDENTITY_ENDPOINT"], "\(env)")
        #expect(endpoint.hasPrefix("http://127.0.0.1:") && endpoint.hasSuffix("/msi/token"))
        #expect(variables["IDENTITY_HEADER"]?.utf8.count == 43)
        #expect(variables["KEEP"] == "1")
        for name in ["MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT"] {
            #expect(variables[name] == nil, "\(name) reached the child")
        }
        // Not the app's usual export variables either: the SDK asks the endpoint.
        #expect(!variables.keys.contains { $0.contains("ACCESS_TOKEN") }, "\(env)")
        #expect(!env.contains(ProviderSetup.clientSecret))
        // The endpoint lived as long as the child: nothing listens there now.
        let port = try #require(URLComponents(string: endpoint)?.port)
        let after = RawHTTP.exchange(port: port, RawHTTP.request("GET", "/msi/token"))
        #expect(after.status == nil && after.text.hasPrefix("connect failed"), "\(after)")

        // tokvault exits with the child's status, 128+N when signal N ended it.
        let seven = s.cli.run(["exec", "deploy", "--managed-identity"] + s.key + ["--", "/bin/sh", "-c", "exit 7"])
        #expect(seven.status == 7, "\(seven)")
        let killed = s.cli.run(
            ["exec", "deploy", "--managed-identity"] + s.key + ["--", "/bin/sh", "-c", "kill -TERM $$"])
        #expect(killed.status == 128 + SIGTERM, "\(killed)")
        let missing = s.cli.run(["exec", "deploy", "--managed-identity"] + s.key + ["--", "/nonexistent/cmd"])
        #expect(missing.status == 127, "\(missing)")
        #expect(missing.stderr.contains("/nonexistent/cmd"), "\(missing)")
        // Options that belong to plain exec are refused with it, before anything runs.
        let prefixed = s.cli.run(
            ["exec", "deploy", "--managed-identity", "--prefix", "X_"] + s.key + ["--", "/bin/true"])
        #expect(prefixed.status == 64, "\(prefixed)")
        let resourceAlone = s.cli.run(["exec", "deploy", "--resource", Self.management] + s.key + ["--", "/bin/true"])
        #expect(resourceAlone.status == 64, "\(resourceAlone)")
        #expect(s.idp.stats.totalTokenRequests == 0, "no command asked for a token")
    }

    /// SIGTERM to tokvault reaches the child, which decides how it ends.
    @Test func signalsAreForwardedToTheChild() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        let script = "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.1; done"
        let live = try LiveProcess(
            [CLI.binary, "exec", "deploy", "--managed-identity"] + s.key + ["--", "/bin/sh", "-c", script],
            environment: s.cli.environment, cwd: s.f.dir.path)
        let deadline = Date().addingTimeInterval(60)
        while !live.stdout.contains("ready") && live.isRunning && Date() < deadline { usleep(20_000) }
        try #require(live.stdout.contains("ready"), "\(live.stderr)")
        kill(live.process.processIdentifier, SIGTERM)
        let status = live.finish(seconds: 20)
        #expect(status == 9, "\(live.stdout) \(live.stderr)")
        #expect(live.stdout.contains("got-term"))
    }

    /// Requests a local process (or a browser page) could make without being the SDK the header
    /// was given to: each refused with App Service's error shape and nothing sent to the provider.
    @Test func hostileRequestsAreRefusedAndNothingIsSent() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        let served = try ServingEndpoint(s.cli, ["deploy"] + s.key)
        defer { _ = served.stop() }
        let own = ProviderSetup.clientID
        let good = "/msi/token?api-version=2019-08-01&resource=\(own)"
        let host = ("Host", "127.0.0.1:\(served.port)")
        let secret = ("X-IDENTITY-HEADER", served.header)
        let wrongHeader = String(served.header.dropLast()) + (served.header.hasSuffix("A") ? "B" : "A")
        let cases: [(String, String, String, [(String, String)], Int, String)] = [
            ("missing header", "GET", good, [host], 401, "X-IDENTITY-HEADER header is missing"),
            ("wrong header", "GET", good, [host, ("X-IDENTITY-HEADER", wrongHeader)], 401, "header is wrong"),
            ("empty header", "GET", good, [host, ("X-IDENTITY-HEADER", "")], 401, "header is wrong"),
            ("two headers", "GET", good, [host, secret, secret], 401, "X-IDENTITY-HEADER"),
            ("Host localhost", "GET", good, [("Host", "localhost:\(served.port)"), secret], 400, "Host header"),
            ("Host without port", "GET", good, [("Host", "127.0.0.1"), secret], 400, "Host header"),
            ("rebinding Host", "GET", good, [("Host", "attacker.example:\(served.port)"), secret], 400, "Host"),
            ("no Host", "GET", good, [secret], 400, "Host header"),
            ("POST", "POST", good, [host, secret], 405, "only GET"),
            ("PUT", "PUT", good, [host, secret], 405, "only GET"),
            ("other path", "GET", "/metadata/identity/oauth2/token?resource=\(own)", [host, secret], 404, "/msi/token"),
            ("no api-version", "GET", "/msi/token?resource=\(own)", [host, secret], 400, "api-version"),
            (
                "2017 protocol", "GET", "/msi/token?api-version=2017-09-01&resource=\(own)", [host, secret], 400,
                "not supported"
            ),
            ("object_id", "GET", good + "&object_id=1", [host, secret], 400, "another managed identity"),
            ("principal_id", "GET", good + "&principal_id=1", [host, secret], 400, "another managed identity"),
            ("mi_res_id", "GET", good + "&mi_res_id=x", [host, secret], 400, "another managed identity"),
            ("two resources", "GET", good + "&resource=\(Self.management)", [host, secret], 400, "more than once"),
            ("no resource", "GET", "/msi/token?api-version=2019-08-01", [host, secret], 400, "resource parameter"),
            ("bad encoding", "GET", good + "%zz", [host, secret], 400, "percent-encoded"),
            (
                "unlisted resource", "GET", "/msi/token?api-version=2019-08-01&resource=\(Self.management)",
                [host, secret], 400, "is not served"
            ),
            (
                "control characters", "GET", "/msi/token?api-version=2019-08-01&resource=a%0Ab", [host, secret], 400,
                "invalid resource"
            ),
            (
                "another client_id", "GET", good + "&client_id=99999999-8888-7777-6666-555555555555", [host, secret],
                400, "is not the client id"
            ),
            ("huge target", "GET", good + "&x=" + String(repeating: "a", count: 9000), [host, secret], 414, "too long"),
            (
                "huge headers", "GET", good, [host, secret, ("X-Pad", String(repeating: "b", count: 17000))], 431,
                "too large"
            )
        ]
        for (name, method, target, headers, status, needle) in cases {
            let answer = served.send(target, method: method, headers: headers)
            #expect(answer.status == status, "\(name): \(answer)")
            #expect(answer.json["statusCode"] as? Int == status, "\(name): \(answer)")
            #expect((answer.json["message"] as? String ?? "").contains(needle), "\(name): \(answer)")
            #expect(!answer.text.contains("access_token"), "\(name): \(answer)")
        }
        // A second endpoint on the same port, and a port that does not exist.
        let taken = s.cli.run(["serve", "deploy", "--port", String(served.port)] + s.key)
        #expect(taken.status == 1 && taken.stdout.isEmpty, "\(taken)")
        #expect(taken.stderr.contains("port \(served.port) on 127.0.0.1 is already in use"), "\(taken)")
        #expect(taken.stderr.contains("--port 0 for a free one"), "\(taken)")
        let huge = s.cli.run(["serve", "deploy", "--port", "70000"] + s.key)
        #expect(huge.status == 64 && huge.stderr.contains("--port must be from 0 to 65535"), "\(huge)")
        let large = served.send(good, headers: [host, secret], body: Array(repeating: 0x61, count: 2048))
        #expect(large.status == 413, "\(large)")
        #expect(s.idp.stats.totalTokenRequests == 0, "a refused request reached the provider")
        #expect(served.process.isRunning, "a refusal ended serve: \(served.process.stderr)")
        // The endpoint still answers the SDK's request after all that.
        let answer = served.token(own)
        #expect(answer.status == 200, "\(answer)")
        let body = answer.json
        #expect(body["token_type"] as? String == "Bearer")
        #expect(body["resource"] as? String == own)
        #expect(body["client_id"] as? String == ProviderSetup.clientID)
        let expiresOn = try #require(body["expires_on"] as? String, "expires_on is a string: \(body)")
        #expect(Int(expiresOn) != nil)
        #expect(s.idp.accessTokenInfo(body["access_token"] as? String ?? "")?.isValid == true)
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1)
    }

    /// A user app: no sign-in yet is a 400 with the login hint; a login while serve runs is
    /// picked up; at expiry, concurrent requests (an SDK's retries, several clients) share one
    /// refresh, and the rotated refresh token is stored once.
    @Test func concurrentRequestsAtExpiryShareOneRefresh() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let served = try ServingEndpoint(s.cli, ["adme", "--key-file", s.f.keyFile])
        defer { _ = served.stop() }
        let own = LoginSetup.clientID
        let before = served.token(own)
        #expect(before.status == 400, "\(before)")
        let message = before.json["message"] as? String ?? ""
        #expect(message.hasPrefix("login required for app \"adme\""), "\(before)")
        #expect(message.contains("; hint: run `tokvault login adme`"), "\(before)")
        #expect(s.idp.stats.totalTokenRequests == 0)

        #expect(s.login().status == 0)
        let first = served.token(own)
        #expect(first.status == 200, "\(first)")
        #expect(s.idp.stats.tokenRequests["refresh_token"] == nil, "the login's token was served from the cache")

        try s.expireCachedToken()
        s.idp.inject(.slow(milliseconds: 1500))
        let answers = AnswerLog()
        // Threads of their own (concurrentPerform would run only as many as there are cores).
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            Thread.detachNewThread {
                answers.append(served.token(own))
                group.leave()
            }
        }
        group.wait()
        let tokens = Set(answers.all.map { $0.json["access_token"] as? String ?? "" })
        #expect(answers.all.allSatisfy { $0.status == 200 }, "\(answers.all)")
        #expect(tokens.count == 1 && s.idp.accessTokenInfo(tokens.first ?? "")?.isValid == true)
        #expect(s.idp.stats.tokenRequests["refresh_token"] == 1, "\(s.idp.stats.tokenRequests)")
        #expect(s.idp.stats.reuseDetections == 0)
        // And `token` in another process reads what serve stored: no grant either.
        #expect(s.token().stdout.trimmingCharacters(in: .newlines) == tokens.first)
        #expect(s.idp.stats.tokenRequests["refresh_token"] == 1)
        #expect(served.stop() == 0)
    }

    @Test func parametersAreFormDecodedOnceEach() throws {
        let parsed = try IdentityRequestHandler.parse(
            query: "api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F&client_id=abc")
        #expect(parsed.resource == "https://management.azure.com/")
        #expect(parsed.clientID == "abc")
        let plain = try IdentityRequestHandler.parse(
            query: "resource=https://x.example&api-version=2019-08-01&client_id=")
        #expect(plain.resource == "https://x.example" && plain.clientID == nil)
        let spaced = try IdentityRequestHandler.parse(query: "api-version=2019-08-01&resource=read+write")
        #expect(spaced.resource == "read write")
        for bad in [
            "", "resource=r", "api-version=2019-08-01", "api-version=2019-08-01&resource=",
            "api-version=2019-08-01&api-version=2019-08-01&resource=r", "api-version=2019-08-01&resource=%E0%80",
            "api-version=2019-08-01&resource=r&msi_res_id=x"
        ] {
            #expect(throws: IdentityRequestHandler.Problem.self, "\(bad)") {
                try IdentityRequestHandler.parse(query: Substring(bad))
            }
        }
    }
}

/// Answers collected from several threads.
final class AnswerLog: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [RawHTTP.Answer] = []
    func append(_ answer: RawHTTP.Answer) { lock.withLock { answers.append(answer) } }
    var all: [RawHTTP.Answer] { lock.withLock { answers } }
}
