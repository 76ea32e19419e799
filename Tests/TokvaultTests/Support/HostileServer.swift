// Test-only helpers for misbehaving peers that the fake identity provider cannot play: a raw
// TCP server that answers each connection with scripted bytes (or silence, or a trickle), a
// raw HTTP client that can send what no HTTP library would, and a child process whose
// output can be watched while it runs.

import Foundation

/// A loopback TCP server that reads one request per connection and answers it as `script`
/// says. Plain POSIX sockets and threads, so that it can misbehave at the byte level.
final class HostileServer: @unchecked Sendable {
    /// One request as received: enough to count and inspect what the client sent.
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [String: String]
        var bodyLength: Int
        /// A TLS ClientHello (first byte 0x16) instead of HTTP.
        var isTLS: Bool
        /// The body's first 64 KiB (a token request's form), for checks of what was sent.
        var body: [UInt8] = []

        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    enum Behavior: Sendable {
        /// These bytes, then close.
        case bytes([UInt8])
        /// Nothing at all; the connection stays open until the server stops.
        case silence
        /// `bytes` one at a time, `milliseconds` apart, then close.
        case trickle([UInt8], milliseconds: Int)
        /// `head` at once, then `body` one byte at a time, `milliseconds` apart.
        case headThenTrickle(head: [UInt8], body: [UInt8], milliseconds: Int)
        /// `head` (status line and headers, without the blank line), then `count` bytes of
        /// `filler`, written as fast as the client takes them.
        case flood(head: String, count: Int, filler: UInt8)
        /// Close at once without a byte.
        case close
    }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false
    private var listenerClosed = false
    private var connections: Set<Int32> = []
    private var received: [Request] = []
    private var hungUp: [Double] = []
    private let script: @Sendable (Request) -> Behavior

    /// `port` 0 takes a free one; another (one just released) is for a server that starts
    /// listening only after a client has been refused there.
    init(port requested: Int = 0, _ script: @escaping @Sendable (Request) -> Behavior) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HostileServerError.socket(errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(requested).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw HostileServerError.socket(code)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// A server that answers every request with the same behaviour.
    convenience init(always behavior: Behavior) throws {
        try self.init { _ in behavior }
    }

    deinit { stop() }

    var url: String { "http://127.0.0.1:\(port)" }

    var requests: [Request] { lock.withLock { received } }

    /// For each connection the client closed while this server was still silent or trickling:
    /// seconds from accepting it to noticing. Measured on the server's own threads, so a busy
    /// test process (whose async tasks may wait for a thread) does not distort it.
    var hangUps: [Double] { lock.withLock { hungUp } }

    private func noteHangUp(since accepted: Date) {
        let seconds = Date().timeIntervalSince(accepted)
        lock.withLock { hungUp.append(seconds) }
    }

    /// Whether the peer has closed its end (a read would return 0 or fail).
    private func peerClosed(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// Shuts the listener and every open connection down (ending silences and trickles).
    /// Descriptors are shut down and closed only under the lock: a number closed elsewhere may
    /// already belong to another server's socket in this process.
    func stop() {
        lock.withLock {
            if stopped { return }
            stopped = true
            if !listenerClosed { shutdown(listener, Int32(SHUT_RDWR)) }
            for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            let accepted: Bool = lock.withLock {
                if stopped { return false }
                connections.insert(fd)
                return true
            }
            guard accepted else {
                Glibc.close(fd)
                break
            }
            Thread { [self] in
                serve(fd)
                lock.withLock {
                    connections.remove(fd)
                    Glibc.close(fd)
                }
            }.start()
        }
        lock.withLock {
            listenerClosed = true
            Glibc.close(listener)
        }
    }

    private func serve(_ fd: Int32) {
        let accepted = Date()
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let request = readRequest(fd) else { return }
        lock.withLock { received.append(request) }
        switch script(request) {
        case .bytes(let bytes):
            _ = sendAll(fd, bytes)
        case .silence:
            while !isStopped {
                if peerClosed(fd) {
                    noteHangUp(since: accepted)
                    break
                }
                usleep(20_000)
            }
        case .trickle(let bytes, let milliseconds):
            trickle(fd, bytes, milliseconds: milliseconds, accepted: accepted)
        case .headThenTrickle(let head, let body, let milliseconds):
            guard sendAll(fd, head) else { return }
            trickle(fd, body, milliseconds: milliseconds, accepted: accepted)
        case .flood(let head, let count, let filler):
            guard sendAll(fd, Array((head + "\r\n\r\n").utf8)) else { return }
            let chunk = [UInt8](repeating: filler, count: 64 * 1024)
            var left = count
            while left > 0 && !isStopped {
                let n = min(left, chunk.count)
                if !sendAll(fd, Array(chunk[0..<n])) { break }
                left -= n
            }
        case .close:
            break
        }
        shutdown(fd, Int32(SHUT_WR))
        // Let the client read everything before the socket goes (no RST over unread data).
        var sink = [UInt8](repeating: 0, count: 4096)
        var drain = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &drain, socklen_t(MemoryLayout<timeval>.size))
        while recv(fd, &sink, sink.count, 0) > 0 {}
    }

    private func trickle(_ fd: Int32, _ bytes: [UInt8], milliseconds: Int, accepted: Date) {
        for byte in bytes {
            if isStopped { return }
            if peerClosed(fd) || !sendAll(fd, [byte]) {
                noteHangUp(since: accepted)
                return
            }
            usleep(useconds_t(milliseconds * 1000))
        }
    }

    /// The request line, headers and (counted, drained) body; a TLS hello is recorded as such.
    private func readRequest(_ fd: Int32) -> Request? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 {
                return data.isEmpty
                    ? nil : Request(method: "", target: "", headers: [:], bodyLength: 0, isTLS: data.first == 0x16)
            }
            data += buffer[0..<n]
            if data.first == 0x16 {
                return Request(method: "TLS", target: "", headers: [:], bodyLength: 0, isTLS: true)
            }
            if data.count >= 4 {
                for i in max(0, data.count - n - 3)...(data.count - 4) where Array(data[i..<(i + 4)]) == separator {
                    headerEnd = i + 4
                    break
                }
            }
            if data.count > 1 << 20 { return nil }
        }
        let head = String(decoding: data[0..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var bodyLength = data.count - headerEnd!
        var body = Array(data[headerEnd!...].prefix(64 * 1024))
        let expected = Int(headers["content-length"] ?? "") ?? 0
        while bodyLength < expected {
            let n = recv(fd, &buffer, min(buffer.count, expected - bodyLength), 0)
            if n <= 0 { break }
            bodyLength += n
            if body.count < 64 * 1024 { body += buffer[0..<min(n, 64 * 1024 - body.count)] }
        }
        return Request(
            method: requestLine.first.map(String.init) ?? "",
            target: requestLine.dropFirst().first.map(String.init) ?? "",
            headers: headers, bodyLength: bodyLength, isTLS: false, body: body)
    }

    /// An HTTP/1.1 answer with a Content-Length and `Connection: close`.
    static func response(
        _ status: String, contentType: String? = "application/json", body: String = "",
        headers: [(String, String)] = []
    ) -> Behavior {
        var head = "HTTP/1.1 \(status)\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        return .bytes(Array((head + body).utf8))
    }
}

enum HostileServerError: Error {
    case socket(Int32)
}

/// send(2) with MSG_NOSIGNAL until done; false once the peer is gone.
@discardableResult
func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        offset += n
    }
    return true
}

/// A raw HTTP/1.1 exchange with a loopback port: the request bytes exactly as given.
enum RawHTTP {
    struct Answer: CustomStringConvertible {
        /// nil when no status line came back (the connection was closed or reset first).
        var status: Int?
        var text: String
        /// Whether sending stopped early because the peer closed or reset the connection.
        var sendFailed: Bool
        var description: String {
            "status \(status.map(String.init) ?? "none") (send failed: \(sendFailed)): \(text.prefix(300))"
        }
    }

    static func exchange(port: Int, _ request: [UInt8], timeout: Int = 5) -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return Answer(status: nil, text: "socket failed", sendFailed: true) }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            return Answer(status: nil, text: "connect failed: \(String(cString: strerror(errno)))", sendFailed: true)
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let sent = sendAll(fd, request)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buffer[0..<n]
            if data.count > 1 << 20 || isComplete(data) { break }
        }
        let text = String(decoding: data, as: UTF8.self)
        var status: Int?
        if text.hasPrefix("HTTP/1."), let code = text.split(separator: " ").dropFirst().first { status = Int(code) }
        return Answer(status: status, text: text, sendFailed: !sent)
    }

    /// A whole answer has arrived (headers and Content-Length bytes of body): some servers
    /// keep the connection open after an error answer, and waiting for EOF would only cost time.
    static func isComplete(_ data: [UInt8]) -> Bool {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard data.count >= 4,
            let end = (0...(data.count - 4)).first(where: { Array(data[$0..<($0 + 4)]) == separator })
        else { return false }
        let head = String(decoding: data[0..<end], as: UTF8.self).lowercased()
        guard let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return false }
        return data.count >= end + 4 + length
    }

    /// `METHOD TARGET HTTP/1.1` with Host and `Connection: close`, plus a body if given.
    static func request(
        _ method: String = "GET", _ target: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }
}

/// A child process whose stdout and stderr are collected while it runs, for commands that
/// must be talked to (a login waiting for its redirect) before they end.
final class LiveProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private var openStreams = 2

    init(_ command: [String], environment: [String: String], cwd: String, stdin: FileHandle? = FileHandle.nullDevice)
        throws
    {
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = stdin
        try process.run()
        for (pipe, isErr) in [(outPipe, false), (errPipe, true)] {
            let fd = pipe.fileHandleForReading.fileDescriptor
            Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 8192)
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    lock.withLock {
                        if isErr {
                            err.append(contentsOf: buffer[0..<n])
                        } else {
                            out.append(contentsOf: buffer[0..<n])
                        }
                    }
                }
                lock.withLock { openStreams -= 1 }
            }.start()
        }
    }

    /// `tokvault ARGS` the way `CLI.run` starts it (setsid, the CLI's environment).
    static func tokvault(_ cli: CLI, _ arguments: [String], env: [String: String] = [:]) throws -> LiveProcess {
        try LiveProcess(
            ["/usr/bin/setsid", "-w", CLI.binary] + arguments,
            environment: cli.environment.merging(env) { $1 }, cwd: cli.directory.path)
    }

    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    /// Waits until `predicate` holds for stderr; false on timeout or if the process ended first.
    func waitForStderr(seconds: Double, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if predicate(stderr) { return true }
            if !process.isRunning {
                usleep(50_000)
                return predicate(stderr)
            }
            usleep(20_000)
        }
        return predicate(stderr)
    }

    var isRunning: Bool { process.isRunning }

    /// The exit status (128+N for a signal), or nil if it had to be killed after `seconds`.
    func finish(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(-process.processIdentifier, SIGKILL)
            process.terminate()
            process.waitUntilExit()
            return nil
        }
        let drained = Date().addingTimeInterval(2)
        while lock.withLock({ openStreams > 0 }) && Date() < drained { usleep(10_000) }
        return process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
    }
}
