import ArgumentParser
import Foundation
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in to APP in the browser (authorization code + PKCE) and store the tokens.",
        discussion: """
            tokvault prints the authorize URL, opens it in the browser ($BROWSER, xdg-open or open) \
            through a one-time local start page (so the URL's state stays off the browser's \
            command line) and listens on the redirect URI (http://localhost:8080 by default) for \
            the answer, checking its state. Without a browser (over SSH), open the URL anywhere, sign in, and \
            paste the address bar's URL (or just the code) into this terminal. The code is \
            redeemed with the PKCE verifier and, for confidential apps, the client secret or a \
            signed certificate assertion. With --device (no browser on this machine and no way to \
            paste back), tokvault shows a code to enter at the provider's device login page on any \
            other device and waits. For a client credentials app, `login` gets the app's own token \
            to check its credential.
            """)

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Flag(name: .long, help: "Only print the URL; don't open a browser.")
    var noBrowser = false

    @Flag(name: .long, help: "Don't listen on the redirect URI; paste the redirect URL or code instead.")
    var manual = false

    @Flag(
        name: .long, help: "Sign in on another device with a code (device code flow), e.g. over SSH or in a container.")
    var device = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Listen on this port instead of the redirect URI's, 0 for any free one (sent as the redirect URI's port).",
            valueName: "port"))
    var port: Int?

    @Option(
        name: .long,
        help: ArgumentHelp("Seconds to wait for the sign-in (codes live about 10 minutes).", valueName: "seconds"))
    var timeout: Int = 300

    @Flag(name: .long, help: "Ask for response_mode=form_post (the code arrives in a POST body, not the URL).")
    var formPost = false

    @Option(
        name: .long, help: ArgumentHelp("OpenID prompt: login, consent, select_account or none.", valueName: "prompt"))
    var prompt: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Pre-fill the account (login_hint); the signed-in account must be this one.", valueName: "user"))
    var loginHint: String?

    @Option(
        name: .long, help: ArgumentHelp("Skip the account picker's realm discovery (domain_hint).", valueName: "domain")
    )
    var domainHint: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A claims challenge to satisfy (JSON, or base64 as a WWW-Authenticate header gives it), e.g. the one a refused refresh printed.",
            valueName: "json"))
    var claims: String?

    @OptionGroup var vaultOptions: VaultOptions

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0–65535 (0: any free port)") }
        if !(10...3600).contains(timeout) { throw ValidationError("--timeout must be 10–3600 seconds") }
        if let prompt, !["login", "consent", "select_account", "none", "create"].contains(prompt) {
            throw ValidationError("--prompt must be login, consent, select_account, none or create")
        }
        if manual && port != nil { throw ValidationError("--manual does not listen, so --port has no effect") }
        if let claims { try ClaimsOption.check(claims) }
        if device && (manual || port != nil || formPost || noBrowser || domainHint != nil || prompt != nil) {
            throw ValidationError(
                "--device has no browser redirect: drop --manual, --port, --form-post, --no-browser, --prompt and --domain-hint"
            )
        }
    }

    func run() async throws {
        let vault = try vaultOptions.open()
        let read = try vault.app(named: name)
        let material = try vaultOptions.material(for: vault)
        let signIn = try SignIn(
            vault: vault, app: read, material: material, loginHint: loginHint,
            claims: try claims.map { try ClaimsRequest.parse($0) })
        let app = signIn.app
        if app.usesClientCredentialsFlow {
            guard !device else {
                throw CommandError.usage(
                    "app \"\(name)\" uses the client credentials flow: it gets tokens as itself, without a user's sign-in"
                )
            }
            return try await loginAsClient(signIn)
        }
        if device {
            return try await loginWithDeviceCode(signIn)
        }

        let interactive = isatty(STDIN_FILENO) == 1
        if manual && !interactive {
            throw CommandError.usage(
                "--manual needs a terminal to paste the redirect URL into",
                hint: "run it in a terminal, or drop --manual to receive the redirect on \(app.redirectURI)")
        }
        let secrets = LoginSecrets()
        let outcome = Rendezvous<AuthorizationResponse>()
        var receiver: LoopbackReceiver?
        var redirectURI = app.redirectURI
        if !manual {
            let started = try LoopbackReceiver.start(
                redirectURI: app.redirectURI, portOverride: port, secrets: secrets, appName: name,
                notice: { Diagnostics.warning($0) })
            redirectURI = started.redirectURI(replacingPortOf: app.redirectURI)
            started.onOutcome { result in
                switch result {
                case .code(let code): outcome.resolve(.success(.code(code, state: secrets.state)))
                case .error(let error, let description):
                    outcome.resolve(.success(.error(error, description: description, state: secrets.state)))
                }
            }
            receiver = started
        }
        defer { receiver?.close() }

        var request = AuthorizeRequest(app: app, redirectURI: redirectURI, secrets: secrets)
        request.responseMode = formPost ? .formPost : .query
        request.prompt = prompt
        request.loginHint = loginHint
        request.domainHint = domainHint
        request.claims = signIn.claims
        let url = request.url

        installInterruptHandler()
        Diagnostics.write("Sign in to \(name) at:\n\n    \(url)\n\n")
        var startPageServer: LoopbackReceiver?
        defer { startPageServer?.close() }
        let opened =
            noBrowser
            ? false : openBrowser(at: url, receiver: receiver, secrets: secrets, startPageServer: &startPageServer)
        if manual || !opened || interactive {
            if interactive {
                Diagnostics.write(
                    manual || !opened
                        ? "Open the URL in a browser, sign in, then paste the address bar's URL (or the code) here and press Enter:\n"
                        : "Waiting for the browser… (or paste the redirect URL or code here and press Enter)\n")
                PasteReader.start(secrets: secrets, outcome: outcome)
            } else if !opened {
                Diagnostics.note(
                    "no browser could be opened: open the URL above on any machine; tokvault waits for the redirect to \(redirectURI)"
                )
                Diagnostics.note(
                    "without a browser here, `tokvault login \(name) --device` signs in with a code on another device")
            }
        }
        Countdown.start(seconds: timeout, outcome: outcome)
        Task.detached {
            try? await Task.sleep(nanoseconds: UInt64(timeout) * 1_000_000_000)
            outcome.resolve(
                .failure(
                    CommandError.failure(
                        "no sign-in response arrived within \(timeout) s",
                        hint:
                            "run `tokvault login \(name)` again (--timeout N to wait longer, --manual to paste the redirect URL)"
                    )))
        }

        let response = try await outcome.wait()
        receiver?.close()
        receiver = nil
        let code: String
        switch response {
        case .error(let error, let description, _):
            throw CommandError.failure(
                "the sign-in failed: \(Display.printable(error))\(description.map { " — \(Display.printable($0.split(whereSeparator: \.isNewline).first.map(String.init) ?? $0))" } ?? "")",
                hint: Self.hint(forAuthorizeError: error, description: description, app: app))
        case .code(let value, _):
            code = value
        }
        Diagnostics.note("received the authorization code; redeeming it…")
        var codeBytes = Array(code.utf8)
        let tokens = try await signIn.redeem(
            code: SecureBytes(consuming: &codeBytes), verifier: secrets.codeVerifier, redirectURI: redirectURI,
            nonce: request.wantsIDToken ? secrets.nonce : nil)
        report(tokens, app: app)
    }

    /// Starts the browser at a one-time local start page that redirects to `url` (the
    /// listener's, or for --manual one of its own), never at `url` itself: the browser's
    /// command line is readable by every local user, and `url` carries this login's state,
    /// nonce and PKCE challenge. False when no browser (or no start page) could be started.
    func openBrowser(
        at url: String, receiver: LoopbackReceiver?, secrets: LoginSecrets,
        startPageServer: inout LoopbackReceiver?
    ) -> Bool {
        let pages: LoopbackReceiver
        if let receiver {
            pages = receiver
        } else {
            do { startPageServer = try LoopbackReceiver.startPageServer(secrets: secrets, appName: name) } catch {
                Diagnostics.warning("the browser was not started: \(Failure.report(error)?.message ?? "\(error)")")
                return false
            }
            pages = startPageServer!
        }
        return Browser.open(pages.startPage(redirectingTo: url))
    }

    func report(_ set: TokenSet, app: App) {
        print("Logged in to \(name)\(set.account.map { " as \(Output.safe($0))" } ?? "")")
        print("  scope:         \(Output.safe(set.grantedScope ?? app.scope))")
        print("  access token:  valid until \(Output.isoTime(set.expiresAt)) (\(Output.relative(set.expiresAt)))")
        print(
            "  refresh token: \(set.refreshToken == nil ? "none returned (add offline_access to the scope to get one)" : "stored")"
        )
    }

    static func hint(forAuthorizeError error: String, description: String?, app: App) -> String {
        let code = description.flatMap { d in
            d.range(of: #"AADSTS[0-9]+"#, options: .regularExpression).map { String(d[$0]) }
        }
        switch (error, code) {
        case (_, "AADSTS50011"?):
            return
                "register \(app.redirectURI) as a redirect URI of the app (Authentication → Mobile and desktop applications or Web)"
        case ("access_denied", _):
            return "the sign-in was cancelled or consent was refused; run `tokvault login \(app.name)` to try again"
        case ("consent_required", _), (_, "AADSTS65001"?):
            return "an administrator must grant consent, or try `tokvault login \(app.name) --prompt consent`"
        case ("invalid_request", _):
            return "check the app's client id, scope and redirect URI (`tokvault show \(app.name)`)"
        default:
            return "run `tokvault login \(app.name)` to try again"
        }
    }

    func installInterruptHandler() {
        signal(SIGINT) { _ in
            let message = "\ntokvault: login cancelled\n"
            _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
            _exit(130)
        }
    }
}

/// Reads pasted redirect URLs or codes from the terminal while the listener waits.
enum PasteReader {
    static func start(secrets: LoginSecrets, outcome: Rendezvous<AuthorizationResponse>) {
        let thread = Thread {
            while !outcome.isResolved, let line = readLine(strippingNewline: true) {
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                do {
                    switch try RedirectParser.parsePasted(text) {
                    case .code(let code, let state):
                        // A pasted URL carries the state: check it. A bare code has none, and PKCE binds it.
                        if let state, !secrets.stateMatches(state) {
                            Diagnostics.warning(
                                "that URL's state does not match this login (a stale tab?); paste the newest one")
                            continue
                        }
                        outcome.resolve(.success(.code(code, state: state)))
                    case .error(let error, let description, let state):
                        guard secrets.stateMatches(state) else {
                            Diagnostics.warning("that error URL does not belong to this login")
                            continue
                        }
                        outcome.resolve(.success(.error(error, description: description, state: state)))
                    }
                } catch let error as FlowError {
                    Diagnostics.warning("\(error.message); paste the whole redirect URL or just the code")
                } catch {}
            }
        }
        thread.start()
    }
}

/// A visible countdown on a terminal (never when stderr is not one): the time left to complete
/// the sign-in at once, then every 30 s, and every 10 s in the last half minute.
enum Countdown {
    static func start(seconds: Int, outcome: Rendezvous<AuthorizationResponse>) {
        start(seconds: seconds, isDone: { outcome.isResolved })
    }

    static func start(seconds: Int, isDone: @escaping @Sendable () -> Bool) {
        guard isatty(STDERR_FILENO) == 1, seconds > 0 else { return }
        Diagnostics.write("  (\(text(seconds)) left to complete the sign-in)\n")
        let thread = Thread {
            var left = seconds
            while left > 0 && !isDone() {
                sleep(1)
                left -= 1
                if shows(left) && !isDone() {
                    Diagnostics.write("  … still waiting for the sign-in (\(text(left)) left)\n")
                }
            }
        }
        thread.start()
    }

    /// Whether a line is due with `left` seconds to go.
    static func shows(_ left: Int) -> Bool { left > 0 && (left % 30 == 0 || (left <= 30 && left % 10 == 0)) }

    static func text(_ seconds: Int) -> String { "\(seconds / 60):\(String(format: "%02d", seconds % 60))" }
}

/// Opens a URL in the user's browser; false when none could be started.
enum Browser {
    /// The browser starts from a thread of its own that first takes a new, empty session
    /// keyring (credentials are per thread), so that it cannot read the keys of the caller's
    /// session, while tokvault's own threads keep theirs.
    static func open(_ url: String) -> Bool {
        final class Outcome: @unchecked Sendable { var started = false }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            // Where the kernel refuses keyring calls there is no key to keep from the browser.
            try? KernelKeyring.joinAnonymousSession()
            outcome.started = start(url)
            done.signal()
        }
        thread.start()
        done.wait()
        return outcome.started
    }

    private static func start(_ url: String) -> Bool {
        var candidates: [[String]] = []
        if let browser = VaultFile.environment("BROWSER"), !browser.isEmpty {
            for entry in browser.split(separator: ":") {
                let parts = entry.split(separator: " ").map(String.init)
                guard !parts.isEmpty else { continue }
                candidates.append(parts.contains("%s") ? parts.map { $0 == "%s" ? url : $0 } : parts + [url])
            }
        }
        candidates.append(["xdg-open", url])
        candidates.append(["open", url])
        // The browser must not inherit the vault's unlock secrets.
        let environment = VaultOptions.environmentWithoutUnlockVariables
        for command in candidates {
            guard let executable = VaultOptions.executable(named: command[0]) else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = Array(command.dropFirst())
            process.environment = environment
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            if (try? process.run()) != nil { return true }
        }
        return false
    }
}
