import Foundation
import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import TokvaultFlow

// Raw bytes from the browser (or anything else that connects to the listener) into the
// redirect listener's pipeline, set up as LoopbackReceiver.start sets up each connection:
// NIO's HTTP server pipeline with error handling, then RedirectHandler.
//
// Input: one byte that splits the rest into writes of that many bytes (0: one write; at
// least 4096 for inputs over 8 KiB), then the bytes of the connection. Two placeholders reach what random bytes cannot:
// "@STATE@" becomes this login's state, "@BIG@" 65536 bytes of "a" (past maxBody).

enum Fixture {
    static let secrets = LoginSecrets()
    static let path = "/callback"
    static let stateBytes = Array(secrets.state.utf8)
    /// `<` in the page template of RedirectHandler.send; any more came from the input.
    static let templateTags = 14
}

/// The first accepted outcome, as the receiver's callback sees it.
final class OutcomeRecord: @unchecked Sendable {
    var outcome: LoopbackReceiver.Outcome?
}

func expand(_ input: [UInt8]) -> [UInt8] {
    let state = Array("@STATE@".utf8), big = Array("@BIG@".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(input.count)
    var i = 0
    while i < input.count {
        if input[i] == UInt8(ascii: "@") {
            if input[i...].starts(with: state) { out += Fixture.stateBytes; i += state.count; continue }
            if input[i...].starts(with: big) { out += [UInt8](repeating: UInt8(ascii: "a"), count: 65536); i += big.count; continue }
        }
        out.append(input[i])
        i += 1
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoopback(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    var split = Int(input.byte())
    let bytes = expand(input.rest())
    // 64 KiB one byte per write takes over 10 s under ASan: linear, but past libFuzzer's timeout.
    if bytes.count > 8192 && split != 0 { split = max(split, 4096) }

    let box = OutcomeBox()
    let record = OutcomeRecord()
    box.setCallback { record.outcome = $0 }
    let channel = EmbeddedChannel()
    do {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(
            RedirectHandler(
                path: Fixture.path, secrets: Fixture.secrets, appName: "fuzz", box: box, startPage: StartPage(),
                notice: { _ in }))
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 50000), promise: nil)
    } catch {
        require(false, "cannot set up the pipeline: \(error)")
    }

    var offset = 0
    while offset < bytes.count && channel.isActive {
        let end = split == 0 ? bytes.count : min(bytes.count, offset + split)
        // Parser errors are expected: the error handler answers 400 and closes.
        _ = try? channel.writeInbound(ByteBuffer(bytes: bytes[offset..<end]))
        offset = end
    }

    var output: [UInt8] = []
    while let part = try? channel.readOutbound(as: IOData.self) {
        if case .byteBuffer(let buffer) = part { output += buffer.readableBytesView }
    }
    _ = try? channel.finish(acceptAlreadyClosed: true)

    checkResponses(output)
    if let outcome = record.outcome {
        // Only a redirect that carried this login's state can be accepted.
        require(bytes.count >= Fixture.stateBytes.count && containsState(bytes), "accepted \(outcome) without the state")
        if case .code(let code) = outcome { require(!code.isEmpty, "accepted an empty code") }
    }
    return 0
}

func containsState(_ bytes: [UInt8]) -> Bool {
    let state = Fixture.stateBytes
    guard bytes.count >= state.count else { return false }
    return (0...(bytes.count - state.count)).contains { bytes[$0..<($0 + state.count)].elementsEqual(state) }
}

/// Every answer on the wire is a well-formed HTTP/1.1 response whose Content-Length matches,
/// and no text from the request reaches the page unescaped.
func checkResponses(_ output: [UInt8]) {
    var rest = output[...]
    let separator = Array("\r\n\r\n".utf8)
    while !rest.isEmpty {
        guard let headEnd = rest.indices.first(where: { rest[$0...].starts(with: separator) }) else {
            require(false, "response without a complete head: \(String(decoding: rest, as: UTF8.self).debugDescription)")
            return
        }
        let head = String(decoding: rest[rest.startIndex..<headEnd], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let status = lines[0].split(separator: " ", maxSplits: 2)
        require(status.count >= 2 && status[0] == "HTTP/1.1" && status[1].count == 3 && Int(status[1]) != nil,
                "bad status line \(lines[0].debugDescription)")
        var length = 0
        var html = false
        for line in lines.dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            require(pair.count == 2, "bad header line \(line.debugDescription)")
            switch pair[0].lowercased() {
            case "content-length": length = Int(pair[1]) ?? -1
            case "content-type": html = pair[1].hasPrefix("text/html")
            case "transfer-encoding": require(false, "unexpected transfer-encoding \(pair[1])")
            default: break
            }
        }
        let bodyStart = headEnd + separator.count
        require(length >= 0 && rest.endIndex - bodyStart >= length, "content-length \(length) but \(rest.endIndex - bodyStart) bytes follow")
        let body = rest[bodyStart..<(bodyStart + length)]
        if html {
            let tags = body.filter { $0 == UInt8(ascii: "<") }.count
            require(tags == Fixture.templateTags, "page has \(tags) '<' instead of \(Fixture.templateTags): \(String(decoding: body, as: UTF8.self))")
        }
        rest = rest[(bodyStart + length)...]
    }
}

runFuzzer { fuzzLoopback($0 ?? emptyInput, $1) }
