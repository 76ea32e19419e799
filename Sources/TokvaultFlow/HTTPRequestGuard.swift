import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// What one connection to a local listener may cost it. Everything is bounded: the size of a
/// request, the time to send one, the time a connection may sit without one, and the number of
/// connections at once. Only the time a request is being answered is not, since an answer may
/// wait on the provider or on another process's refresh.
struct HTTPRequestLimits: Sendable {
    var maxTarget: Int
    var maxHeaderBytes: Int
    var maxBody: Int
    /// From the connection (or the last answer) to a complete request head: a client that
    /// sends its head a byte at a time is cut off, however steadily it sends.
    var waitingTimeout: TimeAmount = .seconds(30)
    /// From a request head to its end: a body that trickles in is cut off.
    var requestTimeout: TimeAmount = .seconds(10)
    var maxConnections = 64
}

/// Counts a listener's open connections; a connection over the limit is closed at once.
final class ConnectionLimit: Sendable {
    private let open = NIOLockedValueBox(0)
    let maximum: Int

    init(maximum: Int) { self.maximum = maximum }

    /// Admits `channel` (counted until it closes), or returns false.
    func admit(_ channel: Channel) -> Bool {
        let admitted = open.withLockedValue { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
        if admitted { channel.closeFuture.whenComplete { _ in self.open.withLockedValue { $0 -= 1 } } }
        return admitted
    }
}

/// Sits after NIO's HTTP server pipeline and applies `HTTPRequestLimits`: a request over a size
/// limit is refused as soon as the limit is passed (not once all of it has arrived), a request
/// too slow to arrive gets 408, and either way the connection ends. The handler behind it sees
/// only requests within the limits; it may ignore their bodies.
final class HTTPRequestGuard: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The body of a refusal: its content type and bytes.
    typealias Refusal = @Sendable (_ status: HTTPResponseStatus, _ message: String) -> (String, ByteBuffer)

    private enum State {
        case waiting
        case receiving(bodyBytes: Int)
        case answering
        case refused
    }

    let limits: HTTPRequestLimits
    let refusal: Refusal
    private var state = State.waiting
    private var timer: Scheduled<Void>?

    init(limits: HTTPRequestLimits, refusal: @escaping Refusal) {
        self.limits = limits
        self.refusal = refusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: limits.waitingTimeout, status: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.refused, _):
            return
        case (_, .head(let head)):
            let headerBytes = head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
            if head.uri.utf8.count > limits.maxTarget {
                return refuse(context, .uriTooLong, "the request target is too long")
            }
            if headerBytes > limits.maxHeaderBytes {
                return refuse(context, .requestHeaderFieldsTooLarge, "the request headers are too large")
            }
            if let length = head.headers["Content-Length"].first.flatMap({ Int($0) }), length > limits.maxBody {
                return refuse(context, .payloadTooLarge, "the request body is too large")
            }
            state = .receiving(bodyBytes: 0)
            arm(context, after: limits.requestTimeout, status: .requestTimeout)
        case (.receiving(let count), .body(let chunk)):
            let total = count + chunk.readableBytes
            if total > limits.maxBody { return refuse(context, .payloadTooLarge, "the request body is too large") }
            state = .receiving(bodyBytes: total)
        case (.receiving, .end):
            // The answer may take as long as it takes (a refresh can wait on another process).
            timer?.cancel()
            timer = nil
            state = .answering
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), case .answering = state {
            state = .waiting
            arm(context, after: limits.waitingTimeout, status: nil)
        }
        context.write(data, promise: promise)
    }

    /// After `delay`, answer `status` (if any) and end the connection.
    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, status: HTTPResponseStatus?) {
        timer?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            if let status {
                handler.refuse(context, status, "the request took too long to arrive")
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// Answers `status` and closes: output first, then (after reading and dropping what the
    /// client is still sending, so that its kernel does not discard the answer on a reset)
    /// the connection, within two seconds at most.
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        state = .refused
        timer?.cancel()
        let (contentType, body) = refusal(status, message)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        timer = context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client finished sending after a refusal: nothing more to drop.
        if case .refused = state, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
