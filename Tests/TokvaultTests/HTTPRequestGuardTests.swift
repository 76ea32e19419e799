import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import TokvaultFlow

/// The limits in front of the local listeners, on an embedded channel with a virtual clock.
@Suite struct HTTPRequestGuardTests {
    /// Records what the guard lets through.
    final class Behind: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        var parts: [String] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): parts.append("head \(head.uri)")
            case .body(let chunk): parts.append("body \(chunk.readableBytes)")
            case .end: parts.append("end")
            }
        }
    }

    struct Harness {
        let channel = EmbeddedChannel()
        let behind = Behind()
        init(_ limits: HTTPRequestLimits) throws {
            let refusal: HTTPRequestGuard.Refusal = { status, message in
                ("text/plain", ByteBuffer(string: "\(status.code) \(message)"))
            }
            try channel.pipeline.syncOperations.addHandlers([HTTPRequestGuard(limits: limits, refusal: refusal), behind]
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }
        func head(_ uri: String = "/x", headers: [(String, String)] = []) throws {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            try channel.writeInbound(HTTPServerRequestPart.head(head))
        }
        func body(_ count: Int) throws {
            try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(repeating: 0x61, count: count)))
        }
        func end() throws { try channel.writeInbound(HTTPServerRequestPart.end(nil)) }
        /// The status of a refusal written by the guard, if any.
        func refusal() throws -> (UInt, String)? {
            guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else { return nil }
            guard case .body(.byteBuffer(let body)) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
                return nil
            }
            return (head.status.code, String(buffer: body))
        }
        func answer() throws {
            let head = HTTPResponseHead(version: .http1_1, status: .ok)
            try channel.writeOutbound(HTTPServerResponsePart.head(head))
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
            _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
            _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
        }
        func advance(seconds: Int64) { channel.embeddedEventLoop.advanceTime(by: .seconds(seconds)) }
    }

    static let limits = HTTPRequestLimits(
        maxTarget: 64, maxHeaderBytes: 200, maxBody: 100, waitingTimeout: .seconds(30), requestTimeout: .seconds(10))

    @Test func aBodyOverTheLimitIsRefusedAtTheChunkThatPassesIt() throws {
        let h = try Harness(Self.limits)
        try h.head()
        try h.body(60)
        try h.body(60)
        let refused = try #require(try h.refusal())
        #expect(refused.0 == 413 && refused.1.contains("too large"))
        // Nothing past the limit, and nothing after the refusal, reaches the handler.
        try h.body(10)
        try h.end()
        #expect(h.behind.parts == ["head /x", "body 60"])
        // The connection ends within two seconds even if the client keeps sending.
        h.advance(seconds: 3)
        #expect(!h.channel.isActive)
    }

    @Test func aDeclaredLengthOverTheLimitIsRefusedBeforeAnyBody() throws {
        let h = try Harness(Self.limits)
        try h.head(headers: [("Content-Length", "101")])
        #expect(try h.refusal()?.0 == 413)
        #expect(h.behind.parts.isEmpty)
    }

    @Test func aLongTargetOrLargeHeadersAreRefused() throws {
        let long = try Harness(Self.limits)
        try long.head("/" + String(repeating: "a", count: 64))
        #expect(try long.refusal()?.0 == 414)
        let large = try Harness(Self.limits)
        try large.head(headers: [("X-Pad", String(repeating: "b", count: 200))])
        #expect(try large.refusal()?.0 == 431)
        #expect(long.behind.parts.isEmpty && large.behind.parts.isEmpty)
    }

    /// A body sent a chunk at a time, each well within any idle timeout, still has to end in time.
    @Test func aTricklingRequestIsCutOffAtItsDeadline() throws {
        let h = try Harness(Self.limits)
        try h.head()
        for _ in 0..<9 {
            h.advance(seconds: 1)
            try h.body(1)
        }
        #expect(try h.refusal() == nil)
        h.advance(seconds: 1)
        let refused = try #require(try h.refusal())
        #expect(refused.0 == 408)
    }

    /// An answer may take minutes (a refresh waiting on another process): the connection is not
    /// cut while it is pending; after the answer the waiting timeout starts again.
    @Test func aPendingAnswerIsNotCutOffAndAnIdleConnectionIs() throws {
        let h = try Harness(Self.limits)
        try h.head()
        try h.end()
        h.advance(seconds: 300)
        #expect(h.channel.isActive, "closed while the answer was pending")
        try h.answer()
        h.advance(seconds: 29)
        #expect(h.channel.isActive)
        // A second request on the connection, then silence.
        try h.head("/y")
        try h.end()
        try h.answer()
        h.advance(seconds: 31)
        #expect(!h.channel.isActive, "an idle connection stays open")
        #expect(h.behind.parts == ["head /x", "end", "head /y", "end"])
    }

    /// A connection that never completes a request head is closed after the waiting timeout.
    @Test func aConnectionWithoutARequestIsClosed() throws {
        let h = try Harness(Self.limits)
        h.advance(seconds: 29)
        #expect(h.channel.isActive)
        h.advance(seconds: 2)
        #expect(!h.channel.isActive)
    }

    @Test func connectionsOverTheCapAreRefused() throws {
        let limit = ConnectionLimit(maximum: 2)
        let channels = (0..<3).map { _ in EmbeddedChannel() }
        #expect(limit.admit(channels[0]) && limit.admit(channels[1]))
        #expect(!limit.admit(channels[2]))
        try channels[0].close().wait()
        channels[0].embeddedEventLoop.run()
        #expect(limit.admit(channels[2]), "a closed connection still counted")
    }
}
