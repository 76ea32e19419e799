// A protocol-faithful fake of the Microsoft identity platform v2 endpoints (authorization code +
// PKCE, refresh with rotation and reuse detection, client credentials, the device authorization
// grant, client secrets, certificate client assertions and federated credentials, claims
// challenges and Conditional Access refusals, Azure-shaped errors, fault injection), served
// over plain HTTP on 127.0.0.1 with SwiftNIO, with a stand-in for GitHub Actions' OIDC tokens.
//
// Endpoints ({tenant} = the configured tid, "organizations" or "common"):
//   GET|POST /{tenant}/oauth2/v2.0/authorize
//   POST     /{tenant}/oauth2/v2.0/token        authorization_code, refresh_token, client_credentials,
//                                                urn:ietf:params:oauth:grant-type:device_code
//   POST     /{tenant}/oauth2/v2.0/devicecode
//   GET      /{tenant}/v2.0/.well-known/openid-configuration
//   GET      /{tenant}/discovery/v2.0/keys                     ({"keys":[]})
// Control endpoints for scripts:
//   POST /_fake/fault   kind=empty400|html502|slow|reset|429|oauth|clear, times=N, ms=, retry_after=,
//                       status=, error=, aadsts=, description=
//   POST /_fake/deny    [error=access_denied] [description=...]
//   GET  /_fake/stats   JSON counters and request logs
//   POST /_fake/clock   seconds=N (moves the fake's clock forward, for expiry)
//   POST /_fake/expire-access-tokens, POST /_fake/reset-stats
//   ANY  /_fake/callback   records its parameters (a stand-in redirect target)
//   GET  /_fake/resource   a protected resource: 200 with a valid Bearer access token, else 401
//   GET  /_fake/device     pending device user codes (JSON; HTML for a browser: the verification page)
//   POST /_fake/device/approve, POST /_fake/device/decline   [user_code=...] (none: every pending code)
//   POST /_fake/settings   [claims_challenge=JSON (empty: none)] [conditional_access_block=true|false]
//                          [send_refresh_expires_in=true|false]; answers the settings now in force
//   POST /_fake/federated-token   issuer=, subject=, [audience=api://AzureADTokenExchange], [lifetime=600]
//                                 a token signed by the workload key ({"token": JWT})
// The GitHub Actions OIDC stand-in (configuration.githubActions):
//   GET  /github-actions/idtoken?api-version=2.0[&audience=AUD]   Authorization: bearer REQUEST_TOKEN
//                                 {"count": N, "value": JWT}

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

package enum FakeIdPError: Error, CustomStringConvertible {
    case alreadyStarted
    case noLocalPort

    package var description: String {
        switch self {
        case .alreadyStarted: return "the fake identity provider is already running"
        case .noLocalPort: return "the listener has no local port"
        }
    }
}

package final class FakeIdentityProvider: Sendable {
    package let configuration: FakeIdPConfiguration
    let core: FakeIdPCore
    private let connections: ConnectionRegistry

    package init(_ configuration: FakeIdPConfiguration = FakeIdPConfiguration()) {
        self.configuration = configuration
        self.core = FakeIdPCore(configuration)
        self.connections = ConnectionRegistry()
    }

    deinit {
        connections.closeAll(wait: false)
    }

    /// Binds 127.0.0.1 on `configuration.port` (0 = ephemeral) and returns the port.
    /// Not callable from an event loop thread.
    @discardableResult
    package func start() throws -> Int {
        guard connections.beginStart() else { throw FakeIdPError.alreadyStarted }
        let core = self.core
        let connections = self.connections
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        FakeIdPHTTPHandler(core: core, connections: connections))
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.bind(host: "127.0.0.1", port: configuration.port).wait()
        } catch {
            connections.abortStart()
            throw error
        }
        guard let port = channel.localAddress?.port else {
            channel.close(promise: nil)
            connections.abortStart()
            throw FakeIdPError.noLocalPort
        }
        core.setPort(port)
        connections.started(server: channel)
        return port
    }

    /// Closes the listener and every open connection. Safe to call twice; the provider can be
    /// started again afterwards (on a new port unless `configuration.port` is fixed).
    package func stop() {
        connections.closeAll(wait: true)
    }

    /// "http://127.0.0.1:PORT" (port 0 before `start()`).
    package var baseURL: String { core.baseURL }

    package var port: Int { connections.port }

    /// The authority URL for the configured tenant: "http://127.0.0.1:PORT/{tid}".
    package var authority: String { "\(baseURL)/\(configuration.tenant)" }
    package var authorizeEndpoint: String { "\(authority)/oauth2/v2.0/authorize" }
    package var tokenEndpoint: String { "\(authority)/oauth2/v2.0/token" }

    /// Applies `fault` to the next `times` token-endpoint requests (queued after earlier faults).
    package func inject(_ fault: FakeFault, times: Int = 1) { core.inject(fault, times: times) }

    /// Drops the faults not yet applied.
    package func clearFaults() { core.clearFaults() }

    /// The next authorize request that would succeed redirects with this error instead (as when
    /// the user cancels the sign-in or declines consent).
    package func denyNextAuthorization(
        error: String = "access_denied",
        description: String = "AADSTS65004: User declined to consent to access the app."
    ) {
        core.denyNextAuthorization(error: error, description: description)
    }

    package var stats: FakeIdPStats { core.statsSnapshot }

    package func resetStats() { core.resetStats() }

    /// Marks every access token issued so far as expired (see `/_fake/resource`, `accessTokenInfo`).
    package func expireAllAccessTokens() { core.expireAllAccessTokens() }

    /// Moves the fake's clock forward (codes, refresh and access tokens expire by it).
    package func advanceClock(seconds: Int) { core.advanceClock(seconds: Double(seconds)) }

    /// What the fake knows about an access token it issued, or nil.
    package func accessTokenInfo(_ token: String) -> FakeAccessTokenInfo? { core.accessTokenInfo(token) }

    /// The user approves the pending device authorization with `userCode` (nil: every pending one);
    /// its next poll gets the tokens. Returns how many were approved (0 under `.never`).
    @discardableResult
    package func approveDevice(userCode: String? = nil) -> Int { core.decideDevices(userCode: userCode, approve: true) }

    /// The user declines; the next poll gets authorization_declined.
    @discardableResult
    package func declineDevice(userCode: String? = nil) -> Int {
        core.decideDevices(userCode: userCode, approve: false)
    }

    /// User codes of the device authorizations still waiting for the user, oldest first.
    package var pendingDeviceUserCodes: [String] { core.pendingDeviceUserCodes }

    /// "http://127.0.0.1:PORT/{tid}/oauth2/v2.0/devicecode".
    package var deviceCodeEndpoint: String { "\(authority)/oauth2/v2.0/devicecode" }

    // MARK: - Workload identity federation

    /// A token of an external OIDC issuer, signed by the fake's workload key, for a client
    /// assertion matched against `FakeClient.federatedCredentials` (the file a Kubernetes pod or a
    /// CI job would read). A compact JWS, header {alg: "ES256", typ: "JWT", kid}, payload
    /// {iss, sub, aud, iat, nbf, exp, jti}; `iat` is the fake's clock (see `advanceClock`),
    /// `exp` = iat + `lifetime` seconds, `nbf` = `notBefore` (seconds since 1970) or iat.
    package func mintFederatedToken(
        issuer: String, subject: String, audience: String, lifetime: Int = 600, notBefore: Int? = nil
    ) -> String {
        core.mintFederatedToken(
            issuer: issuer, subject: subject, audience: audience, lifetime: lifetime, notBefore: notBefore)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` for the GitHub Actions stand-in:
    /// "http://127.0.0.1:PORT/github-actions/idtoken?api-version=2.0" (a client appends
    /// "&audience=..."). Answers 404 unless `configuration.githubActions` is set.
    package var githubActionsRequestURL: String { "\(baseURL)/github-actions/idtoken?api-version=2.0" }

    // MARK: - Conditional Access and claims challenges (run time)

    /// Replaces `configuration.claimsChallenge` for the next requests (nil: no challenge).
    package func setClaimsChallenge(_ challenge: String?) { core.setClaimsChallenge(challenge) }

    /// Replaces `configuration.conditionalAccessBlock` for the next requests.
    package func setConditionalAccessBlock(_ block: Bool) { core.setConditionalAccessBlock(block) }

    /// Replaces `configuration.sendRefreshExpiresIn` for the next requests.
    package func setSendRefreshExpiresIn(_ send: Bool) { core.setSendRefreshExpiresIn(send) }
}

// MARK: - Connection bookkeeping

final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var server: Channel?
    private var children: [ObjectIdentifier: Channel] = [:]
    private var starting = false
    private var running = false
    private(set) var portValue = 0

    var port: Int {
        lock.lock()
        defer { lock.unlock() }
        return portValue
    }

    func beginStart() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !starting && !running else { return false }
        starting = true
        return true
    }

    func abortStart() {
        lock.lock()
        defer { lock.unlock() }
        starting = false
    }

    func started(server: Channel) {
        lock.lock()
        defer { lock.unlock() }
        self.server = server
        self.portValue = server.localAddress?.port ?? 0
        starting = false
        running = true
    }

    /// Returns false (and the caller closes the channel) when the provider is not running.
    func add(_ channel: Channel) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard running else { return false }
        children[ObjectIdentifier(channel)] = channel
        return true
    }

    func remove(_ channel: Channel) {
        lock.lock()
        defer { lock.unlock() }
        children[ObjectIdentifier(channel)] = nil
    }

    func closeAll(wait: Bool) {
        lock.lock()
        let server = self.server
        let children = Array(self.children.values)
        self.server = nil
        self.children = [:]
        running = false
        lock.unlock()

        var futures: [EventLoopFuture<Void>] = []
        if let server { futures.append(server.close()) }
        for child in children { futures.append(child.close()) }
        guard wait, let first = futures.first else { return }
        if first.eventLoop.inEventLoop { return }
        _ = try? EventLoopFuture.whenAllComplete(futures, on: first.eventLoop).wait()
    }
}

// MARK: - HTTP handler (one per connection)

final class FakeIdPHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: FakeIdPCore
    private let connections: ConnectionRegistry
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var discarding = false

    init(core: FakeIdPCore, connections: ConnectionRegistry) {
        self.core = core
        self.connections = connections
    }

    func channelActive(context: ChannelHandlerContext) {
        if !connections.add(context.channel) {
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connections.remove(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = []
            self.discarding = false
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }),
                length > fakeIdPMaxRequestBody
            {
                tooLarge(context: context, head: head)
            }
        case .body(var buffer):
            guard !discarding, let head else { return }
            if body.count + buffer.readableBytes > fakeIdPMaxRequestBody {
                tooLarge(context: context, head: head)
                return
            }
            body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .end:
            guard !discarding, let head else { return }
            self.head = nil
            let request = FakeRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body)
            body = []
            let keepAlive = head.isKeepAlive
            let version = head.version
            switch core.handle(request) {
            case .respond(let response):
                write(response, version: version, keepAlive: keepAlive, context: context)
            case .reset:
                reset(context: context)
            case .delay(let milliseconds, let request):
                let core = self.core
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                    let response = core.handleDelayed(request)
                    guard context.channel.isActive else { return }
                    self.write(response, version: version, keepAlive: keepAlive, context: context)
                }
            }
        }
    }

    private func tooLarge(context: ChannelHandlerContext, head: HTTPRequestHead) {
        discarding = true
        body = []
        let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
        write(
            core.payloadTooLarge(head.method.rawValue, path), version: head.version, keepAlive: false, context: context)
    }

    private func write(_ response: FakeResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext)
    {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            let buffer = context.channel.allocator.buffer(bytes: response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    /// Closes with SO_LINGER 0 so the peer sees a TCP RST rather than an orderly FIN.
    private func reset(context: ChannelHandlerContext) {
        guard let provider = context.channel as? SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
