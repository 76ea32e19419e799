import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import TokvaultVault

/// The redirect URI's listener: a one-shot HTTP server on the loopback interface that waits
/// for the authorization response (GET with a query, or a `form_post` POST), checks `state`,
/// answers the browser with a short page, and hands the result to `login`.
package final class LoopbackReceiver: @unchecked Sendable {
    /// What arrived, already checked against this login's `state`.
    package enum Outcome: Sendable, Equatable {
        case code(String)
        case error(String, description: String?)
    }

    package let port: Int
    package let path: String
    private let channels: [Channel]
    private let box: OutcomeBox
    private let startPage: StartPage
    /// The address the browser is sent to for the start page (the first one bound).
    private let host: String

    /// Called (on an event-loop thread) for each redirect that is ignored, e.g. a wrong state.
    package typealias Notice = @Sendable (String) -> Void

    /// Binds 127.0.0.1 (and ::1 for a `localhost` redirect URI) on the redirect URI's port,
    /// or `portOverride`. Never binds a non-loopback address. Every address must be bound:
    /// a port already taken on one of them (by anyone, possibly another local user) would let
    /// the browser deliver the redirect there, so that is an error. Only a host without IPv6
    /// (::1 not available) skips ::1.
    package static func start(
        redirectURI: String, portOverride: Int?, secrets: LoginSecrets, appName: String,
        notice: @escaping Notice
    ) throws -> LoopbackReceiver {
        guard let components = URLComponents(string: redirectURI), components.scheme?.lowercased() == "http",
            let host = components.host?.lowercased(), EndpointRules.isLoopbackHost(host)
        else {
            throw FlowError.usage(
                "the redirect URI \(redirectURI) is not a loopback http URI, so tokvault cannot listen for it",
                hint:
                    "use `\(.signIn(nil, .manual))` and paste the redirect URL, or set the redirect URI to http://localhost:8080 (`\(.changeApp("APP", .redirectURI))`)"
            )
        }
        let port = portOverride ?? components.port ?? 80
        guard (0...65535).contains(port) else {
            throw FlowError.usage(
                "the redirect URI \(Display.printable(redirectURI)) has no valid port (\(port))",
                hint: "set a port from 1 to 65535 with `\(.changeApp("APP", .redirectPort))`")
        }
        let path = components.path.isEmpty ? "/" : components.path
        let addresses: [String]
        switch host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) {
        case "localhost": addresses = ["127.0.0.1", "::1"]
        case "::1": addresses = ["::1"]
        default: addresses = [host]
        }
        let box = OutcomeBox()
        let startPage = StartPage()
        // A free port picked for 127.0.0.1 can be taken on ::1: then pick another one.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let (channels, bound) = try bind(
                    addresses, port: port, redirectPath: path, secrets: secrets, appName: appName,
                    box: box, startPage: startPage, notice: notice)
                return LoopbackReceiver(port: bound, path: path, channels: channels, box: box, startPage: startPage)
            } catch let failure as BindFailure {
                if case .inUse(let address) = failure, port == 0, address != addresses[0], attempt < 8 { continue }
                throw failure.error(port: port, appName: appName)
            }
        }
    }

    /// A listener that serves only the start page (for `login --manual`, which receives no
    /// redirect): 127.0.0.1 on a free port.
    package static func startPageServer(secrets: LoginSecrets, appName: String) throws -> LoopbackReceiver {
        let box = OutcomeBox()
        let startPage = StartPage()
        do {
            let (channels, bound) = try bind(
                ["127.0.0.1"], port: 0, redirectPath: nil, secrets: secrets, appName: appName,
                box: box, startPage: startPage, notice: { _ in })
            return LoopbackReceiver(port: bound, path: "", channels: channels, box: box, startPage: startPage)
        } catch let failure as BindFailure {
            throw failure.error(port: 0, appName: appName)
        }
    }

    enum BindFailure: Error {
        case inUse(String)
        case other(String, Error)

        static func shown(_ address: String) -> String { address.contains(":") ? "[\(address)]" : address }

        func error(port: Int, appName: String) -> FlowError {
            switch self {
            case .inUse(let address):
                let also =
                    address == "::1"
                    ? " (the browser may send the redirect for localhost there, to whichever program, possibly another user's, holds it)"
                    : ""
                return FlowError.failure(
                    "port \(port) on \(Self.shown(address)) is already in use, so tokvault cannot receive the sign-in redirect\(also)",
                    hint:
                        "stop the program using it, or run `\(.signIn(appName, .otherPort))` (Microsoft ignores the port of loopback redirect URIs for public clients) or `\(.signIn(appName, .manual))`"
                )
            case .other(let address, let error):
                return FlowError.failure(
                    "cannot listen on \(Self.shown(address)):\(port): \(error)",
                    hint: "try `\(.signIn(appName, .manual))`")
            }
        }
    }

    /// Binds every address on one port (the first one picks it when `port` is 0); on failure
    /// nothing stays bound.
    private static func bind(
        _ addresses: [String], port: Int, redirectPath: String?, secrets: LoginSecrets, appName: String,
        box: OutcomeBox, startPage: StartPage, notice: @escaping Notice
    ) throws -> ([Channel], Int) {
        let handlerFactory: @Sendable () -> RedirectHandler = {
            RedirectHandler(
                path: redirectPath, secrets: secrets, appName: appName, box: box, startPage: startPage, notice: notice)
        }
        let limits = HTTPRequestLimits(
            maxTarget: 64 * 1024, maxHeaderBytes: 64 * 1024, maxBody: RedirectHandler.maxBody, maxConnections: 32)
        let connections = ConnectionLimit(maximum: limits.maxConnections)
        let refusal: HTTPRequestGuard.Refusal = { status, message in
            ("text/html; charset=utf-8", ByteBuffer(string: RedirectHandler.page(title: "Refused", message: message)))
        }
        var channels: [Channel] = []
        var boundPort = port
        for (index, address) in addresses.enumerated() {
            let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    guard connections.admit(channel) else { return channel.close() }
                    return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                        channel.pipeline.addHandlers([
                            HTTPRequestGuard(limits: limits, refusal: refusal), handlerFactory()
                        ])
                    }
                }
                .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            do {
                let channel = try bootstrap.bind(to: try SocketAddress(ipAddress: address, port: boundPort)).wait()
                if boundPort == 0, let actual = channel.localAddress?.port { boundPort = actual }
                channels.append(channel)
            } catch {
                let code = (error as? IOError)?.errnoCode
                // ::1 is a bonus for `localhost` on a host without IPv6 (common in containers):
                // 127.0.0.1 is enough there. Taken by someone else, it is not.
                if index > 0 && address == "::1" && [EADDRNOTAVAIL, EAFNOSUPPORT, EPROTONOSUPPORT].contains(code) {
                    continue
                }
                for channel in channels { try? channel.close().wait() }
                throw code == EADDRINUSE ? BindFailure.inUse(address) : BindFailure.other(address, error)
            }
        }
        return (channels, boundPort)
    }

    private init(port: Int, path: String, channels: [Channel], box: OutcomeBox, startPage: StartPage) {
        self.port = port
        self.path = path
        self.channels = channels
        self.box = box
        self.startPage = startPage
        let first = channels.first?.localAddress?.ipAddress ?? "127.0.0.1"
        host = first.contains(":") ? "[\(first)]" : first
    }

    /// A one-time local page for the browser that answers with a redirect (303, no-store) to
    /// `url`, so that the authorize URL's `state`, `nonce` and PKCE challenge stay off the
    /// browser's command line (which every local user can read in /proc). Its path is random;
    /// it is served once, and answers 404 after that.
    package func startPage(redirectingTo url: String) -> String {
        let path = "/start-" + Sodium.base64URL(Sodium.randomBytes(24))
        startPage.set(path: path, target: url)
        return "http://\(host):\(port)\(path)"
    }

    /// The redirect URI to send in the authorize request (the bound port, when it differs).
    package func redirectURI(replacingPortOf uri: String) -> String {
        guard var components = URLComponents(string: uri), components.port != port else { return uri }
        components.port = port
        return components.string ?? uri
    }

    /// Registers the callback that receives the first accepted outcome (exactly once).
    package func onOutcome(_ body: @escaping @Sendable (Outcome) -> Void) {
        box.setCallback(body)
    }

    package func close() {
        for channel in channels { try? channel.close().wait() }
    }
}

/// Holds the first accepted outcome; later redirects are told the login is over.
final class OutcomeBox: @unchecked Sendable {
    private let lock = NIOLock()
    private var outcome: LoopbackReceiver.Outcome?
    private var callback: (@Sendable (LoopbackReceiver.Outcome) -> Void)?
    private var delivered = false

    var isDone: Bool { lock.withLock { outcome != nil } }

    /// Returns false if an outcome was already accepted.
    func accept(_ value: LoopbackReceiver.Outcome) -> Bool {
        var deliver: (@Sendable (LoopbackReceiver.Outcome) -> Void)?
        let accepted: Bool = lock.withLock {
            guard outcome == nil else { return false }
            outcome = value
            if let callback {
                delivered = true
                deliver = callback
            }
            return true
        }
        deliver?(value)
        return accepted
    }

    func setCallback(_ body: @escaping @Sendable (LoopbackReceiver.Outcome) -> Void) {
        let pending: LoopbackReceiver.Outcome? = lock.withLock {
            callback = body
            if let outcome, !delivered {
                delivered = true
                return outcome
            }
            return nil
        }
        if let pending { body(pending) }
    }
}

/// The start page's random path and target; handed out once.
final class StartPage: @unchecked Sendable {
    private let lock = NIOLock()
    private var path: [UInt8]?
    private var target: String?

    func set(path: String, target: String) {
        lock.withLock {
            self.path = Array(path.utf8)
            self.target = target
        }
    }

    /// The target, if `requestPath` is the start page and it was not served before.
    func claim(_ requestPath: String) -> String? {
        lock.withLock {
            guard let path, let target, Sodium.constantTimeEquals(Array(requestPath.utf8), path) else { return nil }
            self.target = nil
            return target
        }
    }
}

/// One HTTP connection of the browser.
final class RedirectHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBody = 64 * 1024

    /// The redirect URI's path; nil for a listener that receives no redirect.
    let path: String?
    let secrets: LoginSecrets
    let appName: String
    let box: OutcomeBox
    let startPage: StartPage
    let notice: LoopbackReceiver.Notice
    private var head: HTTPRequestHead?
    /// Within `maxBody`: the guard in front refuses a larger one as it arrives.
    private var body = ByteBuffer()

    init(
        path: String?, secrets: LoginSecrets, appName: String, box: OutcomeBox, startPage: StartPage,
        notice: @escaping LoopbackReceiver.Notice
    ) {
        self.path = path
        self.secrets = secrets
        self.appName = appName
        self.box = box
        self.startPage = startPage
        self.notice = notice
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            respond(context: context, head: head)
            self.head = nil
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let target = head.uri
        let requestPath = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        if head.method == .GET, let authorizeURL = startPage.claim(requestPath) {
            sendRedirect(context, to: authorizeURL)
            return
        }
        guard requestPath == path else {
            send(
                context, status: .notFound, title: "Not found",
                message: "This address only receives the sign-in redirect for tokvault.", keepAlive: head.isKeepAlive)
            return
        }
        if box.isDone {
            send(
                context, status: .ok, title: "Already done",
                message: "tokvault already received the sign-in response. You can close this tab.", keepAlive: false)
            return
        }
        let parameters: Substring
        switch head.method {
        case .GET:
            guard let q = target.firstIndex(of: "?") else {
                send(
                    context, status: .badRequest, title: "No response",
                    message: "This request carried no sign-in response.", keepAlive: head.isKeepAlive)
                return
            }
            parameters = target[target.index(after: q)...]
        case .POST:
            let contentType = head.headers.first(name: "Content-Type")?.lowercased() ?? ""
            guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
                send(
                    context, status: .unsupportedMediaType, title: "Unsupported", message: "Expected a form post.",
                    keepAlive: false)
                return
            }
            parameters = Substring(String(decoding: body.readableBytesView, as: UTF8.self))
        default:
            send(
                context, status: .methodNotAllowed, title: "Not allowed",
                message: "Only GET and POST are accepted here.", keepAlive: false)
            return
        }
        let response: AuthorizationResponse
        do {
            response = try RedirectParser.parse(parameters: parameters)
        } catch let error as FlowError {
            notice("ignored a redirect: \(error.message)")
            send(
                context, status: .badRequest, title: "Not accepted",
                message: "tokvault could not read this response: \(error.message).", keepAlive: false)
            return
        } catch {
            return
        }
        switch response {
        case .code(let code, let state):
            guard secrets.stateMatches(state) else {
                notice(
                    state == nil
                        ? "ignored a redirect without a state parameter (not from this login)"
                        : "ignored a redirect whose state does not match this login (a stale tab, or not from this login)"
                )
                send(
                    context, status: .badRequest, title: "Not accepted",
                    message:
                        "This sign-in response does not belong to the login tokvault is waiting for. Start the sign-in again from the terminal.",
                    keepAlive: false)
                return
            }
            if box.accept(.code(code)) {
                send(
                    context, status: .ok, title: "Signed in",
                    message:
                        "tokvault received the sign-in for \(appName). You can close this tab and return to the terminal.",
                    keepAlive: false)
            } else {
                send(
                    context, status: .ok, title: "Already done",
                    message: "tokvault already received the sign-in response. You can close this tab.", keepAlive: false
                )
            }
        case .error(let error, let description, let state):
            guard secrets.stateMatches(state) else {
                notice("ignored an error redirect whose state does not match this login")
                send(
                    context, status: .badRequest, title: "Not accepted",
                    message: "This response does not belong to the current login.", keepAlive: false)
                return
            }
            _ = box.accept(.error(error, description: description))
            send(
                context, status: .ok, title: "Sign-in failed",
                message:
                    "The sign-in for \(appName) failed: \(error)\(description.map { " — \($0)" } ?? ""). Return to the terminal.",
                keepAlive: false)
        }
    }

    private func send(
        _ context: ChannelHandlerContext, status: HTTPResponseStatus, title: String, message: String, keepAlive: Bool
    ) {
        let html = Self.page(title: title, message: message)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: String(html.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: html)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    static func page(title: String, message: String) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><title>tokvault: \(escape(title))</title></head>
        <body style="font-family: sans-serif; margin: 3em"><h1>\(escape(title))</h1><p>\(escape(message))</p></body></html>

        """
    }

    /// 303 to the authorize URL: not cached, no Referer sent on, connection closed.
    private func sendRedirect(_ context: ChannelHandlerContext, to location: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Pragma", value: "no-cache")
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .seeOther, headers: headers))),
            promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// HTML text escaping for everything that came from outside (error descriptions).
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
