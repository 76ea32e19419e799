import Crypto
import Foundation
import GRDB
import NIOCore
import Testing
import TokvaultFakeIdP
import X509
import _CryptoExtras
@testable import TokvaultFlow
@testable import TokvaultVault

// The bad-input catalogue (docs/bad-input.md): hostile files, redirects, servers, certificates
// and environments the existing suites did not try. Every case checks the exit code, the key
// part of the message, that no secret is printed, and that the vault is left as it was.

/// Shared checks of the hostile-input suites.
enum Hostile {
    static let tenMiB = 10 * 1024 * 1024

    static let tenant = "00000000-0000-0000-0000-0000000000aa"
    static let clientID = "11111111-2222-3333-4444-555555555555"
    static let clientSecret = "cs-CANARY-hostile-41c"
    static let refreshToken = "rt-CANARY-hostile-5e1"

    /// Every row of the vault's tables, blobs in hex: equal snapshots mean nothing was written.
    static func snapshot(_ path: String) throws -> String {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            var out = ""
            for table in ["vault", "key_slot", "app", "session", "access_token", "event"] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid") {
                    let cells = row.columnNames.map { name -> String in
                        let value: DatabaseValue = row[name]
                        if case .blob(let data) = value.storage { return "\(name)=x'\(data.map { String(format: "%02x", $0) }.joined())'" }
                        return "\(name)=\(value)"
                    }
                    out += table + ": " + cells.joined(separator: " ") + "\n"
                }
            }
            return out
        }
    }

    /// No secret in stdout or stderr, and no raw terminal control (ESC, BEL) in stderr.
    static func expectClean(_ result: CLI.Result, secrets: [String] = [Hostile.clientSecret, Hostile.refreshToken],
                            sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in secrets {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret),
                    "a secret in the output: \(result)", sourceLocation: sourceLocation)
        }
        #expect(!result.stderr.contains("\u{1b}") && !result.stderr.contains("\u{07}"),
                "raw control characters reach the terminal: \(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }

    /// A vault with one confidential Azure app whose authority host is `authorityHost`, and an
    /// imported refresh token, so that `token` refreshes against that host at once.
    struct Endpoint {
        let f = Fixture()
        var cli: CLI { f.cli }

        init(authorityHost: String) {
            let add = f.cli.run(["add-app", "adme", "--tenant", Hostile.tenant, "--client-id", Hostile.clientID,
                                 "--authority-host", authorityHost, "--redirect-uri", "http://localhost:0/callback",
                                 "--secret-stdin", "--key-file", f.keyFile], stdin: Hostile.clientSecret + "\n")
            precondition(add.status == 0, "add-app failed: \(add)")
            let set = f.cli.run(["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: Hostile.refreshToken + "\n")
            precondition(set.status == 0, "set failed: \(set)")
        }

        func run(_ arguments: [String], env: [String: String] = [:]) -> CLI.Result {
            cli.run(arguments + ["--key-file", f.keyFile], env: env)
        }

        /// Runs `arguments` against an endpoint that answers `c.behavior` and checks what every
        /// hostile answer must give: c's exit status and message, no canary in the output, and a
        /// vault exactly as it was. The result is returned for the caller's own checks.
        func runRefused(_ arguments: [String], _ c: HostileAnswerCase, canaries: [String]) throws -> CLI.Result {
            let before = try Hostile.snapshot(cli.vaultPath)
            let result = run(arguments)
            #expect(result.status == c.status, "\(result)")
            #expect(result.stderr.contains(c.needle), "\(result.stderr.debugDescription)")
            Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken] + canaries)
            #expect(try Hostile.snapshot(cli.vaultPath) == before, "the refresh token and cache are as they were")
            return result
        }
    }

    /// Which of the app's derived Azure endpoints a request was sent to.
    static func isTokenPath(_ request: HostileServer.Request) -> Bool { request.target.hasSuffix("/oauth2/v2.0/token") }
    static func isDevicePath(_ request: HostileServer.Request) -> Bool { request.target.hasSuffix("/oauth2/v2.0/devicecode") }

    static func json(_ status: String, _ body: String, headers: [(String, String)] = []) -> HostileServer.Behavior {
        HostileServer.response(status, contentType: "application/json", body: body, headers: headers)
    }

    /// An unsigned JWT with these claims (tokvault reads ID token claims without the signature).
    static func jwt(_ claims: [String: Any]) -> String {
        FlowUnitTests.jwt(claims)
    }

    /// Runs `body`; nil (after `onTimeout`, which must make `body` end) when it takes longer
    /// than `seconds`, so that a hang fails the test instead of stalling the run.
    static func within<T: Sendable>(_ seconds: Double, onTimeout: @escaping @Sendable () -> Void,
                                    _ body: @escaping @Sendable () async throws -> T) async -> Result<T, Error>? {
        await withTaskGroup(of: Result<T, Error>?.self) { group in
            group.addTask {
                do { return .success(try await body()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
                return nil
            }
            if let first = await group.next(), let outcome = first {
                group.cancelAll()
                return outcome
            }
            onTimeout()
            group.cancelAll()
            return nil
        }
    }
}

// MARK: - Malformed vault files

@Suite("hostile input: vault files")
struct HostileInputVaultTests {
    @Test func formatVersionFromTheFutureIsRefusedWithoutWriting() throws {
        let f = Fixture()
        try TamperTests.edit(f.cli.vaultPath) { try $0.execute(sql: "UPDATE vault SET format_version = 3") }
        let before = try Hostile.snapshot(f.cli.vaultPath)
        for args in [["list"], ["show", "x"], ["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--public"]] {
            let result = f.cli.run(args)
            #expect(result.status == 1, "\(args): \(result)")
            #expect(result.stderr.contains("written by a newer tokvault"), "\(args): \(result)")
            Hostile.expectClean(result)
        }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test(arguments: ["DELETE FROM vault", "DROP TABLE grdb_migrations", "DROP TABLE vault"])
    func missingSchemaOrVaultRecordIsDamage(_ sql: String) throws {
        let f = Fixture()
        try TamperTests.edit(f.cli.vaultPath) { try $0.execute(sql: sql) }
        let before = try Hostile.snapshotOfFile(f.cli.vaultPath)
        for args in [["list"], ["show", "x", "--verify", "--key-file", f.keyFile]] {
            let result = f.cli.run(args)
            #expect(result.status == 5, "\(sql) \(args): \(result)")
            #expect(result.stderr.contains("its schema or vault record is missing"), "\(sql): \(result)")
            Hostile.expectClean(result)
        }
        #expect(try Hostile.snapshotOfFile(f.cli.vaultPath) == before, "nothing is written to a damaged file")
    }

    @Test func sqliteMagicFollowedByGarbageIsDamage() throws {
        let dir = TempDir()
        var generator = SplitMix64(seed: 0x7e57)
        let garbage = Array("SQLite format 3\u{0}".utf8) + (0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let path = dir.file("vault.db")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(garbage), attributes: [.posixPermissions: 0o600]))
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": path])
        for args in [["list"], ["token", "x"], ["show", "x", "--verify"]] {
            let result = cli.run(args)
            #expect(result.status == 5, "\(args): \(result)")
            #expect(result.stderr.hasPrefix("tokvault: error: vault ") && result.stderr.contains("is damaged"), "\(args): \(result)")
            Hostile.expectClean(result)
        }
        let doctor = cli.run(["doctor"])
        #expect(doctor.status == 5, "\(doctor)")
        #expect(doctor.stdout.contains("PROBLEM: vault") && doctor.stdout.contains("is damaged"), "\(doctor)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(garbage))
    }

    @Test func namedPipeAsVaultIsRefusedWithoutHanging() throws {
        let dir = TempDir()
        let path = dir.file("vault.db")
        #expect(mkfifo(path, 0o600) == 0)
        let cli = CLI(dir, environment: ["TOKVAULT_VAULT": path])
        let started = Date()
        // A reader that opened the FIFO would block until a writer came: none ever does.
        let result = cli.run(["list"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("is not a regular file, not a tokvault vault"), "\(result)")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    /// The cached access token's ciphertext edited: `token` must fail, not print what it got.
    @Test func tamperedCachedAccessTokenIsNeverPrinted() throws {
        let (f, _, _) = try TamperTests.populated()
        let good = f.cli.run(["token", "alpha", "--key-file", f.keyFile])
        #expect(good.status == 0 && good.stdout == "alpha-access\n", "\(good)")
        try TamperTests.edit(f.cli.vaultPath) { db in
            let app = try String.fetchOne(db, sql: "SELECT id FROM app WHERE name = 'alpha'")!
            var sealed = try Data.fetchOne(db, sql: "SELECT token FROM access_token WHERE app_id = ?", arguments: [app])!
            sealed[sealed.startIndex + 30] ^= 0x01
            try db.execute(sql: "UPDATE access_token SET token = ? WHERE app_id = ?", arguments: [sealed, app])
        }
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["token", "alpha", "--key-file", f.keyFile])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("failed authentication: the file was modified"), "\(result)")
        #expect(result.stdout.isEmpty)
        Hostile.expectClean(result, secrets: ["alpha-access", "alpha-refresh", "alpha-client-secret"])
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    /// The refresh token's ciphertext edited: the refresh is refused before anything is sent.
    @Test func tamperedRefreshTokenIsNeverSent() throws {
        let server = try HostileServer(always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-never","expires_in":3600}"#))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        try TamperTests.edit(e.cli.vaultPath) { db in
            var sealed = try Data.fetchOne(db, sql: "SELECT refresh_token FROM session")!
            sealed[sealed.endIndex - 1] ^= 0x80
            try db.execute(sql: "UPDATE session SET refresh_token = ?", arguments: [sealed])
        }
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("failed authentication"), "\(result)")
        #expect(result.stdout.isEmpty)
        Hostile.expectClean(result)
        #expect(server.requests.isEmpty, "a damaged refresh token is never sent anywhere")
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }
}

extension Hostile {
    /// The raw bytes of a vault SQLite may refuse to read, and of its write-ahead log (where
    /// a write would land first).
    static func snapshotOfFile(_ path: String) throws -> Data {
        let wal = FileManager.default.contents(atPath: path + "-wal") ?? Data()
        return try Data(contentsOf: URL(fileURLWithPath: path)) + wal
    }
}

// MARK: - Permissions as an unprivileged user

@Suite("hostile input: permissions as an unprivileged user",
       .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
struct HostileInputPermissionTests {
    @Test func lockFileOfAnotherUserIsAClearErrorAndNothingIsWritten() throws {
        let s = PermissionTests.Sandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        let lock = s.cli.vaultPath + ".lock"
        unlink(lock)
        // Left by root (say, a `sudo tokvault` run): the user cannot open it.
        #expect(FileManager.default.createFile(atPath: lock, contents: nil, attributes: [.posixPermissions: 0o600]))
        let before = try Hostile.snapshot(s.cli.vaultPath)
        let add = s.run(["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", key],
                        stdin: Hostile.clientSecret + "\n")
        #expect(add.status == 1, "\(add)")
        #expect(add.stderr.contains("cannot open lock file") && add.stderr.contains("/home/v/vault.db.lock: Permission denied"), "\(add)")
        Hostile.expectClean(add)
        #expect(try Hostile.snapshot(s.cli.vaultPath) == before)
        // Reading needs no lock.
        #expect(s.run(["list"]).status == 0)
    }

    @Test func readOnlyVaultFileCanBeListedButNotWritten() throws {
        let s = PermissionTests.Sandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        chmod(s.cli.vaultPath, 0o400)
        let before = try Hostile.snapshot(s.cli.vaultPath)
        #expect(s.run(["list"]).status == 0)
        let add = s.run(["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", key],
                        stdin: Hostile.clientSecret + "\n")
        #expect(add.status == 1, "\(add)")
        #expect(add.stderr.contains("attempt to write a readonly database"), "\(add)")
        Hostile.expectClean(add)
        #expect(try Hostile.snapshot(s.cli.vaultPath) == before)
    }

    @Test func symlinkIntoAnotherUsersDirectoryIsAClearError() {
        let s = PermissionTests.Sandbox()
        let other = TempDir()   // 0700, root's
        let target = other.write("vault.db", "SQLite format 3\u{0}")
        let link = s.dir.file("home/link.db")
        #expect(symlink(target, link) == 0)
        let result = s.run(["list"], env: ["TOKVAULT_VAULT": link])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("cannot access \(link): Permission denied"), "\(result)")
    }
}

// MARK: - Hostile requests to the loopback listener

@Suite("hostile input: loopback listener")
struct HostileInputListenerTests {
    /// A `login --no-browser` waiting on its listener, with what the test needs to talk to it.
    struct WaitingLogin {
        let s: LoginTests.Setup
        let process: LiveProcess
        let authorizeURL: String
        let port: Int
        let path: String
        let state: String

        init(extra: [String] = [], env: [String: String] = [:], noBrowser: Bool = true) throws {
            s = try LoginTests.Setup(publicClient: true)
            process = try LiveProcess.tokvault(
                s.cli, ["login", "adme", "--key-file", s.f.keyFile, "--port", "0", "--timeout", "30"] + (noBrowser ? ["--no-browser"] : []) + extra,
                env: env)
            // The URL line is complete once a line break follows it.
            let printed = process.waitForStderr(seconds: 20) { text in
                guard let start = text.range(of: "/oauth2/v2.0/authorize?") else { return false }
                return text[start.upperBound...].contains("\n")
            }
            try #require(printed, "no authorize URL: \(process.stderr)")
            let line = process.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.hasPrefix("http") && $0.contains("/oauth2/v2.0/authorize?") }
            authorizeURL = try #require(line)
            let redirect = try #require(LoginTerminalTests.parameter("redirect_uri", of: authorizeURL).flatMap { URLComponents(string: $0) })
            port = try #require(redirect.port)
            path = redirect.path.isEmpty ? "/" : redirect.path
            state = try #require(LoginTerminalTests.parameter("state", of: authorizeURL))
        }

        func get(_ target: String) -> RawHTTP.Answer {
            RawHTTP.exchange(port: port, RawHTTP.request("GET", target))
        }

        /// Signs in at the fake provider and hands the real redirect to the listener.
        func completeSignIn() throws -> RawHTTP.Answer {
            let location = try LoginTerminalTests.authorize(authorizeURL)
            let url = try #require(URLComponents(string: location))
            return get(url.percentEncodedPath + "?" + (url.percentEncodedQuery ?? ""))
        }

        func stop() {
            if process.isRunning { _ = process.finish(seconds: 0) }
            s.idp.stop()
        }
    }

    @Test func duplicatedMalformedAndMisaddressedRedirectsAreRefusedAndTheLoginGoesOn() throws {
        let w = try WaitingLogin()
        defer { w.stop() }
        let cases: [(String, Int, String)] = [
            ("\(w.path)?code=first&code=second&state=\(w.state)", 400, "more than one &quot;code&quot; parameter"),
            ("\(w.path)?code=abc&state=\(w.state)&state=\(w.state)", 400, "more than one &quot;state&quot; parameter"),
            ("\(w.path)?code=%FF%FE&state=\(w.state)", 400, "malformed parameters"),
            ("\(w.path)?code=%zz&state=\(w.state)", 400, "malformed parameters"),
            ("\(w.path)?code=abc&state=\(w.state)%", 400, "malformed parameters"),
            ("\(w.path)?state=\(w.state)", 400, "neither a code nor an error"),
            ("\(w.path)", 400, "carried no sign-in response"),
            // The right state on another path is still not the redirect.
            ("/elsewhere?code=abc&state=\(w.state)", 404, "only receives the sign-in redirect"),
            ("\(w.path)/../x?code=abc&state=\(w.state)", 404, "only receives the sign-in redirect"),
            ("\(w.path)?code=abc&state=not-this-login", 400, "does not belong to the login"),
            ("\(w.path)?code=abc", 400, "does not belong to the login"),
        ]
        for (target, status, needle) in cases {
            let answer = w.get(target)
            #expect(answer.status == status, "\(target): \(answer)")
            #expect(answer.text.contains(needle), "\(target): \(answer)")
        }
        // Raw bytes that are not UTF-8 in the request target: the HTTP parser refuses them.
        let raw = RawHTTP.exchange(port: w.port, Array("GET \(w.path)?code=".utf8) + [0xFF, 0xFE, 0x80]
                                   + Array("&state=\(w.state) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
        #expect(raw.status == 400, "\(raw)")
        for (method, status) in [("PUT", 405), ("DELETE", 405), ("OPTIONS", 405)] {
            let answer = RawHTTP.exchange(port: w.port, RawHTTP.request(method, "\(w.path)?code=abc&state=\(w.state)"))
            #expect(answer.status == status, "\(method): \(answer)")
        }
        let plain = RawHTTP.exchange(port: w.port, RawHTTP.request("POST", w.path, headers: [("Content-Type", "text/plain")],
                                                                   body: Array("code=abc&state=\(w.state)".utf8)))
        #expect(plain.status == 415, "\(plain)")
        #expect(w.process.isRunning, "none of them ended the login")
        #expect(w.s.idp.stats.tokenRequests.isEmpty, "no code was redeemed")

        let signedIn = try w.completeSignIn()
        #expect(signedIn.status == 200 && signedIn.text.contains("Signed in"), "\(signedIn)")
        let status = w.process.finish(seconds: 15)
        #expect(status == 0, "\(w.process.stderr)")
        #expect(w.process.stdout.contains("Logged in to adme as alice@contoso.example"))
        #expect(w.process.stderr.contains("ignored a redirect: the redirect carried more than one \"code\" parameter"))
        #expect(w.process.stderr.contains("ignored a redirect: the redirect carried malformed parameters"))
        #expect(w.process.stderr.contains("ignored a redirect whose state does not match"))
        #expect(w.process.stderr.contains("ignored a redirect without a state parameter"))
        #expect(w.s.idp.stats.tokenRequests["authorization_code"] == 1)
    }

    @Test func hugeQueriesAndBodiesAreRefusedAndTheLoginGoesOn() throws {
        let w = try WaitingLogin()
        defer { w.stop() }
        let started = Date()
        // 100 KB and 10 MB request targets: past the HTTP parser's header limit.
        for size in [100 * 1024, 10 * 1024 * 1024] {
            let target = "\(w.path)?code=" + String(repeating: "a", count: size) + "&state=\(w.state)"
            let answer = RawHTTP.exchange(port: w.port, RawHTTP.request("GET", target))
            // Refused with 400, or the connection is closed while the client is still sending.
            #expect(answer.status == 400 || (answer.status == nil && answer.sendFailed), "\(size) bytes: \(answer)")
        }
        // A form post of 10 MB carrying the right state and a code: over the 64 KiB cap.
        var body = Array("code=abc&state=\(w.state)&pad=".utf8)
        body += [UInt8](repeating: UInt8(ascii: "x"), count: 10 * 1024 * 1024 - body.count)
        let post = RawHTTP.exchange(port: w.port, RawHTTP.request("POST", w.path, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body))
        #expect(post.status == 413, "\(post)")
        #expect(post.text.contains("too large"))
        #expect(Date().timeIntervalSince(started) < 8, "each is refused promptly")
        #expect(w.process.isRunning)
        #expect(w.s.idp.stats.tokenRequests.isEmpty)

        #expect(try w.completeSignIn().status == 200)
        #expect(w.process.finish(seconds: 15) == 0, "\(w.process.stderr)")
        #expect(w.s.idp.stats.tokenRequests["authorization_code"] == 1)
    }

    @Test func errorRedirectWithControlCharactersIsShownWithoutThem() throws {
        let w = try WaitingLogin()
        defer { w.stop() }
        let before = try Hostile.snapshot(w.s.cli.vaultPath)
        let target = "\(w.path)?error=access_denied%1B%5D0%3Bpwned%07&error_description=AADSTS65004%3A%20declined%1B%5B2J%0D%0Asecond%20line&state=\(w.state)"
        let answer = w.get(target)
        #expect(answer.status == 200 && answer.text.contains("Sign-in failed"), "\(answer)")
        let status = w.process.finish(seconds: 15)
        #expect(status == 1, "\(w.process.stderr)")
        let stderr = w.process.stderr
        #expect(stderr.contains("tokvault: error: the sign-in failed: access_denied?]0;pwned? — AADSTS65004: declined?[2J"), "\(stderr.debugDescription)")
        #expect(!stderr.contains("second line"), "only the first line of the description")
        #expect(!stderr.contains("\u{1b}") && !stderr.contains("\u{07}"), "\(stderr.debugDescription)")
        #expect(w.s.idp.stats.tokenRequests.isEmpty)
        #expect(try Hostile.snapshot(w.s.cli.vaultPath) == before)
    }

    // MARK: Pasted input

    static func pasted(_ text: String) -> Result<AuthorizationResponse, VaultError> {
        do { return .success(try RedirectParser.parsePasted(text)) } catch let error as VaultError { return .failure(error) } catch {
            return .failure(VaultError.failure("\(error)"))
        }
    }

    @Test func hostilePastedURLsAreParsedStrictlyAndQuickly() throws {
        let base = "http://localhost:8400/callback?"
        let refusals: [(String, Int32, String)] = [
            (base + "code=a&code=b&state=s", 1, "more than one \"code\""),
            (base + "code=a&state=s&state=t", 1, "more than one \"state\""),
            (base + "code=%FF&state=s", 1, "malformed parameters"),
            (base + "code=%E0%A4%A&state=s", 1, "malformed parameters"),
            (base + "state=s", 1, "neither a code nor an error"),
            ("\u{FFFD}\u{FFFD}", 64, "neither a redirect URL nor an authorization code"),   // what readLine makes of invalid UTF-8
            ("abc\u{1b}[2Jdef", 64, "neither a redirect URL nor an authorization code"),
        ]
        for (text, code, needle) in refusals {
            guard case .failure(let error) = Self.pasted(text) else { Issue.record("accepted: \(text.debugDescription)"); continue }
            #expect(error.exitCode == code, "\(text.debugDescription): \(error)")
            #expect(error.message.contains(needle), "\(text.debugDescription): \(error.message)")
        }
        // 100 KB and 1 MB: parsed whole, promptly (10 MB has its own test).
        for size in [100 * 1024, 1024 * 1024] {
            let code = String(repeating: "c", count: size)
            let started = Date()
            let result = Self.pasted(base + "code=\(code)&state=s")
            #expect(Date().timeIntervalSince(started) < 3, "\(size) bytes")
            guard case .success(.code(let parsed, let state)) = result else { Issue.record("\(size) bytes: \(result)"); continue }
            #expect(parsed.count == size && state == "s")
        }
        // The parser hands control characters on as they are; display is where they are replaced
        // (see the listener and terminal tests).
        let error = Self.pasted(base + "error=access_denied&error_description=x%1B%5B2J&state=s")
        guard case .success(.error("access_denied", let description, "s")) = error else { Issue.record("\(error)"); return }
        #expect(description == "x\u{1b}[2J")
    }

    /// 10 MB in one pasted line: no crash and no stack overflow, just a parse that takes
    /// seconds in a debug build. A terminal in canonical mode hands `login` at most 4095 bytes
    /// per line, so this size only reaches the parser through the library.
    @Test func tenMegabytePasteIsParsedWhole() throws {
        let size = 10 * 1024 * 1024
        let started = Date()
        let result = Self.pasted("http://localhost:8400/callback?code=" + String(repeating: "c", count: size) + "&code=again&state=s")
        #expect(Date().timeIntervalSince(started) < 20)
        guard case .failure(let error) = result else { Issue.record("accepted a duplicated code"); return }
        #expect(error.message.contains("more than one \"code\""), "\(error.message)")
    }

    /// The same error URL pasted into `login --manual` on a terminal.
    @Test func pastedErrorURLWithControlCharactersIsShownWithoutThem() throws {
        let s = try LoginTests.Setup(redirectURI: LoginTerminalTests.redirectURI)
        defer { s.idp.stop() }
        let session = try LoginTerminalTests.manualLogin(s)
        defer { session.kill() }
        let url = try LoginTerminalTests.authorizeURL(from: session)
        let state = try #require(LoginTerminalTests.parameter("state", of: url))
        session.type("\(LoginTerminalTests.redirectURI)?error=consent_required%1B%5D0%3Bpwned%07&error_description=AADSTS65001%3A%20no%07consent&state=\(state)")
        let status = session.finish(seconds: 15)
        #expect(status == 1, "\(session.text)")
        #expect(session.text.contains("the sign-in failed: consent_required?]0;pwned? — AADSTS65001: no?consent"), "\(session.text.debugDescription)")
        #expect(!session.text.contains("\u{1b}]0;pwned") && !session.text.contains("\u{07}"), "\(session.text.debugDescription)")
        #expect(s.idp.stats.tokenRequests.isEmpty)
    }
}

// MARK: - Hostile token endpoints

/// One misbehaving answer and what tokvault must make of it: exit status and message, and for
/// token endpoints the requests sent and the hint.
struct HostileAnswerCase: Sendable, CustomTestStringConvertible {
    var name: String
    var behavior: HostileServer.Behavior
    var status: Int32
    var needle: String
    /// Requests the endpoint receives (retries included).
    var requests: Int = 1
    /// Part of the `tokvault: hint:` line, when there must be one.
    var hint: String?
    var testDescription: String { name }
}

@Suite("hostile input: token endpoint")
struct HostileInputTokenEndpointTests {
    static let cases: [HostileAnswerCase] = [
        HostileAnswerCase(name: "HTML page with 200", behavior: HostileServer.response("200 OK", contentType: "text/html", body: "<html><body>Sign in to the Wi-Fi</body></html>"),
                          status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(name: "XML with 200", behavior: HostileServer.response("200 OK", contentType: "application/xml", body: "<?xml version=\"1.0\"?><token><access_token>x</access_token></token>"),
                          status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(name: "JSON with wrong types", behavior: Hostile.json("200 OK", #"{"access_token":12345,"token_type":"Bearer","expires_in":"soon"}"#),
                          status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(name: "expires_in as an object", behavior: Hostile.json("200 OK", #"{"access_token":"at-CANARY-obj","expires_in":{"s":1}}"#),
                          status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(name: "empty 200", behavior: HostileServer.response("200 OK", contentType: "application/json"),
                          status: 1, needle: "answered 200 with a body that is not a token response"),
        HostileAnswerCase(name: "200 without access_token", behavior: Hostile.json("200 OK", #"{"token_type":"Bearer","expires_in":3600,"refresh_token":"rt-CANARY-new"}"#),
                          status: 1, needle: "answered without an access_token"),
        HostileAnswerCase(name: "token_type mac with an escape", behavior: Hostile.json("200 OK", #"{"access_token":"at-CANARY-mac","token_type":"mac\u001b[31m","expires_in":3600}"#),
                          status: 1, needle: "answered token_type \"mac?[31m\"; tokvault handles Bearer tokens"),
        // An id_token that is garbage or fails its checks no longer ends a refresh: the rotated
        // refresh token is stored (RefreshIDTokenTests).
        HostileAnswerCase(name: "10 MB body with a length", behavior: .flood(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Hostile.tenMiB)\r\nConnection: close", count: Hostile.tenMiB, filler: 0x20),
                          status: 3, needle: "no answer from the identity provider at 127.0.0.1", hint: "it was not sent again"),
        HostileAnswerCase(name: "10 MB body until close", behavior: .flood(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close", count: Hostile.tenMiB, filler: 0x20),
                          status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(name: "connection closed without an answer", behavior: .close,
                          status: 3, needle: "the connection was closed before an answer", hint: "it was not sent again"),
        HostileAnswerCase(name: "not HTTP", behavior: .bytes(Array("HELLO WORLD\r\n\r\n".utf8)),
                          status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(name: "OAuth error with control characters", behavior: Hostile.json("400 Bad Request",
                          #"{"error":"invalid_grant\u001b]0;pwned\u0007","error_description":"AADSTS70000: bad\u001b[2J\r\nTrace ID: x","trace_id":"t\u001b[31m","correlation_id":"c\u0007"}"#),
                          status: 1, needle: "the identity provider refused the request: invalid_grant?]0;pwned? (AADSTS70000: bad?[2J) [trace id t?[31m, correlation id c?]"),
        HostileAnswerCase(name: "400 with a control character in the content type", behavior: .bytes(Array(
                          "HTTP/1.1 400 Bad Request\r\nContent-Type: text/\u{1b}[31mplain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope".utf8)),
                          status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(name: "429 with Retry-After 120", behavior: HostileServer.response("429 Too Many Requests", contentType: "text/html", body: "<html>slow down</html>", headers: [("Retry-After", "120")]),
                          status: 3, needle: "answered HTTP 429 with an HTML page", hint: "the identity provider is throttling requests; try again later"),
        HostileAnswerCase(name: "429 with Retry-After as a date", behavior: HostileServer.response("429 Too Many Requests", contentType: nil, body: "", headers: [("Retry-After", "Wed, 21 Oct 2065 07:28:00 GMT")]),
                          status: 3, needle: "answered HTTP 429 with an empty body", requests: 1, hint: "longer than the 30 s tokvault waits"),
        HostileAnswerCase(name: "503 with an empty body", behavior: HostileServer.response("503 Service Unavailable", contentType: nil),
                          status: 3, needle: "answered HTTP 503 with an empty body", requests: 1, hint: "the refresh token is single-use and may have been used"),
        HostileAnswerCase(name: "401 JSON that is not an OAuth error", behavior: Hostile.json("401 Unauthorized", #"{"message":"who are you"}"#),
                          status: 1, needle: "answered HTTP 401 with a body that is not an OAuth error (application/json)"),
    ]

    @Test(arguments: cases)
    func misbehavingTokenEndpoint(_ c: HostileAnswerCase) throws {
        let server = try HostileServer(always: c.behavior)
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let started = Date()
        let result = try e.runRefused(["token", "adme"], c, canaries: ["at-CANARY"])
        #expect(Date().timeIntervalSince(started) < 8)
        #expect(result.stderr.hasPrefix("tokvault: error: "), "\(result)")
        if let hint = c.hint { #expect(result.stderr.contains("tokvault: hint: ") && result.stderr.contains(hint), "\(result.stderr.debugDescription)") }
        #expect(result.stdout.isEmpty, "no token printed")
        #expect(server.requests.count == c.requests, "\(server.requests.map(\.target))")
        #expect(server.requests.allSatisfy { $0.method == "POST" && Hostile.isTokenPath($0) })
    }

    @Test(arguments: ["302 Found", "303 See Other", "307 Temporary Redirect", "308 Permanent Redirect"])
    func redirectsAreNeverFollowed(_ status: String) throws {
        let elsewhere = try HostileServer(always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-stolen","expires_in":3600}"#))
        defer { elsewhere.stop() }
        let server = try HostileServer(always: HostileServer.response(status, contentType: nil, headers: [("Location", elsewhere.url + "/steal")]))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["token", "adme"])
        let code = status.prefix(3)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("the token endpoint 127.0.0.1 answered HTTP \(code) with an empty body"), "\(result)")
        #expect(result.stderr.contains("a proxy or firewall may be answering"), "\(result)")
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, "at-CANARY"])
        #expect(server.requests.count == 1)
        #expect(elsewhere.requests.isEmpty, "the refresh token never goes to the Location")
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    @Test func redirectLoopIsOneRequest() throws {
        let server = try HostileServer { request in
            HostileServer.response("307 Temporary Redirect", contentType: nil, headers: [("Location", request.target)])
        }
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let result = e.run(["token", "adme"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("answered HTTP 307"), "\(result)")
        #expect(server.requests.count == 1)
    }

    @Test func tlsToAPlainPortCannotReachAndSendsNothing() throws {
        let server = try HostileServer(always: HostileServer.response("400 Bad Request", contentType: "text/plain", body: "plain HTTP here"))
        defer { server.stop() }
        // A bare host:port authority is https.
        let e = Hostile.Endpoint(authorityHost: "127.0.0.1:\(server.port)")
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let started = Date()
        let result = e.run(["token", "adme"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr.contains("cannot reach the identity provider at 127.0.0.1"), "\(result)")
        #expect(result.stderr.contains("nothing was sent"), "\(result)")
        Hostile.expectClean(result)
        // A handshake failure is certainly before the request: retried, and only hellos arrive.
        #expect(server.requests.count == 3, "\(server.requests)")
        #expect(server.requests.allSatisfy { $0.isTLS })
        #expect(Date().timeIntervalSince(started) < 8)
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    @Test(arguments: ["407", "close", "200-then-garbage"])
    func hostileProxySeesOnlyTheConnect(_ mode: String) throws {
        let proxy = try HostileServer(always: {
            switch mode {
            case "407": return HostileServer.response("407 Proxy Authentication Required", contentType: "text/html", body: "<html>log in</html>",
                                                      headers: [("Proxy-Authenticate", "Basic realm=\"corp\"")])
            case "close": return .close
            default: return .bytes(Array("HTTP/1.1 200 Connection established\r\n\r\nthis is not TLS\r\n".utf8))
            }
        }())
        defer { proxy.stop() }
        // An app at the real Azure host: only the proxy is ever contacted.
        let f = Fixture()
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        #expect(f.cli.run(["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: Hostile.refreshToken + "\n").status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["token", "adme", "--key-file", f.keyFile], env: ["HTTPS_PROXY": proxy.url, "NO_PROXY": ""])
        #expect(result.status == 3, "\(result)")
        let needle = ["407": "no answer from the identity provider at login.microsoftonline.com: Proxy authentication required",
                      "close": "the connection was closed before an answer"][mode] ?? "the identity provider at login.microsoftonline.com"
        #expect(result.stderr.contains(needle), "\(result)")
        Hostile.expectClean(result)
        #expect(proxy.requests.count >= 1)
        #expect(proxy.requests.allSatisfy { $0.method == "CONNECT" && $0.target == "login.microsoftonline.com:443" && $0.bodyLength == 0 },
                "\(proxy.requests)")
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    /// expires_in below zero: the token is printed once, stored as already expired, and the
    /// next call refreshes again rather than serving it.
    @Test func negativeExpiresInIsStoredAsExpired() throws {
        let server = try HostileServer(always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-neg","token_type":"Bearer","expires_in":-100}"#))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let first = e.run(["token", "adme"])
        #expect(first.status == 0 && first.stdout == "at-CANARY-neg\n", "\(first)")
        let second = e.run(["token", "adme"])
        #expect(second.status == 0, "\(second)")
        #expect(server.requests.count == 2, "an expired token is never served from the cache")
        let lifetime = try DatabaseQueue(path: e.cli.vaultPath).read { try Int64.fetchOne($0, sql: "SELECT expires_at - obtained_at FROM access_token") }
        #expect(lifetime.map { $0 <= 1 } == true, "stored as expired on arrival: \(lifetime.map(String.init) ?? "none")")
    }

    @Test func hugeExpiresInIsClampedToAYear() throws {
        let server = try HostileServer(always: Hostile.json("200 OK", #"{"access_token":"at-CANARY-huge","token_type":"Bearer","expires_in":"99999999999999"}"#))
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let first = e.run(["token", "adme"])
        #expect(first.status == 0 && first.stdout == "at-CANARY-huge\n", "\(first)")
        let lifetime = try DatabaseQueue(path: e.cli.vaultPath).read { try Int64.fetchOne($0, sql: "SELECT expires_at - obtained_at FROM access_token") }
        let year: Int64 = 366 * 86400
        let seconds = try #require(lifetime)
        #expect(seconds <= year + 1 && seconds > year - 86400, "\(seconds)")
    }

    // MARK: Slow servers, at the library level with short timeouts

    static func shortTimeoutClient() -> TokenClient {
        var options = TokenClient.Options()
        options.connectTimeout = .seconds(1)
        options.readTimeout = .seconds(1)
        return TokenClient(options: options)
    }

    static func app(_ server: HostileServer) throws -> App {
        try FlowUnitTests.azureApp(tenant: Hostile.tenant, authorityHost: server.url, isPublic: true)
    }

    /// Runs a refresh against `server` with 1 s timeouts and returns its error. How soon the
    /// client gave up is read from the server (`hangUps`): this process's async tasks can wait
    /// long for a thread while other tests block theirs, which would distort a clock read here.
    static func refresh(against server: HostileServer) async throws -> VaultError? {
        let app = try Self.app(server)
        let client = Self.shortTimeoutClient()
        let outcome = await Hostile.within(60, onTimeout: { server.stop() }) {
            try await client.redeem(.refreshToken(FlowUnitTests.secure(Hostile.refreshToken), scope: app.scope), app: app, credential: .none)
        }
        switch outcome {
        case nil:
            Issue.record("still waiting after 60 s")
            return nil
        case .success?:
            Issue.record("a misbehaving server produced tokens")
            return nil
        case .failure(let error)?:
            return error as? VaultError
        }
    }

    /// The client hung up on its single connection, within `seconds` of connecting.
    static func expectHungUp(_ server: HostileServer, within seconds: Double, sourceLocation: SourceLocation = #_sourceLocation) async {
        #expect(server.requests.count == 1, "a refresh token that may have arrived is never resent", sourceLocation: sourceLocation)
        // The server notices at its next poll or write.
        for _ in 0..<100 where server.hangUps.isEmpty { try? await Task.sleep(nanoseconds: 20_000_000) }
        let hangUps = server.hangUps
        #expect(hangUps.count == 1 && hangUps.allSatisfy { $0 < seconds }, "hang-ups after \(hangUps) s", sourceLocation: sourceLocation)
    }

    @Test func silentServerEndsAtTheReadTimeoutAndIsNotAskedTwice() async throws {
        let server = try HostileServer(always: .silence)
        defer { server.stop() }
        let error = try await Self.refresh(against: server)
        #expect(error?.exitCode == 3, "\(String(describing: error))")
        #expect(error?.message.contains("no answer from the identity provider at 127.0.0.1: timed out waiting for the answer") == true, "\(String(describing: error))")
        #expect(error?.hint?.contains("it was not sent again") == true)
        await Self.expectHungUp(server, within: 4)
    }

    @Test func tricklingHeadersEndAtTheReadTimeout() async throws {
        // One byte every 300 ms, for a minute: the head must still come within the read timeout.
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + String(repeating: "p", count: 200) + "\r\n\r\n"
        let server = try HostileServer(always: .trickle(Array(head.utf8), milliseconds: 300))
        defer { server.stop() }
        let error = try await Self.refresh(against: server)
        #expect(error?.exitCode == 3, "\(String(describing: error))")
        #expect(error?.message.contains("no answer from the identity provider at 127.0.0.1") == true, "\(String(describing: error))")
        await Self.expectHungUp(server, within: 4)
    }

    @Test func tricklingBodyEndsAtTheDeadline() async throws {
        // The head at once, then the body one byte every 100 ms for a minute: every byte restarts
        // the read timeout, so only the request's deadline (1 + 1 + 5 s here) can end it. (On a
        // loaded machine a gap may still exceed the 1 s read timeout and end it sooner.)
        let body = "{\"access_token\":\"at-CANARY-slow\",\"expires_in\":3600" + String(repeating: " ", count: 600) + "}"
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        let server = try HostileServer(always: .headThenTrickle(head: Array(head.utf8), body: Array(body.utf8), milliseconds: 100))
        defer { server.stop() }
        let error = try await Self.refresh(against: server)
        #expect(error?.exitCode == 3, "\(String(describing: error))")
        #expect(error?.message.contains("no answer from the identity provider at 127.0.0.1: timed out") == true, "\(String(describing: error))")
        #expect(error?.hint?.contains("it was not sent again") == true)
        await Self.expectHungUp(server, within: 10)
    }

    @Test func silentDeviceAuthorizationEndpointEndsAtTheReadTimeout() async throws {
        let server = try HostileServer(always: .silence)
        defer { server.stop() }
        let app = try Self.app(server)
        let flow = DeviceFlow(client: Self.shortTimeoutClient())
        let outcome = await Hostile.within(60, onTimeout: { server.stop() }) {
            try await flow.start(app: app, credential: .none)
        }
        guard case .failure(let error as VaultError)? = outcome else { Issue.record("\(String(describing: outcome))"); return }
        #expect(error.exitCode == 3)
        #expect(error.message.contains("timed out waiting for the answer"), "\(error.message)")
        #expect(server.requests.count == 1 && Hostile.isDevicePath(server.requests[0]))
        await Self.expectHungUp(server, within: 4)
    }
}

// MARK: - Hostile device authorization and discovery answers

@Suite("hostile input: device authorization and discovery")
struct HostileInputDeviceAndDiscoveryTests {
    static let deviceCases: [HostileAnswerCase] = [
        HostileAnswerCase(name: "HTML page with 200", behavior: HostileServer.response("200 OK", contentType: "text/html", body: "<html>portal</html>"),
                          status: 1, needle: "the device authorization endpoint 127.0.0.1 answered 200 with a body that is not a device authorization"),
        HostileAnswerCase(name: "no device_code", behavior: Hostile.json("200 OK", #"{"user_code":"ABCD","verification_uri":"https://microsoft.com/devicelogin"}"#),
                          status: 1, needle: "answered without device_code, user_code or verification_uri"),
        HostileAnswerCase(name: "javascript: verification_uri", behavior: Hostile.json("200 OK", #"{"device_code":"dc-CANARY","user_code":"ABCD","verification_uri":"javascript:alert(1)"}"#),
                          status: 1, needle: "answered a verification_uri that is not a web address"),
        HostileAnswerCase(name: "10 MB body", behavior: .flood(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Hostile.tenMiB)\r\nConnection: close", count: Hostile.tenMiB, filler: 0x20),
                          status: 3, needle: "no answer from the identity provider at 127.0.0.1"),
        HostileAnswerCase(name: "302 redirect", behavior: HostileServer.response("302 Found", contentType: nil, headers: [("Location", "http://127.0.0.1:9/x")]),
                          status: 1, needle: "answered HTTP 302 with an empty body"),
        HostileAnswerCase(name: "connection closed", behavior: .close,
                          status: 3, needle: "the connection was closed before an answer"),
        HostileAnswerCase(name: "OAuth error with control characters", behavior: Hostile.json("400 Bad Request", #"{"error":"invalid_client\u001b[2J","error_description":"AADSTS7000218: no\u0007"}"#),
                          status: 1, needle: "the identity provider refused the request: invalid_client?[2J (AADSTS7000218: no?)"),
    ]

    @Test(arguments: deviceCases)
    func misbehavingDeviceAuthorizationEndpoint(_ c: HostileAnswerCase) throws {
        let server = try HostileServer(always: c.behavior)
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        _ = try e.runRefused(["login", "adme", "--device"], c, canaries: ["dc-CANARY"])
        #expect(server.requests.count == 1 && Hostile.isDevicePath(server.requests[0]), "\(server.requests.map(\.target))")
    }

    static let deviceGrant =
        #"{"device_code":"dc-CANARY-poll","user_code":"AB\u001b[2JCD","verification_uri":"https://microsoft.com/devicelogin","expires_in":3,"interval":1,"message":"\u001b]0;pwned\u0007 enter the code"}"#

    @Test func pendingForeverEndsWhenTheCodeExpires() throws {
        let server = try HostileServer { request in
            Hostile.isDevicePath(request) ? Hostile.json("200 OK", Self.deviceGrant)
                : Hostile.json("400 Bad Request", #"{"error":"authorization_pending","error_description":"AADSTS70016: pending\u001b[2J"}"#)
        }
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let started = Date()
        let result = e.run(["login", "adme", "--device"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("the device code expired before the sign-in was completed"), "\(result)")
        #expect(result.stderr.contains("AB?[2JCD"), "the user code is shown, its control characters replaced: \(result.stderr.debugDescription)")
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, "dc-CANARY"])
        #expect(Date().timeIntervalSince(started) < 9)
        #expect(server.requests.filter(Hostile.isTokenPath).count >= 1)
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    @Test(arguments: ["html", "redirect", "slow-down"])
    func misbehavingPollAnswers(_ mode: String) throws {
        let server = try HostileServer { request in
            if Hostile.isDevicePath(request) {
                return Hostile.json("200 OK", Self.deviceGrant)
            }
            switch mode {
            case "html": return HostileServer.response("200 OK", contentType: "text/html", body: "<html>ok</html>")
            case "redirect": return HostileServer.response("307 Temporary Redirect", contentType: nil, headers: [("Location", "http://127.0.0.1:9/x")])
            default: return Hostile.json("400 Bad Request", #"{"error":"slow_down"}"#)
            }
        }
        defer { server.stop() }
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let result = e.run(["login", "adme", "--device"])
        #expect(result.status == 1, "\(result)")
        switch mode {
        case "html": #expect(result.stderr.contains("answered 200 with a body that is not a token response"), "\(result)")
        case "redirect": #expect(result.stderr.contains("answered HTTP 307"), "\(result)")
        default:
            // slow_down adds 5 s to a 1 s interval: the 3 s code expires after the first poll.
            #expect(result.stderr.contains("the device code expired"), "\(result)")
            #expect(server.requests.filter(Hostile.isTokenPath).count == 1)
        }
        Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken, "dc-CANARY"])
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before)
    }

    /// A discovery document served at `/.well-known/openid-configuration`; `{ISSUER}` is
    /// replaced by the server's own URL, so that the issuer check itself passes.
    static func document(_ template: String) -> @Sendable (HostileServer.Request) -> HostileServer.Behavior {
        { request in
            let issuer = "http://" + (request.headers["host"] ?? "")
            return Hostile.json("200 OK", template.replacingOccurrences(of: "{ISSUER}", with: issuer))
        }
    }

    static let endpoints = #""authorization_endpoint":"{ISSUER}/authorize","token_endpoint":"{ISSUER}/token""#

    static let discoveryCases: [HostileAnswerCase] = [
        HostileAnswerCase(name: "issuer with control characters", behavior: Hostile.json("200 OK", #"{"issuer":"https://evil.example\u001b]0;pwned\u0007","authorization_endpoint":"https://evil.example/a","token_endpoint":"https://evil.example/t"}"#),
                          status: 1, needle: "names another issuer: https://evil.example?]0;pwned?"),
        HostileAnswerCase(name: "HTML page with 200", behavior: HostileServer.response("200 OK", contentType: "text/html", body: "<html>login</html>"),
                          status: 1, needle: "is not OpenID Connect metadata"),
        HostileAnswerCase(name: "302 redirect", behavior: HostileServer.response("302 Found", contentType: nil, headers: [("Location", "https://evil.example/.well-known/openid-configuration")]),
                          status: 1, needle: "/.well-known/openid-configuration answered HTTP 302"),
        HostileAnswerCase(name: "10 MB body", behavior: .flood(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Hostile.tenMiB)\r\nConnection: close", count: Hostile.tenMiB, filler: 0x20),
                          status: 3, needle: "cannot fetch http://127.0.0.1:"),
        HostileAnswerCase(name: "connection closed", behavior: .close, status: 3, needle: "the connection was closed before an answer"),
    ]

    @Test(arguments: discoveryCases)
    func misbehavingDiscoveryDocument(_ c: HostileAnswerCase) throws {
        let server = try HostileServer(always: c.behavior)
        defer { server.stop() }
        try expectIssuerRefused(server, status: c.status, needle: c.needle)
    }

    @Test(arguments: [
        (#"{"issuer":"{ISSUER}",\#(endpoints.replacingOccurrences(of: "\"{ISSUER}/token\"", with: "\"http://evil.example/token\""))}"#, Int32(64), "token_endpoint (discovery): \"http://evil.example/token\" is not https"),
        (#"{"issuer":"{ISSUER}",\#(endpoints),"device_authorization_endpoint":"http://evil.example/device"}"#, Int32(64), "device_authorization_endpoint (discovery): \"http://evil.example/device\" is not https"),
        (#"{"issuer":"{ISSUER}",\#(endpoints.replacingOccurrences(of: "\"{ISSUER}/authorize\"", with: "\"https://user:pw@evil.example/a\""))}"#, Int32(64), "credentials in the URL are not allowed"),
        (#"{"issuer":"{ISSUER}/",\#(endpoints)}"#, Int32(1), "names another issuer"),
        (#"{"issuer":"{ISSUER}","authorization_endpoint":42,"token_endpoint":"{ISSUER}/token"}"#, Int32(1), "is not OpenID Connect metadata"),
    ])
    func discoveryDocumentPointingElsewhereIsRefused(_ template: String, _ status: Int32, _ needle: String) throws {
        let server = try HostileServer(Self.document(template))
        defer { server.stop() }
        try expectIssuerRefused(server, status: status, needle: needle)
    }

    func expectIssuerRefused(_ server: HostileServer, status: Int32, needle: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = Fixture()
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["add-app", "oidc", "--issuer", server.url, "--client-id", "c", "--secret-stdin", "--key-file", f.keyFile],
                               stdin: Hostile.clientSecret + "\n")
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(needle), "\(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        Hostile.expectClean(result)
        #expect(server.requests.count == 1 && server.requests[0].target == "/.well-known/openid-configuration",
                "\(server.requests.map(\.target))", sourceLocation: sourceLocation)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "nothing was added", sourceLocation: sourceLocation)
    }

    @Test func plainHTTPIssuerOfARemoteHostIsRefusedBeforeAnyRequest() throws {
        let f = Fixture()
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["add-app", "oidc", "--issuer", "http://idp.example.com", "--client-id", "c", "--public"])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("--issuer: \"http://idp.example.com\" is not https"), "\(result)")
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }
}

// MARK: - Hostile certificate and key files

@Suite("hostile input: certificates and keys")
struct HostileInputCertificateTests {
    /// `add-app deploy --flow client-credentials --certificate CERT (--private-key-file KEY | --private-key-stdin)`.
    func addApp(_ f: Fixture, certificate: String, key: String?, stdin: String? = nil) -> CLI.Result {
        var args = ["add-app", "deploy", "--tenant", "t", "--client-id", Fixture.clientID, "--flow", "client-credentials", "--certificate", certificate]
        if let key { args += ["--private-key-file", key] } else if stdin != nil { args += ["--private-key-stdin"] }
        return f.cli.run(args + ["--key-file", f.keyFile], stdin: stdin)
    }

    func write(_ dir: TempDir, _ name: String, _ bytes: [UInt8]) -> String {
        let path = dir.file(name)
        FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        return path
    }

    func expectRefused(_ f: Fixture, _ result: CLI.Result, status: Int32 = 64, _ needle: String, before: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(needle), "\(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        Hostile.expectClean(result, secrets: [ServicePrincipalTests.keyCanary(TestCertificate.shared.privateKeyPEM)], sourceLocation: sourceLocation)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "nothing was added", sourceLocation: sourceLocation)
    }

    @Test func binaryCertificateFormatsAreRefusedWithTheConversion() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let key = f.dir.write("key.pem", shared.privateKeyPEM)
        let der = write(f.dir, "cert.der", shared.derBytes)
        try expectRefused(f, addApp(f, certificate: der, key: key), "\(der) is not PEM text", before: before)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        let derKey = write(f.dir, "key.der", [UInt8](try shared.privateKey().derRepresentation))
        try expectRefused(f, addApp(f, certificate: pem, key: derKey), "\(derKey) is not PEM text", before: before)
    }

    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    func openssl(_ arguments: [String]) throws {
        let result = CLI.exec(["/usr/bin/openssl"] + arguments, environment: ["PATH": "/usr/bin:/bin"])
        try #require(result.status == 0, "openssl \(arguments): \(result)")
    }

    /// Real PKCS#12, encrypted and SEC 1 files as openssl writes them.
    @Test(.enabled(if: HostileInputCertificateTests.hasOpenSSL))
    func opensslFormatsThatAreNotUnencryptedRSAPEMAreRefused() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        let key = f.dir.write("key.pem", shared.privateKeyPEM)
        let p12 = f.dir.file("cert.pfx")
        try openssl(["pkcs12", "-export", "-in", pem, "-inkey", key, "-out", p12, "-passout", "pass:x"])
        for (certificate, keyFile) in [(p12, key), (pem, p12)] {
            let result = addApp(f, certificate: certificate, key: keyFile)
            try expectRefused(f, result, "\(p12) is not PEM text", before: before)
            #expect(result.stderr.contains("openssl pkcs12"), "\(result)")
        }
        let encrypted = f.dir.file("enc.pem")
        try openssl(["pkey", "-in", key, "-aes256", "-passout", "pass:x", "-out", encrypted])
        let pkcs8 = addApp(f, certificate: pem, key: encrypted)
        try expectRefused(f, pkcs8, "the private key in \(encrypted) is encrypted", before: before)
        #expect(pkcs8.stderr.contains("openssl pkey"), "\(pkcs8)")
        let legacy = f.dir.file("legacy.pem")
        try openssl(["rsa", "-in", key, "-aes128", "-traditional", "-passout", "pass:x", "-out", legacy])
        try expectRefused(f, addApp(f, certificate: pem, key: legacy), "the private key in \(legacy) is encrypted", before: before)
        let sec1 = f.dir.file("ec.pem")
        try openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1])
        try expectRefused(f, addApp(f, certificate: pem, key: sec1), "\(sec1) holds no PEM private key", before: before)
    }

    @Test func unusableKeysAreRefused() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        // An EC key in PKCS#8 (SEC 1 files are in the openssl test).
        let ec = P256.Signing.PrivateKey()
        let ecPKCS8 = f.dir.write("ec8.pem", ec.pemRepresentation)
        try expectRefused(f, addApp(f, certificate: pem, key: ecPKCS8), "the private key in \(ecPKCS8) is not an RSA key of 2048 bits or more", before: before)
        // 1024-bit RSA: the key, and a certificate made for it (which X.509 parsing refuses).
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let smallKey = f.dir.write("small-key.pem", small.pkcs8PEMRepresentation)
        try expectRefused(f, addApp(f, certificate: pem, key: smallKey), "the private key in \(smallKey) is not an RSA key of 2048 bits or more", before: before)
        let smallCertificate = try TestCertificate.make(key: small)
        let smallPEM = f.dir.write("small.pem", smallCertificate.certificatePEM)
        try expectRefused(f, addApp(f, certificate: smallPEM, key: smallKey), "the certificate could not be read", before: before)
    }

    @Test func ecCertificateIsRefused() throws {
        let f = Fixture()
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("ec") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(), issuerPrivateKey: Certificate.PrivateKey(key))
        let pem = f.dir.write("ec-cert.pem", try certificate.serializeAsPEM().pemString)
        let keyFile = f.dir.write("ec-key.pem", key.pemRepresentation)
        try expectRefused(f, addApp(f, certificate: pem, key: keyFile), "the certificate's key is not an RSA key", before: before)
    }

    @Test func emptyHugeAndMissingInputsAreRefused() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        let key = f.dir.write("key.pem", shared.privateKeyPEM)
        let empty = f.dir.write("empty.pem", "")
        try expectRefused(f, addApp(f, certificate: empty, key: key), "the certificate file is empty", before: before)
        try expectRefused(f, addApp(f, certificate: pem, key: empty), "the private key file is empty", before: before)
        try expectRefused(f, addApp(f, certificate: pem, key: nil, stdin: ""), "the private key on standard input is empty", before: before)
        // 10 MB of a repeated certificate: refused by size before any parsing.
        var big = shared.certificatePEM
        while big.utf8.count < 10 * 1024 * 1024 { big += big }
        let huge = f.dir.write("huge.pem", big)
        try expectRefused(f, addApp(f, certificate: huge, key: key), "the certificate file is longer than 256 KiB", before: before)
        try expectRefused(f, addApp(f, certificate: pem, key: huge), "the private key file is longer than 256 KiB", before: before)
        // Through a file rather than a pipe, so that the test never writes into a closed pipe.
        let started = Date()
        let piped = CLI.exec(["/bin/sh", "-c", "exec \"$0\" add-app deploy --tenant t --client-id \"$1\" --flow client-credentials --certificate \"$2\" --private-key-stdin --key-file \"$3\" < \"$4\"",
                              CLI.binary, Fixture.clientID, pem, f.keyFile, huge], environment: f.cli.environment, cwd: f.dir.path)
        try expectRefused(f, piped, "the private key on standard input is longer than 256 KiB", before: before)
        #expect(Date().timeIntervalSince(started) < 5)
        // Not a file at all.
        try expectRefused(f, addApp(f, certificate: pem, key: f.dir.file("missing.pem")), status: 1,
                          "cannot read \(f.dir.file("missing.pem")): No such file or directory", before: before)
        mkdir(f.dir.file("keydir"), 0o700)
        try expectRefused(f, addApp(f, certificate: pem, key: f.dir.file("keydir")), status: 1, "Is a directory", before: before)
    }
}

// MARK: - Hostile environment and configuration

@Suite("hostile input: environment")
struct HostileInputEnvironmentTests {
    @Test func keyFileVariableThatIsEmptyADirectoryOrTheWrongKey() throws {
        let f = Fixture(keyFileOnly: true)
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let empty = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": ""])
        #expect(empty.status == 4, "\(empty)")
        #expect(empty.stderr.contains("unlocks only with a key file"), "an empty variable is unset: \(empty)")
        let emptyFile = f.dir.write("empty.key", "")
        let zero = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": emptyFile])
        #expect(zero.status == 4, "\(zero)")
        #expect(zero.stderr.contains("\(emptyFile) is not a tokvault key file"), "\(zero)")
        let directory = f.dir.file("keys")
        mkdir(directory, 0o700)
        let dir = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": directory])
        #expect(dir.status == 4, "\(dir)")
        #expect(dir.stderr.contains("cannot read key file \(directory)"), "\(dir)")
        let other = Fixture(keyFileOnly: true)
        let wrong = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": other.keyFile])
        #expect(wrong.status == 4, "\(wrong)")
        #expect(wrong.stderr.contains("does not unlock vault"), "\(wrong)")
        // A key file given with the flag wins over a broken variable.
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile], env: ["TOKVAULT_KEY_FILE": directory]).status == 0)
        for result in [empty, zero, dir, wrong] { Hostile.expectClean(result) }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test func passphraseVariableWithLineBreaks() throws {
        let f = Fixture()
        let p = Fixture.passphrase
        // The first line is the passphrase, as in files and at the prompt.
        for (value, status) in [(p + "\nsecond line", Int32(0)), (p + "\r\n", 0), (p + "\r", 0), ("\n" + p, 4), ("\r\n" + p, 4)] {
            let result = f.cli.run(["doctor", "--verify"], env: ["TOKVAULT_PASSPHRASE": value])
            #expect(result.status == status, "\(value.debugDescription): \(result)")
            if status == 4 { #expect(result.stderr.contains("wrong passphrase"), "\(value.debugDescription): \(result)") }
            #expect(!result.stdout.contains(p) && !result.stderr.contains(p), "the passphrase is never echoed")
        }
    }

    @Test(arguments: ["::::", "http://user:hunter2@", "http://[::1", "http://a b", "socks5://proxy:1080"])
    func garbageProxyIsAUsageErrorWithoutItsPassword(_ proxy: String) throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        #expect(f.cli.run(["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: Hostile.refreshToken + "\n").status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["token", "adme", "--key-file", f.keyFile], env: ["HTTPS_PROXY": proxy])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("HTTPS_PROXY"), "\(result)")
        #expect(!result.stderr.contains("hunter2"))
        Hostile.expectClean(result)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test(arguments: [
        (",,,", false), ("*.", false), (".", false), (":443", false), ("*.*", false), ("[::1]", false),
        ("login.microsoftonline.com:abc", false), (" * ", true), ("com", true), (",login.microsoftonline.com,", true),
    ])
    func oddNoProxyValues(_ noProxy: String, _ bypassed: Bool) throws {
        let environment: @Sendable (String) -> String? = { ["HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": noProxy][$0] }
        let proxy = try ProxySettings.forURL("https://login.microsoftonline.com/t/oauth2/v2.0/token", environment: environment)
        #expect((proxy == nil) == bypassed, "NO_PROXY=\(noProxy.debugDescription)")
    }

    /// A $BROWSER that fails, or does not exist, does not break the login: the redirect still
    /// completes it.
    @Test(arguments: ["/bin/false", "/nonexistent/browser"])
    func failingBrowserDoesNotBreakTheLogin(_ browser: String) throws {
        let w = try HostileInputListenerTests.WaitingLogin(env: ["BROWSER": browser], noBrowser: false)
        defer { w.stop() }
        // Only when no fallback (xdg-open, open) exists on the PATH the CLI gets.
        let fallback = ["xdg-open", "open"].contains { name in ["/usr/local/bin", "/usr/bin", "/bin"].contains { access("\($0)/\(name)", X_OK) == 0 } }
        if browser.hasPrefix("/nonexistent") && !fallback {
            #expect(w.process.waitForStderr(seconds: 5) { $0.contains("no browser could be opened") }, "\(w.process.stderr)")
        }
        #expect(try w.completeSignIn().status == 200)
        #expect(w.process.finish(seconds: 15) == 0, "\(w.process.stderr)")
        #expect(w.process.stdout.contains("Logged in to adme"))
    }

    @Test(arguments: ["closed", "/dev/full"])
    func tokenWithAnUnwritableStdoutFails(_ target: String) throws {
        let (f, _, _) = try TamperTests.populated()
        let redirect = target == "closed" ? ">&-" : ">/dev/full"
        let result = CLI.exec(["/bin/sh", "-c", "exec \"$0\" token alpha --key-file \"$1\" \(redirect)", CLI.binary, f.keyFile],
                              environment: f.cli.environment, cwd: f.dir.path)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("cannot write the token to standard output"), "\(result)")
        Hostile.expectClean(result, secrets: ["alpha-access", "alpha-refresh"])
        #expect(filesContaining("alpha-access", under: f.dir.path).isEmpty, "the token landed in no file")
    }

    @Test func secretPromptsWithStdinFromDevNull() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        // `CLI.run` without stdin gives /dev/null, and setsid leaves no controlling terminal.
        let cases: [([String], Int32, String)] = [
            (["add-app", "b", "--tenant", "t", "--client-id", Fixture.clientID, "--key-file", f.keyFile], 64, "no client secret given and no terminal to ask for it"),
            (["add-app", "b", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", f.keyFile], 64, "the client secret is empty"),
            (["set", "adme", "--secret-prompt", "--key-file", f.keyFile], 64, "no terminal to ask for the client secret"),
            (["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], 64, "the refresh token is empty"),
            (["passwd", "--key-file", f.keyFile], 4, "no terminal to ask for the new passphrase"),
            (["show", "adme", "--verify"], 4, "no terminal to ask for the passphrase"),
        ]
        for (args, status, needle) in cases {
            let result = f.cli.run(args)
            #expect(result.status == status, "\(args): \(result)")
            #expect(result.stderr.contains(needle), "\(args): \(result)")
            Hostile.expectClean(result)
        }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test func unsetOrEmptyHomeFallsBackToThePasswordDatabase() throws {
        let dir = TempDir()
        var cli = CLI(dir)
        cli.environment.removeValue(forKey: "TOKVAULT_VAULT")
        cli.environment.removeValue(forKey: "HOME")
        let home = String(cString: getpwuid(geteuid())!.pointee.pw_dir)
        let expected = home + "/.local/share/tokvault/vault.db"
        try #require(!FileManager.default.fileExists(atPath: expected), "this machine has a real vault at \(expected)")
        for env in [[:], ["HOME": ""], ["XDG_DATA_HOME": "relative/dir"], ["HOME": "", "XDG_DATA_HOME": ""]] as [[String: String]] {
            let result = cli.run(["list"], env: env)
            #expect(result.status == 1, "\(env): \(result)")
            #expect(result.stderr.contains("no vault at \(expected)"), "\(env): \(result)")
            #expect(!result.stderr.contains("Fatal error"))
        }
        #expect(!FileManager.default.fileExists(atPath: home + "/.local/share/tokvault"), "reading created nothing")
    }
}
