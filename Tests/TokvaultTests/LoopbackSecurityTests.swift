import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// The loopback sign-in against other local users: every loopback address of the redirect
/// host is ours or the login fails; the browser's command line carries a one-time start page,
/// not the authorize URL; `--login-hint` is checked against the signed-in account.
@Suite("loopback sign-in security")
struct LoopbackSecurityTests {
    /// A listening TCP socket on [::1] (IPv6 only), as another user's program would hold it.
    final class IPv6Listener {
        let fd: Int32
        let port: Int

        init?(port wanted: Int = 0) {
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return nil }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(wanted).bigEndian
            address.sin6_addr = in6addr_loopback
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            guard bound == 0, listen(fd, 4) == 0 else {
                close(fd)
                return nil
            }
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.fd = fd
            port = Int(UInt16(bigEndian: address.sin6_port))
        }

        deinit { close(fd) }
    }

    /// Whether 127.0.0.1:port can be bound (so that only ::1 is the busy address).
    static func ipv4PortIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    static let hasIPv6Loopback = IPv6Listener() != nil

    @Test(.enabled(if: hasIPv6Loopback))
    func portTakenOnIPv6LoopbackFailsTheLogin() throws {
        var listener: IPv6Listener?
        for _ in 0..<20 {
            if let candidate = IPv6Listener(), Self.ipv4PortIsFree(candidate.port) {
                listener = candidate
                break
            }
        }
        let busy = try #require(listener, "a port free on 127.0.0.1 and held on ::1")
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let login = s.cli.run(
            ["login", "adme", "--key-file", s.f.keyFile, "--port", String(busy.port), "--timeout", "10"],
            env: ["BROWSER": LoginSetup.browser])
        #expect(login.status == 1, "\(login)")
        #expect(login.stderr.contains("port \(busy.port) on [::1] is already in use"), "\(login.stderr)")
        #expect(login.stderr.contains("tokvault: hint:"), "\(login.stderr)")
        #expect(s.idp.stats.authorizeRequests == 0, "the browser was never sent to sign in")
        #expect(!login.stderr.contains("Sign in to adme at:"))
        #expect(s.token().status == 2, "nothing was stored")
        // The listener's own port choice (--port 0) picks another port when ::1 is taken.
        #expect(s.login().status == 0)
    }

    @Test func browserGetsAOneTimeStartPageInsteadOfTheAuthorizeURL() throws {
        let dir = TempDir()
        let log = dir.file("browser.log")
        let w = try WaitingLogin(
            env: ["BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": "log", "SCRIPTED_BROWSER_LOG": log],
            noBrowser: false)
        defer { w.stop() }
        var logged = ""
        for _ in 0..<200 where logged.isEmpty {
            logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if logged.isEmpty { usleep(25_000) }
        }
        let browserURL = logged.trimmingCharacters(in: .newlines)
        #expect(!browserURL.isEmpty, "the browser was started")
        // The terminal still shows the whole authorize URL.
        #expect(
            w.authorizeURL.contains("state=") && w.authorizeURL.contains("code_challenge=")
                && w.authorizeURL.contains("nonce="))
        // The browser's command line has none of it.
        for needle in ["state", "nonce", "code_challenge", w.state, "authorize"] {
            #expect(!browserURL.contains(needle), "\(needle) on the browser's command line: \(browserURL)")
        }
        let start = try #require(URLComponents(string: browserURL))
        #expect(start.scheme == "http" && start.host == "127.0.0.1" && start.port == w.port, "\(browserURL)")
        #expect(start.path != w.path && start.path.count > 20 && start.query == nil, "\(browserURL)")

        let first = w.get(start.percentEncodedPath)
        #expect(first.status == 303, "\(first)")
        let head = first.text.components(separatedBy: "\r\n\r\n").first ?? ""
        #expect(head.contains("\r\nLocation: \(w.authorizeURL)\r\n"), "\(head)")
        #expect(head.lowercased().contains("cache-control: no-store"), "\(head)")
        #expect(head.lowercased().contains("referrer-policy: no-referrer"), "\(head)")
        let second = w.get(start.percentEncodedPath)
        #expect(second.status == 404, "served once: \(second)")

        // Sign-in through what the start page sent the browser to.
        let delivered = try w.completeSignIn()
        #expect(delivered.status == 200, "\(delivered)")
        #expect(w.process.finish(seconds: 20) == 0, "\(w.process.stderr)")
        #expect(w.process.stdout.contains("Logged in to adme"))
        #expect(w.s.idp.stats.tokenRequests["authorization_code"] == 1)
    }

    @Test func signInThroughTheStartPageWithTheScriptedBrowser() throws {
        for mode in ["query", "form_post"] {
            let s = try LoginSetup()
            defer { s.idp.stop() }
            let log = s.f.dir.file("browser-\(mode).log")
            let login = s.cli.run(
                ["login", "adme", "--key-file", s.f.keyFile, "--port", "0"]
                    + (mode == "form_post" ? ["--form-post"] : []),
                env: ["BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": "record", "SCRIPTED_BROWSER_LOG": log])
            #expect(login.status == 0, "\(mode): \(login)")
            let browserURL = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(
                browserURL.hasPrefix("http://127.0.0.1:") && !browserURL.contains("state")
                    && !browserURL.contains("code_challenge"),
                "\(browserURL)")
            let record = try #require(s.idp.stats.authorizeLog.first)
            #expect(
                record.state != nil && record.nonce != nil && record.codeChallengeMethod == "S256",
                "the provider got all of it")
            #expect(s.idp.stats.tokenRequests["authorization_code"] == 1)
        }
    }

    /// The listener of `login --manual` serves only the start page: no redirect is received.
    @Test func startPageServerAnswersOnceAndReceivesNoRedirect() throws {
        let secrets = LoginSecrets()
        let server = try LoopbackReceiver.startPageServer(secrets: secrets, appName: "adme")
        defer { server.close() }
        let target = "https://login.example.com/authorize?state=\(secrets.state)&x=1"
        let page = try #require(URLComponents(string: server.startPage(redirectingTo: target)))
        #expect(page.host == "127.0.0.1" && page.port == server.port)
        #expect(
            RawHTTP.exchange(port: server.port, RawHTTP.request("POST", page.percentEncodedPath)).status == 404,
            "GET only")
        let first = RawHTTP.exchange(port: server.port, RawHTTP.request("GET", page.percentEncodedPath))
        #expect(first.status == 303 && first.text.contains("Location: \(target)\r\n"), "\(first)")
        #expect(RawHTTP.exchange(port: server.port, RawHTTP.request("GET", page.percentEncodedPath)).status == 404)
        #expect(
            RawHTTP.exchange(port: server.port, RawHTTP.request("GET", "/?code=abc&state=\(secrets.state)")).status
                == 404)
        #expect(
            RawHTTP.exchange(port: server.port, RawHTTP.request("GET", page.percentEncodedPath + "x")).status == 404)
    }

    // MARK: - --login-hint

    @Test func loginHintMismatchIsRefusedAndNothingIsStored() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let wrong = s.login(["--login-hint", "bob@contoso.example"])
        #expect(wrong.status == 1, "\(wrong)")
        #expect(
            wrong.stderr.contains(
                "signed in as alice@contoso.example, not as --login-hint bob@contoso.example; nothing was stored"),
            "\(wrong.stderr)")
        #expect(
            wrong.stderr.contains("tokvault: hint:") && wrong.stderr.contains("--prompt select_account"),
            "\(wrong.stderr)")
        #expect(!wrong.stdout.contains("Logged in"))
        #expect(s.token().status == 2, "nothing was stored")
        #expect(s.idp.stats.authorizeLog.last?.loginHint == "bob@contoso.example", "the hint was sent")

        let right = s.login(["--login-hint", "ALICE@Contoso.Example"])
        #expect(right.status == 0, "compared without case: \(right)")
        #expect(s.token().status == 0)
    }

    @Test func loginHintWithoutAnAccountClaimIsRefused() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        // Without openid no ID token comes back, so nothing names the signed-in account.
        let set = s.cli.run([
            "set", "adme", "--scope", "\(LoginSetup.clientID)/.default offline_access", "--key-file", s.f.keyFile
        ])
        #expect(set.status == 0, "\(set)")
        let login = s.login(["--login-hint", "alice@contoso.example"])
        #expect(login.status == 1, "\(login)")
        #expect(
            login.stderr.contains(
                "cannot check --login-hint alice@contoso.example: the provider returned no ID token naming the signed-in account"
            ),
            "\(login.stderr)")
        #expect(s.token().status == 2, "nothing was stored")
        // Without --login-hint the same sign-in is fine.
        #expect(s.login().status == 0)
    }
}
