// Tests of the fake identity provider: the standalone tokvault-fake-idp executable.
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPExecutableTests {
    static let binary: String = {
        if let env = ProcessInfo.processInfo.environment["TOKVAULT_FAKE_IDP_BIN"], !env.isEmpty { return env }
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("tokvault-fake-idp").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "tokvault-fake-idp"
    }()

    @Test func standaloneExecutable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let secretFile = dir.appendingPathComponent("secret").path
        try Data("bin-secret\n".utf8).write(to: URL(fileURLWithPath: secretFile))

        let (process, out, base) = try launchStandalone([
            "--port", "0", "--client-id", "app-1", "--client-secret-file", secretFile,
            "--public-client", "app-2", "--redirect-uri", "http://localhost", "--tenant", tid
        ])
        defer { if process.isRunning { process.terminate() } }

        let code = http(
            "GET",
            "\(base)/\(tid)/oauth2/v2.0/authorize?"
                + encodeForm([
                    ("client_id", "app-1"), ("response_type", "code"), ("redirect_uri", "http://localhost:9999"),
                    ("scope", "offline_access User.Read"), ("code_challenge", challenge),
                    ("code_challenge_method", "S256")
                ]))
        let codeValue = try #require(queryItems(code.header("location") ?? "")["code"], "\(code)")
        let token = http(
            "POST", "\(base)/organizations/oauth2/v2.0/token",
            form: [
                ("grant_type", "authorization_code"), ("code", codeValue), ("redirect_uri", "http://localhost:9999"),
                ("code_verifier", verifier)
            ], headers: [basicHeader("app-1", "bin-secret")])
        #expect(token.status == 200, "\(token)")
        #expect(http("GET", "\(base)/_fake/stats").json["tokens_issued"] as? Int == 1)

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        #expect(rest.isEmpty, "stdout must carry exactly one line")
    }

    @Test func standaloneExecutableFederatedCredentialAndGitHubActions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("request-token").path
        try Data("gh-request\n".utf8).write(to: URL(fileURLWithPath: tokenFile))

        let (process, _, base) = try launchStandalone([
            "--client-id", "fed-app", "--federated-credential",
            "https://token.actions.githubusercontent.com,repo:contoso/deploy:ref:refs/heads/main",
            "--github-actions-token-file", tokenFile, "--claims-challenge",
            #"{"access_token":{"acrs":{"value":"c1"}}}"#,
            "--refresh-expires-in", "--tenant", tid
        ])
        defer { if process.isRunning { process.terminate() } }

        let idToken = http(
            "GET", "\(base)/github-actions/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange",
            headers: ["Authorization: bearer gh-request"])
        let value = try #require(idToken.json["value"] as? String, "\(idToken)")
        let token = http(
            "POST", "\(base)/\(tid)/oauth2/v2.0/token",
            form: [
                ("grant_type", "client_credentials"), ("client_id", "fed-app"), ("scope", "api://x/.default"),
                ("client_assertion_type", jwtBearer), ("client_assertion", value)
            ])
        #expect(token.status == 200, "\(token)")
        let settings = http("POST", "\(base)/_fake/settings").json
        #expect(settings["claims_challenge"] as? String == #"{"access_token":{"acrs":{"value":"c1"}}}"#)
        #expect(settings["send_refresh_expires_in"] as? Bool == true)
        #expect(settings["conditional_access_block"] as? Bool == false)
        let stats = http("GET", "\(base)/_fake/stats").json
        #expect(stats["federated_grants"] as? Int == 1 && stats["github_token_requests"] as? Int == 1)
    }

    @Test func standaloneExecutableRejectsBadArguments() {
        let missing = runToEnd(Self.binary, ["--client-id", "x"])
        #expect(missing.status == 2)
        let unknown = runToEnd(Self.binary, ["--bogus"])
        #expect(unknown.status == 2 && unknown.stdout.isEmpty)
    }

    /// Starts the standalone binary and returns it, its stdout and its base URL from the first stdout line.
    private func launchStandalone(_ arguments: [String]) throws -> (process: Process, stdout: Pipe, base: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(10)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let base = text.wholeMatch(of: /listening on (http:\/\/127\.0\.0\.1:\d+)\n/).map({ String($0.1) }) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "first line: \(text)"])
        }
        return (process, out, base)
    }

    @Test func standaloneExecutableCertificatesAndDeviceFlow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let certificateFile = dir.appendingPathComponent("app.pem").path
        try Data(TestCertificate.shared.certificatePEM.utf8).write(to: URL(fileURLWithPath: certificateFile))

        let (process, _, base) = try launchStandalone([
            "--tenant", tid, "--client-id", "app-cert", "--client-certificate", certificateFile,
            "--allow-public-client-flows", "--public-client", "app-public", "--device-interval", "0",
            "--device-code-lifetime", "120", "--device-approval", "after:1"
        ])
        defer { if process.isRunning { process.terminate() } }

        let tokenURL = "\(base)/\(tid)/oauth2/v2.0/token"
        let assertion = try makeAssertion(claims: assertionClaims(audience: tokenURL, client: "app-cert"))
        let credentials = http(
            "POST", tokenURL,
            form: [
                ("grant_type", "client_credentials"), ("client_id", "app-cert"),
                ("scope", "api://x/.default")
            ] + assertionForm(assertion))
        #expect(credentials.status == 200, "\(credentials)")

        let device = http(
            "POST", "\(base)/\(tid)/oauth2/v2.0/devicecode",
            form: [("client_id", "app-cert"), ("scope", "offline_access User.Read")]
        ).json
        #expect(device["expires_in"] as? Int == 120 && device["interval"] as? Int == 0)
        let deviceCode = try #require(device["device_code"] as? String)
        let poll: [(String, String)] = [
            ("grant_type", deviceGrant), ("client_id", "app-cert"), ("device_code", deviceCode)
        ]
        // No credentials needed (--allow-public-client-flows); approved after one pending poll.
        expectAzureError(http("POST", tokenURL, form: poll), status: 400, error: "authorization_pending", code: 70016)
        let tokens = http("POST", tokenURL, form: poll)
        #expect(tokens.status == 200 && tokens.json["refresh_token"] is String, "\(tokens)")
        let stats = http("GET", "\(base)/_fake/stats").json
        #expect(stats["assertions_accepted"] as? Int == 1 && stats["device_polls"] as? Int == 2)
        #expect((stats["last_assertion_header"] as? [String: String])?["alg"] == "PS256")

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }

    @Test func standaloneExecutableRejectsBadClientAndDeviceOptions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fake-idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let notPEM = dir.appendingPathComponent("not.pem").path
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: notPEM))
        let cases: [[String]] = [
            ["--client-certificate", notPEM],
            ["--client-id", "x", "--client-certificate", dir.appendingPathComponent("missing.pem").path],
            ["--client-id", "x", "--client-certificate", notPEM],
            ["--allow-public-client-flows"],
            ["--public-client", "p", "--allow-public-client-flows"],
            ["--client-id", "x", "--allow-public-client-flows"],
            ["--device-approval", "sometimes"],
            ["--device-approval", "after:-1"],
            ["--device-interval", "soon"]
        ]
        for arguments in cases {
            let result = runToEnd(Self.binary, arguments)
            #expect(result.status == 2 && result.stdout.isEmpty, "\(arguments)")
        }
    }
}
