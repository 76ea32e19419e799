import Foundation
import Testing

@testable import TokvaultExport
@testable import TokvaultVault

/// Where an export's secrets end up: a redirected stdout that others could read, the GitHub
/// Actions runner's own files, the runner's log (masks), and curl's configuration file.
@Suite("export destinations")
struct ExportDestinationTests {
    static let secret = "cs-CANARY-destination-7f3"

    /// A vault with one app whose client secret is the canary: `--with-secrets --only
    /// client_secret` exports it without any network.
    static func fixture() -> Fixture {
        let f = Fixture()
        let add = f.addApp("adme", secret: secret)
        precondition(add.status == 0, "add-app failed: \(add)")
        return f
    }

    static let exportSecret = ["export", "adme", "--env", "--with-secrets", "--only", "client_secret"]

    /// `tokvault ARGS >> FILE` through a shell, as a script would write it.
    static func appending(
        _ f: Fixture, _ arguments: [String], to file: String, env: [String: String] = [:],
        user: String? = nil, binary: String = CLI.binary
    ) -> CLI.Result {
        var command: [String] = []
        if let user { command += ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=nogroup", "--clear-groups"] }
        command += ["/bin/sh", "-c", "f=$1; shift; exec \"$@\" >> \"$f\"", "sh", file, binary] + arguments
        return CLI.exec(command, environment: f.cli.environment.merging(env) { $1 }, cwd: f.dir.path)
    }

    static func contents(_ path: String) -> String {
        (FileManager.default.contents(atPath: path)).map { String(decoding: $0, as: UTF8.self) } ?? "(unreadable)"
    }

    static func mode(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mode & 0o777) : -1
    }

    // MARK: - Redirected standard output

    @Test(.enabled(if: isRoot))
    func stdoutFileOfAnotherUserIsRefused() throws {
        let f = Self.fixture()
        let nobody = getpwnam("nobody")!.pointee
        // Owned by another user: whatever its mode is made, that user can read it (and
        // change the mode back).
        let file = f.dir.write("theirs.env", "", mode: 0o644)
        chown(file, nobody.pw_uid, nobody.pw_gid)
        let refused = Self.appending(f, Self.exportSecret + ["--key-file", f.keyFile], to: file)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("is a file owned by another user"), "\(refused)")
        #expect(refused.stderr.contains("tokvault: hint:") && refused.stderr.contains("--force"), "\(refused)")
        #expect(Self.contents(file).isEmpty, "nothing was written: \(Self.contents(file).debugDescription)")
        #expect(!refused.stderr.contains(Self.secret))

        let forced = Self.appending(f, Self.exportSecret + ["--key-file", f.keyFile, "--force"], to: file)
        #expect(forced.status == 0, "\(forced)")
        #expect(Self.contents(file).contains(Self.secret), "--force writes it")
    }

    /// An append-only file (chattr +a) refuses fchmod even to root: the mode stays 0644.
    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr")))
    func stdoutFileThatCannotBeMadePrivateIsRefused() throws {
        let f = Self.fixture()
        let file = f.dir.write("append-only.env", "", mode: 0o644)
        let chattr = CLI.exec(["/usr/bin/chattr", "+a", file], environment: [:])
        try #require(chattr.status == 0, "this file system supports chattr +a: \(chattr)")
        defer { _ = CLI.exec(["/usr/bin/chattr", "-a", file], environment: [:]) }
        #expect(chmod(file, 0o600) != 0, "fchmod/chmod fails on the append-only file, even for root")

        let refused = Self.appending(f, Self.exportSecret + ["--key-file", f.keyFile], to: file)
        #expect(refused.status == 1, "\(refused)")
        #expect(
            refused.stderr.contains(
                "is readable by other users (mode 644) and could not be made private (fchmod: Operation not permitted)"),
            "\(refused)")
        #expect(refused.stderr.contains("tokvault: hint:"), "\(refused)")
        #expect(Self.contents(file).isEmpty, "nothing was written")
        #expect(Self.mode(file) == 0o644)

        let forced = Self.appending(f, Self.exportSecret + ["--key-file", f.keyFile, "--force"], to: file)
        #expect(forced.status == 0, "\(forced)")
        #expect(Self.contents(file).contains(Self.secret))

        // The same export without a secret in it is not refused.
        let plain = Self.appending(
            f, ["export", "adme", "--env", "--only", "client_id", "--key-file", f.keyFile], to: file)
        #expect(plain.status == 0, "\(plain)")
    }

    /// As an unprivileged user, with stdout a world-writable file of root's: fchmod fails
    /// with EPERM (which used to be ignored, and the secret written).
    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func unprivilegedExportIntoAnotherUsersFileIsRefused() throws {
        let s = UnprivilegedSandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        let add = s.run(
            ["add-app", "adme", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", key],
            stdin: Self.secret + "\n")
        #expect(add.status == 0, "\(add)")
        let file = s.dir.write("root-owned.env", "", mode: 0o666)
        let env = s.cli.environment
        func run(_ extra: [String]) -> CLI.Result {
            let command =
                [
                    "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                    "/bin/sh", "-c", "f=$1; shift; exec \"$@\" >> \"$f\"", "sh", file, s.binary
                ]
                + Self.exportSecret + ["--key-file", key] + extra
            return CLI.exec(command, environment: env, cwd: s.dir.path)
        }
        let refused = run([])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("is a file owned by another user (uid 0)"), "\(refused)")
        #expect(Self.contents(file).isEmpty, "nothing was written: \(Self.contents(file).debugDescription)")
        #expect(Self.mode(file) == 0o666, "someone else's file is left as it was")
        let forced = run(["--force"])
        #expect(forced.status == 0, "\(forced)")
        #expect(Self.contents(file).contains(Self.secret))
    }

    // MARK: - GitHub Actions

    @Test func stdoutThatIsTheRunnersEnvOrOutputFileIsRefused() throws {
        let f = Self.fixture()
        let github = [
            "export", "adme", "--format", "github", "--with-secrets", "--only", "client_secret", "--key-file", f.keyFile
        ]
        for variable in ["GITHUB_ENV", "GITHUB_OUTPUT"] {
            let file = f.dir.write("runner-\(variable)", "")
            // Another name for the same file: compared by device and inode, not by path.
            let link = f.dir.file("link-\(variable)")
            #expect(link_(file, link) == 0)
            for (named, redirected) in [(file, file), (link, file)] {
                let r = Self.appending(f, github, to: redirected, env: [variable: named])
                #expect(r.status == 1, "\(variable): \(r)")
                #expect(r.stderr.contains("standard output is $\(variable)"), "\(r)")
                #expect(
                    r.stderr.contains("tokvault: hint: run `tokvault export adme --format github` without redirecting"),
                    "\(r)")
                #expect(
                    Self.contents(file).isEmpty, "\(variable): nothing written: \(Self.contents(file).debugDescription)"
                )
                #expect(!r.stderr.contains(Self.secret) && !r.stdout.contains(Self.secret))
            }
            // Other formats neither mask nor fit the runner's syntax: refused too.
            let dotenv = Self.appending(
                f, Self.exportSecret + ["--key-file", f.keyFile], to: file, env: [variable: file])
            #expect(dotenv.status == 1, "\(dotenv)")
            #expect(Self.contents(file).isEmpty)
        }
        // Appending to $GITHUB_ENV itself while stdout is the log works.
        let env = f.dir.write("github_env", "")
        let ok = f.cli.run(github, env: ["GITHUB_ENV": env, "GITHUB_OUTPUT": f.dir.write("github_output", "")])
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stdout == "::add-mask::\(Self.secret)\n")
        #expect(parseGitHubEnv(Self.contents(env))["AZURE_CLIENT_SECRET"] == Self.secret)
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    private func link_(_ from: String, _ to: String) -> Int32 { Glibc.link(from, to) }

    /// What the runner does with a command's data: %0D, %0A, %25 back to CR, LF, % (in
    /// that order, as actions/runner's ActionCommand does).
    static func runnerUnescape(_ data: String) -> String {
        data.replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%0A", with: "\n")
            .replacingOccurrences(of: "%25", with: "%")
    }

    /// The masks the runner registers from `stdout`; nil if a line is not an ::add-mask:: command.
    static func registeredMasks(_ stdout: String) -> [String]? {
        var masks: [String] = []
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: true) {
            guard line.hasPrefix("::add-mask::") else { return nil }
            masks.append(runnerUnescape(String(line.dropFirst("::add-mask::".count))))
        }
        return masks
    }

    @Test func masksAreEscapedAsTheRunnerUnescapesThem() throws {
        // Library level: every kind of value, read back the runner's way.
        let values = [
            "plain", "100%", "%0A literally", "%250D", "two\nlines", "cr\rlf\r\n%25x\n", "trailing\n", " \n \t"
        ]
        let variables =
            values.enumerated().map { ExportVariable(name: "V\($0.offset)", text: $0.element, isSecret: true) }
            + [ExportVariable(name: "PUBLIC", text: "not-a-secret", isSecret: false)]
        let text = ExportFormat.githubMaskCommands(variables).withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        #expect(!text.contains("\r"), "a raw CR would end the command early")
        let masks = try #require(Self.registeredMasks(text), "\(text.debugDescription)")
        for value in values where !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            #expect(masks.contains(value), "\(value.debugDescription) is masked whole")
            for line in value.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                #expect(
                    masks.contains(String(line)), "line \(line.debugDescription) of \(value.debugDescription) is masked"
                )
            }
        }
        #expect(!masks.contains("not-a-secret"))
        #expect(
            !masks.contains { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }, "no empty mask: \(masks)")
    }

    /// End to end: an access token with %, CR and LF from a (hostile) token endpoint.
    @Test func canaryTokenWithPercentAndLineBreaksIsMaskedAndAppendedIntact() throws {
        let token = "at-CANARY-%0A-100%-\r\nsecond-line\rthird"
        let body =
            #"{"access_token":"at-CANARY-%0A-100%-\r\nsecond-line\rthird","token_type":"Bearer","expires_in":3600}"#
        let server = try HostileServer(always: Hostile.json("200 OK", body))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let env = e.f.dir.write("github_env", "")
        let r = e.run(["export", "adme", "--format", "github"], env: ["GITHUB_ENV": env])
        #expect(r.status == 0, "\(r)")
        #expect(!r.stdout.contains("\r"), "\(r.stdout.debugDescription)")
        let masks = try #require(Self.registeredMasks(r.stdout), "\(r.stdout.debugDescription)")
        for expected in [token, "at-CANARY-%0A-100%-", "second-line", "third"] {
            #expect(masks.contains(expected), "\(expected.debugDescription) registered: \(masks)")
        }
        let appended = Self.contents(env)
        #expect(!appended.contains("::add-mask::"))
        #expect(parseGitHubEnv(appended)["ACCESS_TOKEN"] == token)
        #expect(!r.stderr.contains("CANARY"))
    }

    /// The masks reach the log before anything is appended: with $GITHUB_ENV a FIFO that is
    /// only opened for reading once the masks have been seen.
    @Test func masksArePrintedBeforeAnythingIsAppended() throws {
        let f = Self.fixture()
        let fifo = f.dir.file("github_env.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = try LiveProcess.tokvault(
            f.cli,
            [
                "export", "adme", "--format", "github", "--with-secrets", "--only", "client_secret",
                "--key-file", f.keyFile
            ], env: ["GITHUB_ENV": fifo])
        var maskedFirst = false
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !maskedFirst {
            maskedFirst = process.stdout.contains("::add-mask::\(Self.secret)\n")
            if !maskedFirst { usleep(20_000) }
        }
        #expect(
            maskedFirst, "the mask was printed while $GITHUB_ENV was not yet opened: \(process.stdout.debugDescription)"
        )
        // Now read what is appended (opening the read end lets the writer's open go on).
        nonisolated(unsafe) var appended = Data()
        let done = DispatchSemaphore(value: 0)
        Thread {
            if let handle = FileHandle(forReadingAtPath: fifo) { appended = handle.readDataToEndOfFile() }
            done.signal()
        }.start()
        if done.wait(timeout: .now() + 10) == .timedOut {
            // Unblock the reader's open if tokvault never opened the FIFO.
            let unblock = open(fifo, O_WRONLY | O_NONBLOCK)
            if unblock >= 0 { close(unblock) }
            _ = done.wait(timeout: .now() + 5)
        }
        #expect(process.finish(seconds: 10) == 0, "\(process.stderr)")
        let text = String(decoding: appended, as: UTF8.self)
        #expect(parseGitHubEnv(text)["AZURE_CLIENT_SECRET"] == Self.secret, "\(text.debugDescription)")
        #expect(!text.contains("::add-mask::"))
    }

    // MARK: - The curl script

    /// Every line of the script that runs curl.
    static func curlCalls(_ script: String) -> [Substring] {
        script.split(separator: "\n").filter { line in
            !line.hasPrefix("#") && (line.hasPrefix("curl ") || line.contains("$(curl "))
        }
    }

    @Test func curlScriptIgnoresCurlrcAndRestrictsProtocols() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let env = ["TOKVAULT_KEY_FILE": s.f.keyFile]
        let script = s.f.dir.file("call.sh")
        let api = s.idp.baseURL + "/_fake/resource"
        #expect(s.cli.run(["export", "adme", "--curl", "--url", api, "--output", script], env: env).status == 0)
        let text = try String(contentsOfFile: script, encoding: .utf8)
        let calls = Self.curlCalls(text)
        #expect(calls.count == 2, "the token request and the API call: \(text)")
        for call in calls {
            let curl = call.hasPrefix("curl ") ? call : call[call.range(of: "$(curl ")!.upperBound...]
            #expect(
                call.hasPrefix("curl -q ") || call.contains("$(curl -q "), "-q must be curl's first argument: \(call)")
            // The fake provider is http on 127.0.0.1: http allowed, for that loopback call only.
            #expect(curl.contains("--proto =http --proto-redir =https --noproxy '*'"), "\(call)")
        }

        // A ~/.curlrc that would write a trace (secrets included) and add a header.
        let home = s.f.dir.file("curl-home")
        mkdir(home, 0o700)
        let trace = s.f.dir.file("curlrc-trace")
        let marker = s.f.dir.file("curlrc-marker")
        _ = s.f.dir.write(
            "curl-home/.curlrc",
            """
            trace-ascii = "\(trace)"
            header = "X-Curlrc-Canary: CURLRC-CANARY"
            dump-header = "\(marker)"

            """)
        let run = s.cli.run(
            ["exec", "adme", "--with-secrets", "--", "/bin/bash", script], env: env.merging(["HOME": home]) { $1 })
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("alice@contoso.example"), "the API call still works: \(run)")
        #expect(
            !FileManager.default.fileExists(atPath: trace),
            "~/.curlrc was read: it wrote \(Self.contents(trace).prefix(200))")
        #expect(!FileManager.default.fileExists(atPath: marker), "~/.curlrc was read")

        // An https app's script allows https only.
        let f = Self.fixture()
        let https = f.cli.run([
            "export", "adme", "--curl", "--url", "https://api.example.com/x", "--key-file", f.keyFile
        ])
        #expect(https.status == 0, "\(https)")
        let httpsCalls = Self.curlCalls(https.stdout)
        #expect(httpsCalls.count == 2, "\(https.stdout)")
        for call in httpsCalls {
            #expect(call.contains("curl -q --proto =https --proto-redir =https "), "\(call)")
            #expect(!call.contains("=http,") && !call.contains("=http "), "\(call)")
        }
    }

    /// `--output "$GITHUB_ENV"` would replace the runner's file (dropping what earlier steps
    /// appended) and print no masks: refused like a redirected stdout.
    @Test func outputThatIsTheRunnersEnvFileIsRefused() throws {
        let f = Self.fixture()
        let env = f.dir.write("github_env", "EARLIER=1\n")
        let result = f.cli.run(
            ["export", "adme", "--format", "github", "--with-secrets", "--output", env, "--key-file", f.keyFile],
            env: ["GITHUB_ENV": env])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("is $GITHUB_ENV"), "\(result)")
        #expect(try String(contentsOfFile: env, encoding: .utf8) == "EARLIER=1\n")
        #expect(!result.stdout.contains(Self.secret) && !result.stderr.contains(Self.secret))
    }
}
