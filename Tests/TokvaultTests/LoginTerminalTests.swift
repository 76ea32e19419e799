import Foundation
import GRDB
import Testing
import TokvaultFakeIdP

/// `login` on a terminal (manual paste of the redirect URL or code), without one, with the
/// provider down, with secrets kept off the process table, and with a second resource scope.
/// End to end: the built binary under a pseudo-terminal (util-linux `script`) and the fake
/// identity provider in this process.
@Suite("login on a terminal", .serialized)
struct LoginTerminalTests {
    // MARK: - Manual paste on a terminal

    @Test func pastingTheRedirectURLLogsIn() throws {
        let s = try LoginSetup(redirectURI: ScriptedSignIn.redirectURI)
        defer { s.idp.stop() }
        let session = try ScriptedSignIn.manualLogin(s)
        defer { session.kill() }
        let url = try ScriptedSignIn.authorizeURL(from: session)
        #expect(
            ScriptedSignIn.parameter("redirect_uri", of: url) == ScriptedSignIn.redirectURI,
            "--manual sends the app's redirect URI as is")
        let location = try ScriptedSignIn.authorize(url)
        #expect(location.hasPrefix(ScriptedSignIn.redirectURI + "?"))
        session.type(location)
        let status = session.finish(seconds: 30)
        #expect(status == 0, "\(session.text)")
        #expect(session.text.contains("Logged in to adme as alice@contoso.example"), "\(session.text)")
        #expect(s.idp.stats.tokenRequests["authorization_code"] == 1)
        #expect(s.idp.stats.tokenLog.first?.clientAuth == .post)
        let token = s.token()
        #expect(token.status == 0, "\(token)")
        #expect(s.idp.accessTokenInfo(token.stdout.trimmingCharacters(in: .newlines)) != nil)
    }

    @Test func pastingTheBareCodeLogsIn() throws {
        let s = try LoginSetup(redirectURI: ScriptedSignIn.redirectURI)
        defer { s.idp.stop() }
        let session = try ScriptedSignIn.manualLogin(s)
        defer { session.kill() }
        let location = try ScriptedSignIn.authorize(try ScriptedSignIn.authorizeURL(from: session))
        let code = try #require(ScriptedSignIn.parameter("code", of: location))
        session.type(code)
        let status = session.finish(seconds: 30)
        #expect(status == 0, "\(session.text)")
        #expect(session.text.contains("Logged in to adme"), "\(session.text)")
        #expect(s.idp.stats.tokenRequests["authorization_code"] == 1)
    }

    @Test func pastedURLWithAnotherStateIsRefusedThenTheRightOneWorks() throws {
        let s = try LoginSetup(redirectURI: ScriptedSignIn.redirectURI)
        defer { s.idp.stop() }
        let session = try ScriptedSignIn.manualLogin(s)
        defer { session.kill() }
        let location = try ScriptedSignIn.authorize(try ScriptedSignIn.authorizeURL(from: session))
        let state = try #require(ScriptedSignIn.parameter("state", of: location))
        var stale = try #require(URLComponents(string: location))
        stale.queryItems = stale.queryItems?.map {
            $0.name == "state" ? URLQueryItem(name: "state", value: "stale-" + state) : $0
        }
        let staleURL = try #require(stale.string)
        #expect(staleURL != location)
        session.type(staleURL)
        let warned = session.wait(seconds: 15) { $0.contains("state does not match this login") }
        #expect(warned, "\(session.text)")
        #expect(session.process.isRunning, "a stale paste does not end the login")
        #expect(s.idp.stats.tokenRequests["authorization_code"] == nil, "the mismatched paste was not redeemed")
        session.type(location)
        let status = session.finish(seconds: 30)
        #expect(status == 0, "\(session.text)")
        #expect(session.text.contains("Logged in to adme"), "\(session.text)")
        #expect(s.idp.stats.tokenRequests["authorization_code"] == 1)
    }

    @Test func manualWithoutATerminalIsAUsageError() throws {
        let s = try LoginSetup(redirectURI: ScriptedSignIn.redirectURI)
        defer { s.idp.stop() }
        let log = s.f.dir.file("browser.log")
        let login = s.cli.run(
            ["login", "adme", "--manual", "--key-file", s.f.keyFile],
            env: ["BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": "log", "SCRIPTED_BROWSER_LOG": log])
        #expect(login.status == 64, "\(login)")
        #expect(login.stderr.contains("--manual needs a terminal"), "\(login)")
        #expect(s.idp.stats.authorizeRequests == 0)
        // The browser is started in the background; give it time to show up.
        var launched = false
        for _ in 0..<40 where !launched {
            launched = FileManager.default.fileExists(atPath: log)
            if !launched { usleep(50_000) }
        }
        #expect(launched == false, "a login that is refused must not send the user to the sign-in page")
    }

    // MARK: - Provider unreachable

    @Test func unreachableProviderIsExit3() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let login = s.login()
        #expect(login.status == 0, "\(login)")
        try s.expireCachedToken()
        s.idp.stop()
        let started = Date()
        let token = s.token()
        #expect(token.status == 3, "\(token)")
        #expect(token.stderr.contains("cannot reach the identity provider at 127.0.0.1"), "\(token)")
        #expect(token.stderr.contains("nothing was sent"), "\(token)")
        #expect(token.stdout.isEmpty)
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 5, "a refused connection is reported promptly")
    }

    // MARK: - Secrets never on argv

    /// All readable command lines in the process table.
    static func processTable() -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var lines: [String] = []
        for entry in entries where Int32(entry) != nil {
            let fd = open("/proc/\(entry)/cmdline", O_RDONLY)
            guard fd >= 0 else { continue }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            close(fd)
            guard !bytes.isEmpty else { continue }
            lines.append(String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self))
        }
        return lines
    }

    static func hasCodeParameter(_ line: String) -> Bool {
        line.range(of: #"(^|[?&#\s])code="#, options: .regularExpression) != nil
    }

    @Test func secretsNeverAppearOnAnyCommandLine() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        try s.expireCachedToken()
        // Keep the processes alive long enough to be seen: slow token answers, and a browser
        // that waits a second (with the authorize URL on its own argv) before signing in.
        s.idp.inject(.slow(milliseconds: 1200), times: 2)
        let slowBrowser = s.f.dir.write("slow-browser.sh", "sleep 1\nexec \(shellQuoted(LoginSetup.browser)) \"$1\"\n")

        var seen = Set<String>()
        let results = ResultBox()
        let done = DispatchGroup()
        var workers: [Thread] = []
        for i in 0..<9 {
            done.enter()
            workers.append(
                Thread {
                    let result =
                        i < 8
                        ? s.token()
                        : s.cli.run(
                            ["login", "adme", "--key-file", s.f.keyFile, "--port", "0"],
                            env: ["BROWSER": "/bin/sh \(slowBrowser)", "SCRIPTED_BROWSER_MODE": "normal"])
                    results.set(i, result)
                    done.leave()
                })
        }
        let scanStart = Date()
        for worker in workers { worker.start() }
        var finished = false
        while !finished || Date().timeIntervalSince(scanStart) < 2 {
            let table = Self.processTable()
            seen.formUnion(table)
            if !finished { finished = done.wait(timeout: .now()) == .success }
            if Date().timeIntervalSince(scanStart) > 45 { break }
            usleep(3_000)
        }
        #expect(done.wait(timeout: .now() + 30) == .success, "the commands finished")

        let outputs = results.all
        #expect(outputs.count == 9)
        for (i, result) in outputs.sorted(by: { $0.key < $1.key }) {
            #expect(result.status == 0, "\(i < 8 ? "token" : "login"): \(result)")
        }
        #expect(outputs[8]?.stdout.contains("Logged in to adme") == true)
        let latest = s.token()
        #expect(latest.status == 0)
        let tokens = Set((0..<8).compactMap { outputs[$0]?.stdout } + [latest.stdout])
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        #expect(!tokens.isEmpty)

        let table = seen
        let tokvault = table.filter { $0.contains(CLI.binary) }
        let browser = table.filter { $0.contains("scripted-browser.py") || $0.contains("slow-browser.sh") }
        // The scan really saw the commands under test.
        #expect(tokvault.contains { $0.contains(" token adme ") }, "no `token` process seen")
        #expect(tokvault.contains { $0.contains(" login adme ") }, "no `login` process seen")
        #expect(
            browser.contains { $0.contains("http://127.0.0.1:") && $0.contains("/start-") },
            "the browser's argv carries the one-time start page: \(browser)")
        // (Other suites running at the same time start the scripted browser at their own
        // providers' authorize URLs: only this provider's count.)
        let leaking = browser.filter {
            $0.contains(s.idp.baseURL + "/") && ($0.contains("state=") || $0.contains("code_challenge="))
        }
        #expect(leaking.isEmpty, "nor this login's authorize URL with its state and challenge: \(leaking)")

        for line in table {
            #expect(!line.contains(LoginSetup.clientSecret), "the client secret is on a command line: \(line)")
            for token in tokens {
                #expect(!line.contains(token), "an access token is on a command line")
            }
        }
        for line in tokvault.union(browser) {
            #expect(!Self.hasCodeParameter(line), "an authorization code is on a command line: \(line)")
            #expect(!line.contains("code_verifier"), "\(line)")
        }
        #expect(s.idp.stats.refreshRotations == 1, "the eight `token` calls made one refresh")
        #expect(s.idp.stats.tokenRequests["authorization_code"] == 2)
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Int: CLI.Result] = [:]
        func set(_ index: Int, _ result: CLI.Result) { lock.withLock { results[index] = result } }
        var all: [Int: CLI.Result] { lock.withLock { results } }
    }

    // MARK: - A second resource

    @Test func anotherScopeIsCachedSeparately() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let main = s.token()
        #expect(main.status == 0, "\(main)")
        let mainToken = main.stdout.trimmingCharacters(in: .newlines)
        let requestsBefore = s.idp.stats.totalTokenRequests

        let other = s.token(["--scope", "other/.default"])
        #expect(other.status == 0, "\(other)")
        let otherToken = other.stdout.trimmingCharacters(in: .newlines)
        #expect(!otherToken.isEmpty && otherToken != mainToken)
        #expect(s.idp.accessTokenInfo(otherToken)?.scope == "other/.default")
        #expect(s.idp.accessTokenInfo(mainToken)?.scope.contains("\(LoginSetup.clientID)/.default") == true)
        #expect(s.idp.stats.totalTokenRequests == requestsBefore + 1)
        let last = try #require(s.idp.stats.tokenLog.last)
        #expect(last.grantType == "refresh_token")
        #expect(last.scope == "other/.default", "the other scope was requested")

        let db = try DatabaseQueue(path: s.cli.vaultPath)
        let keys = try db.read { try String.fetchAll($0, sql: "SELECT scope_key FROM access_token ORDER BY scope_key") }
        try db.close()
        #expect(keys == ["", "other/.default"], "two cached tokens, one per scope")

        let show = s.cli.run(["show", "adme"])
        #expect(show.status == 0, "\(show)")
        let rows = show.stdout.split(separator: "\n").filter { $0.hasPrefix("access token") }
        #expect(rows.count == 2, "\(show.stdout)")
        #expect(rows.contains { $0.contains("other/.default:") }, "\(show.stdout)")
        #expect(
            rows.contains { $0.contains("\(LoginSetup.clientID)/.default openid profile offline_access:") },
            "\(show.stdout)")

        // Both are served from the cache now.
        #expect(s.token(["--scope", "other/.default"]).stdout == other.stdout)
        #expect(s.token(["--scope", "  other/.default "]).stdout == other.stdout, "the scope is normalized")
        #expect(s.token().stdout == main.stdout)
        #expect(s.idp.stats.totalTokenRequests == requestsBefore + 1)
        for output in [main, other, show] {
            #expect(!output.stderr.contains(otherToken) && !show.stdout.contains(otherToken))
        }
    }
}
