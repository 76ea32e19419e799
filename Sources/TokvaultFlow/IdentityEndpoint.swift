import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import TokvaultVault

/// A managed-identity endpoint on 127.0.0.1 that speaks Azure App Service's protocol
/// (api-version 2019-08-01), which every Azure SDK's ManagedIdentityCredential uses when
/// IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
///
///     GET /msi/token?api-version=2019-08-01&resource=R[&client_id=C]
///     X-IDENTITY-HEADER: <the secret printed at start>
///
/// Only a request that passes every check below reaches the handler: a size limit, the Host
/// (the loopback address and port, against DNS rebinding from a browser), the method, the
/// header (compared in constant time) and the path, then the parameters.
package final class IdentityEndpoint: @unchecked Sendable {
    package static let path = "/msi/token"
    package static let apiVersion = "2019-08-01"
    /// Parameters that select another managed identity, which tokvault does not have.
    package static let otherIdentityParameters = ["object_id", "principal_id", "mi_res_id", "msi_res_id"]

    /// A checked request.
    package struct Request: Sendable {
        package var resource: String
        package var clientID: String?
    }

    /// The answer to a request that reached the handler: a status and a JSON body.
    package struct Answer: Sendable {
        package var status: Int
        package var body: SecureBytes
        package init(status: Int, body: SecureBytes) {
            self.status = status
            self.body = body
        }
    }

    package typealias Handler = @Sendable (Request) async -> Answer
    /// The JSON body of a refusal by the endpoint itself (App Service's error shape).
    package typealias ErrorBody = @Sendable (_ status: Int, _ message: String) -> [UInt8]

    package let port: Int
    /// IDENTITY_HEADER: 32 random bytes, base64url (nothing a shell needs to quote).
    package let header: String
    package var url: String { "http://127.0.0.1:\(port)\(Self.path)" }
    private let channel: Channel

    /// Listens on 127.0.0.1:`port` (0: a free one).
    package static func start(port: Int, handler: @escaping Handler, errorBody: @escaping ErrorBody) throws
        -> IdentityEndpoint
    {
        let header = Sodium.base64URL(Sodium.randomBytes(32))
        let secret = Array(header.utf8)
        let limits = HTTPRequestLimits(maxTarget: 8 * 1024, maxHeaderBytes: 16 * 1024, maxBody: 1024)
        let connections = ConnectionLimit(maximum: limits.maxConnections)
        let refusal: HTTPRequestGuard.Refusal = { status, message in
            ("application/json; charset=utf-8", ByteBuffer(bytes: errorBody(Int(status.code), message)))
        }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.admit(channel) else { return channel.close() }
                // Built on the channel's own loop: the handlers are not Sendable.
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandlers([
                        HTTPRequestGuard(limits: limits, refusal: refusal),
                        IdentityRequestHandler(secret: secret, handler: handler, errorBody: errorBody)
                    ])
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
        } catch {
            let inUse = (error as? IOError)?.errnoCode == EADDRINUSE
            throw FlowError.failure(
                inUse
                    ? "port \(port) on 127.0.0.1 is already in use" : "cannot listen on 127.0.0.1:\(port): \(error)",
                hint: inUse ? "pick another with --port, or --port 0 for a free one" : nil)
        }
        let bound = channel.localAddress?.port ?? port
        return IdentityEndpoint(port: bound, header: header, channel: channel)
    }

    private init(port: Int, header: String, channel: Channel) {
        self.port = port
        self.header = header
        self.channel = channel
    }

    package func close() {
        try? channel.close().wait()
    }
}

/// One client connection, behind an `HTTPRequestGuard` (so within the size and time limits; a
/// body is ignored). Requests on it are answered in order (the HTTP pipeline handler holds a
/// pipelined request until the previous answer is written).
final class IdentityRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let secret: [UInt8]
    let handler: IdentityEndpoint.Handler
    let errorBody: IdentityEndpoint.ErrorBody
    private var head: HTTPRequestHead?

    init(
        secret: [UInt8], handler: @escaping IdentityEndpoint.Handler, errorBody: @escaping IdentityEndpoint.ErrorBody
    ) {
        self.secret = secret
        self.handler = handler
        self.errorBody = errorBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        // The port the client connected to (the listener's own, never 0 once it accepts).
        let port = context.channel.localAddress?.port ?? 0
        // A browser page (DNS rebinding) sends its own host name; anything but this address
        // and port is not a local client of this endpoint.
        let hosts = head.headers["Host"]
        guard hosts.count == 1, hosts[0].lowercased() == "127.0.0.1:\(port)" else {
            return refuse(context, .badRequest, "the Host header must be 127.0.0.1:\(port)")
        }
        guard head.method == .GET else {
            return refuse(context, .methodNotAllowed, "only GET is accepted", extra: [("Allow", "GET")])
        }
        let given = head.headers["X-IDENTITY-HEADER"]
        guard given.count == 1, Sodium.constantTimeEquals(Array(given[0].utf8), secret) else {
            return refuse(
                context, .unauthorized,
                given.isEmpty ? "the X-IDENTITY-HEADER header is missing" : "the X-IDENTITY-HEADER header is wrong")
        }
        let (path, query) = Self.split(head.uri)
        guard path == IdentityEndpoint.path else {
            return refuse(context, .notFound, "not found: the endpoint is \(IdentityEndpoint.path)")
        }
        let request: IdentityEndpoint.Request
        do {
            request = try Self.parse(query: query)
        } catch let problem as Problem {
            return refuse(context, .badRequest, problem.message)
        } catch {
            return refuse(context, .badRequest, "the request cannot be read")
        }
        let keepAlive = head.isKeepAlive
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = self.handler
        Task {
            let answer = await handler(request)
            bound.eventLoop.execute {
                answer.body.withUnsafeBytes { bytes in
                    self.send(
                        bound.value, status: HTTPResponseStatus(statusCode: answer.status),
                        body: ByteBuffer(bytes: bytes),
                        keepAlive: keepAlive)
                }
            }
        }
    }

    struct Problem: Error {
        let message: String
    }

    /// The path and the query (empty when there is none).
    static func split(_ target: String) -> (Substring, Substring) {
        guard let q = target.firstIndex(of: "?") else { return (Substring(target), "") }
        return (target[..<q], target[target.index(after: q)...])
    }

    /// The parameters, form-decoded (`+` is a space). Each may be given once.
    static func parse(query: Substring) throws -> IdentityEndpoint.Request {
        guard let fields = FormEncoding.parse(query) else {
            throw Problem(message: "a query parameter is not valid percent-encoded UTF-8")
        }
        var values: [String: String] = [:]
        for (name, value) in fields {
            guard values[name] == nil else {
                throw Problem(message: "the parameter \(Display.printable(name)) is given more than once")
            }
            values[name] = value
        }
        guard let version = values["api-version"] else {
            throw Problem(message: "the api-version parameter is missing (use \(IdentityEndpoint.apiVersion))")
        }
        guard version == IdentityEndpoint.apiVersion else {
            throw Problem(
                message:
                    "api-version \(Display.printable(version)) is not supported (use \(IdentityEndpoint.apiVersion))")
        }
        if let other = IdentityEndpoint.otherIdentityParameters.first(where: { values[$0] != nil }) {
            throw Problem(
                message: "the \(other) parameter selects another managed identity; this endpoint serves one app")
        }
        guard let resource = values["resource"], !resource.isEmpty else {
            throw Problem(message: "the resource parameter is missing")
        }
        let clientID = values["client_id"].flatMap { $0.isEmpty ? nil : $0 }
        return IdentityEndpoint.Request(resource: resource, clientID: clientID)
    }

    private func refuse(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String,
        extra: [(String, String)] = []
    ) {
        // A refused request does not keep the connection: a client that sent something wrong
        // (or too large) starts again.
        send(
            context, status: status, body: ByteBuffer(bytes: errorBody(Int(status.code), message)), keepAlive: false,
            extra: extra)
    }

    private func send(
        _ context: ChannelHandlerContext, status: HTTPResponseStatus, body: ByteBuffer, keepAlive: Bool,
        extra: [(String, String)] = []
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in extra { headers.add(name: name, value: value) }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
