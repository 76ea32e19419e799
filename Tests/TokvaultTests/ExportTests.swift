import Foundation
import Testing

@testable import TokvaultExport
@testable import TokvaultUseCases
@testable import TokvaultVault

/// Every format read back by its real consumer (bash, dash, python-dotenv, Python's json) or
/// by a parser written from the consumer's documented rules (docker --env-file, $GITHUB_ENV).
@Suite("export formats")
struct ExportFormatTests {
    static let hostile: [String] = [
        "plain", "", "with space", "it's", "say \"hi\"", "$HOME", "${HOME}x", "`id`", "$(id)", "back\\slash",
        "trailing\\", "\\'", "#not a comment", "a=b=c", "multi\nline\nvalue", "tab\there", "ünïcödé ✓", "  padded  ",
        "!bang", "semi;colon", "*glob?", "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln"
    ]

    static func variables(_ values: [String]) -> [ExportVariable] {
        values.enumerated().map {
            ExportVariable(name: "V\($0.offset)", text: $0.element, isSecret: $0.offset % 2 == 0)
        }
    }

    static func write(_ bytes: SecureBytes, in dir: TempDir, _ name: String) -> String {
        dir.write(name, bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
    }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    @Test(arguments: ["/bin/bash", "/bin/dash"])
    func shellRoundTrip(_ shell: String) throws {
        let dir = TempDir()
        let file = Self.write(try ExportFormat.shell.render(Self.variables(Self.hostile)), in: dir, "vars.sh")
        for (index, value) in Self.hostile.enumerated() {
            let r = CLI.exec(
                [shell, "-c", "eval \"$(cat \"$0\")\"; printf '%s' \"$V\(index)\"", file], environment: Self.environment
            )
            #expect(r.status == 0, "\(shell): \(r)")
            #expect(r.stdout == value, "\(shell) read back \(value.debugDescription) as \(r.stdout.debugDescription)")
        }
    }

    @Test func dotenvRoundTripThroughPythonDotenv() throws {
        let dir = TempDir()
        let values = Self.hostile.filter { !$0.contains("${") && !$0.hasSuffix("\\") }
        let file = Self.write(try ExportFormat.dotenv.render(Self.variables(values)), in: dir, "vars.env")
        let r = CLI.exec(
            [
                "/usr/bin/env", "python3", "-c",
                "import json,sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))", file
            ],
            environment: Self.environment)
        #expect(r.status == 0, "python-dotenv must be installed (pip install python-dotenv): \(r)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String])
        for (index, value) in values.enumerated() {
            #expect(
                parsed["V\(index)"] == value,
                "python-dotenv read \(value.debugDescription) as \(String(describing: parsed["V\(index)"]))")
        }
        #expect(throws: ExportError.self, "a trailing backslash is refused") {
            try ExportFormat.dotenv.render([ExportVariable(name: "X", text: "ends\\")])
        }
        // ${…} is expanded by dotenv readers: refused, naming the variable, not showing the value.
        do {
            _ = try ExportFormat.dotenv.render([ExportVariable(name: "SECRET_ONE", text: "a${HOME}b", isSecret: true)])
            Issue.record("a value dotenv would expand was exported")
        } catch let error as ExportError {
            #expect(error.message.contains("SECRET_ONE") && !error.message.contains("a${HOME}b"))
        }
    }

    @Test func jsonRoundTrip() throws {
        let dir = TempDir()
        let file = Self.write(try ExportFormat.json.render(Self.variables(Self.hostile)), in: dir, "vars.json")
        let r = CLI.exec(
            ["/usr/bin/env", "python3", "-c", "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))", file],
            environment: Self.environment)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String])
        for (index, value) in Self.hostile.enumerated() { #expect(parsed["V\(index)"] == value) }
    }

    /// docker run --env-file: lines; leading whitespace trimmed; `#` comments and blank lines
    /// skipped; NAME=VALUE split at the first '=', the value verbatim.
    static func parseDockerEnvFile(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[String(parts[0])] = parts.count > 1 ? String(parts[1]) : nil
        }
        return out
    }

    @Test func dockerEnvFileRoundTripAndRefusals() throws {
        let values = Self.hostile.filter { !$0.contains("\n") }
        let rendered = try ExportFormat.docker.render(Self.variables(values))
        let parsed = Self.parseDockerEnvFile(rendered.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
        for (index, value) in values.enumerated() { #expect(parsed["V\(index)"] == value, "\(value.debugDescription)") }
        for bad in ["two\nlines", "carriage\rreturn"] {
            #expect(throws: ExportError.self) { try ExportFormat.docker.render([ExportVariable(name: "X", text: bad)]) }
        }
    }

    @Test func githubEnvRoundTripAndDelimiterCheck() throws {
        let rendered = try ExportFormat.github.render(Self.variables(Self.hostile))
        let parsed = parseGitHubEnv(rendered.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
        for (index, value) in Self.hostile.enumerated() {
            #expect(parsed["V\(index)"] == value, "\(value.debugDescription)")
        }
        #expect(throws: ExportError.self) {
            try ExportFormat.github.render([ExportVariable(name: "X", text: "a\nDELIM\nb")], githubDelimiter: "DELIM")
        }
    }

    @Test func namesAreShellIdentifiers() {
        for bad in ["", "1ABC", "A-B", "A B", "A=B", "ÄB"] {
            #expect(throws: ExportError.self, "\(bad)") { try ExportNames.validate(bad) }
        }
        #expect(throws: Never.self) { try ExportNames.validate("ADME_ACCESS_TOKEN_2") }
        var naming = ExportNaming()
        #expect(throws: ExportError.self) { try naming.addRename("TOKEN=nonsense") }
        naming.only = [.clientSecret]
        #expect(throws: ExportError.self, "secrets need --with-secrets") { try naming.selected() }
    }
}

@Suite("export command")
struct ExportCommandTests {
    @Test func exportedVariablesMatchTheTokenAndFilesArePrivate() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let token = s.token().stdout.trimmingCharacters(in: .newlines)
        let key = ["--key-file", s.f.keyFile]

        let shell = s.cli.run(["export", "adme", "--shell", "--prefix", "ADME_"] + key)
        #expect(shell.status == 0, "\(shell)")
        let eval = CLI.exec(
            [
                "/bin/bash", "-c",
                "eval \"$0\"; printf '%s|%s|%s' \"$ADME_ACCESS_TOKEN\" \"$ADME_AZURE_CLIENT_ID\" \"${ADME_AZURE_CLIENT_SECRET-unset}\"",
                shell.stdout
            ], environment: [:])
        #expect(eval.stdout == "\(token)|\(LoginSetup.clientID)|unset")
        #expect(!shell.stderr.contains(token))

        // --output: 0600, atomic, refuses a file others can read.
        let out = s.f.dir.file("adme.env")
        let written = s.cli.run(["export", "adme", "--env", "--with-secrets", "--output", out] + key)
        #expect(written.status == 0, "\(written)")
        let mode = (try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(
            try String(contentsOfFile: out, encoding: .utf8).contains(
                "AZURE_CLIENT_SECRET='\(LoginSetup.clientSecret)'"))
        chmod(out, 0o644)
        #expect(s.cli.run(["export", "adme", "--env", "--output", out] + key).status == 1)
        #expect(s.cli.run(["export", "adme", "--env", "--output", out, "--force"] + key).status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int) == 0o600)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.f.dir.path).filter { $0.contains("tokvault-tmp") }
                .isEmpty)

        // `> file`: the file is made private.
        let redirected = s.f.dir.file("redirected.env")
        FileManager.default.createFile(atPath: redirected, contents: nil, attributes: [.posixPermissions: 0o644])
        let viaShell = CLI.exec(
            [
                "/bin/sh", "-c", "\"$0\" export adme --env --key-file \"$1\" > \"$2\"", CLI.binary, s.f.keyFile,
                redirected
            ],
            environment: s.cli.environment)
        #expect(viaShell.status == 0, "\(viaShell)")
        #expect((try FileManager.default.attributesOfItem(atPath: redirected)[.posixPermissions] as? Int) == 0o600)

        // Secrets only with --with-secrets; GitHub: appended to $GITHUB_ENV, masked on stdout.
        #expect(s.cli.run(["export", "adme", "--json", "--only", "client_secret"] + key).status == 64)
        let githubEnv = s.f.dir.write("github_env", "")
        let gh = s.cli.run(
            ["export", "adme", "--format", "github", "--with-secrets"] + key, env: ["GITHUB_ENV": githubEnv])
        #expect(gh.status == 0, "\(gh)")
        #expect(gh.stdout.contains("::add-mask::\(token)"))
        #expect(gh.stdout.contains("::add-mask::\(LoginSetup.clientSecret)"))
        let parsed = parseGitHubEnv(try String(contentsOfFile: githubEnv, encoding: .utf8))
        #expect(parsed["ACCESS_TOKEN"] == token)
        #expect(parsed["AZURE_TENANT_ID"] == s.idp.configuration.tenant)
    }
}

@Suite("export --format curl")
struct CurlSnippetTests {
    /// The fake provider's access tokens (`fake-at-…`) in `text`.
    static func accessTokens(in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: "fake-at-[A-Za-z0-9_-]+")
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }
    }

    /// Every process command line readable in /proc, joined.
    static func commandLines() -> String {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return "" }
        var all = ""
        for pid in entries where pid.allSatisfy(\.isNumber) {
            if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") {
                all += String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self) + "\n"
            }
        }
        return all
    }

    @Test func snippetRefreshesAndCallsTheAPIWithoutSecretsOnArgv() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let env = ["TOKVAULT_KEY_FILE": s.f.keyFile]
        let api = s.idp.baseURL + "/_fake/resource"
        let script = s.f.dir.file("call.sh")
        let made = s.cli.run(
            ["export", "adme", "--curl", "--url", api, "--header", "data-partition-id: opendes", "--output", script],
            env: env)
        #expect(made.status == 0, "\(made)")
        let text = try String(contentsOfFile: script, encoding: .utf8)
        #expect(!text.contains(LoginSetup.clientSecret), "by default secrets are references, not values")
        #expect(text.contains("set -euo pipefail"))

        // Slow answers give the scanner time to see curl's command line.
        s.idp.inject(.slow(milliseconds: 800), times: 2)
        nonisolated(unsafe) var seen = ""
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: CLI.Result?
        DispatchQueue.global().async {
            result = s.cli.run(["exec", "adme", "--with-secrets", "--", "/bin/bash", script], env: env)
            done.signal()
        }
        while done.wait(timeout: .now() + .milliseconds(20)) == .timedOut { seen += Self.commandLines() }
        let run = try #require(result)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("alice@contoso.example"), "the API accepted the refreshed token: \(run.stdout)")
        #expect(s.idp.stats.resourceAuthorized == 1)
        #expect(seen.contains("curl"), "the scanner saw curl running")
        #expect(!seen.contains(LoginSetup.clientSecret), "client secret on a command line")
        // Other tests run curl with fake access tokens of their own providers on its command
        // line (FakeIdP tests): only a token of this test's provider counts.
        let ours = Self.accessTokens(in: seen).filter { s.idp.accessTokenInfo($0) != nil }
        #expect(!seen.contains("fake-rt-") && ours.isEmpty, "token on a command line")

        // --with-secrets defines them in the script, which then runs on its own.
        let defined = s.f.dir.file("defined.sh")
        #expect(s.cli.run(["logout", "adme"]).status == 0)
        #expect(s.login().status == 0)
        #expect(s.cli.run(["export", "adme", "--curl", "--with-secrets", "--output", defined], env: env).status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: defined)[.posixPermissions] as? Int) == 0o600)
        let alone = CLI.exec(["/bin/bash", defined], environment: ["PATH": "/usr/bin:/bin"])
        #expect(alone.status == 0, "\(alone)")
        #expect(s.idp.accessTokenInfo(alone.stdout.trimmingCharacters(in: .newlines)) != nil)

        // --reveal: values inlined where used (no definitions), still through descriptors.
        #expect(s.cli.run(["logout", "adme"]).status == 0)
        #expect(s.login().status == 0)
        let revealed = s.f.dir.file("revealed.sh")
        #expect(s.cli.run(["export", "adme", "--curl", "--reveal", "--output", revealed], env: env).status == 0)
        let revealedText = try String(contentsOfFile: revealed, encoding: .utf8)
        #expect(revealedText.contains("<(printf %s '\(LoginSetup.clientSecret)')"))
        #expect(!revealedText.contains("AZURE_CLIENT_SECRET="))
        let inline = CLI.exec(["/bin/bash", revealed], environment: ["PATH": "/usr/bin:/bin"])
        #expect(inline.status == 0, "\(inline)")
        #expect(s.idp.accessTokenInfo(inline.stdout.trimmingCharacters(in: .newlines)) != nil)
    }
}

@Suite("export --output under kill -9")
struct ExportKillTests {
    @Test func killedExportLeavesTheOldFileOrTheNewOneAndTheNextWriteLeavesNoTemporary() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let out = s.f.dir.file("adme.env")
        #expect(
            s.cli.run(["export", "adme", "--env", "--with-secrets", "--output", out, "--key-file", s.f.keyFile]).status
                == 0)
        let complete = try String(contentsOfFile: out, encoding: .utf8)
        let started = Date()
        #expect(
            s.cli.run(["export", "adme", "--env", "--with-secrets", "--output", out, "--key-file", s.f.keyFile]).status
                == 0)
        let window = UInt32(max(0.005, Date().timeIntervalSince(started)) * 2.5 * 1_000_000)
        var killed = 0
        for _ in 0..<60 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["export", "adme", "--env", "--with-secrets", "--output", out, "--key-file", s.f.keyFile]
            p.environment = s.cli.environment
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 0...window))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { killed += 1 }
            // Always a whole file: the same variables (the token is cached, so the same bytes).
            #expect(try String(contentsOfFile: out, encoding: .utf8) == complete)
            #expect((try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int) == 0o600)
            // A kill between naming the temporary and the rename leaves it; the next write removes
            // it (its process is gone), so at most the last run's and a run killed mid-sweep's remain.
            #expect(try temporaries(in: s.f.dir.path).count <= 2)
        }
        print("kill -9 during export --output: 60 runs, \(killed) killed before finishing")
        #expect(
            s.cli.run(["export", "adme", "--env", "--with-secrets", "--output", out, "--key-file", s.f.keyFile]).status
                == 0)
        #expect(try temporaries(in: s.f.dir.path).isEmpty)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == complete)
    }

    private func temporaries(in dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("tokvault-tmp") }
    }

    @Test func theNextWriteRemovesATemporaryWhoseProcessIsGoneAndKeepsALiveOnes() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let out = s.f.dir.file("adme.env")
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let live = Process()
        live.executableURL = URL(fileURLWithPath: "/bin/sleep")
        live.arguments = ["30"]
        try live.run()
        defer { live.terminate() }
        let deadName = ".adme.env.tokvault-tmp-\(gone.processIdentifier)-0123456789ab"
        let liveName = ".adme.env.tokvault-tmp-\(live.processIdentifier)-0123456789ab"
        let otherName = ".other.env.tokvault-tmp-\(gone.processIdentifier)-0123456789ab"
        for name in [deadName, liveName, otherName] {
            #expect(FileManager.default.createFile(atPath: s.f.dir.file(name), contents: Data("x".utf8)))
        }
        #expect(
            s.cli.run(["export", "adme", "--env", "--output", out, "--key-file", s.f.keyFile]).status == 0)
        #expect(try temporaries(in: s.f.dir.path).sorted() == [liveName, otherName].sorted())
    }
}
