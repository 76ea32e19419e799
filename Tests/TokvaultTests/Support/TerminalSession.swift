import Foundation
import Testing

/// A command running under a pseudo-terminal: `script -qfec COMMAND /dev/null`. Its stdin
/// is forwarded to the terminal; the terminal's output (stdout and stderr of the command,
/// plus the echo of what was typed) is collected.
final class TerminalSession: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lock = NSLock()
    private var collected = Data()
    private var reachedEnd = false

    init(command: String, environment: [String: String], cwd: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-q", "-f", "-e", "-c", command, "/dev/null"]
        process.environment = environment.merging(["SHELL": "/bin/sh"]) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        // A write to a terminal whose command already ended must fail, not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        let fd = output.fileHandleForReading.fileDescriptor
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                lock.withLock { collected.append(contentsOf: buffer[0..<n]) }
            }
            lock.withLock { reachedEnd = true }
        }.start()
    }

    /// Everything the terminal showed so far, with the terminal's CR LF turned into LF.
    var text: String {
        lock.withLock { String(decoding: collected, as: UTF8.self) }.replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// Waits until `predicate` holds for the output; false on timeout or when the command ended first.
    func wait(seconds: Double, until predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if predicate(text) { return true }
            if !process.isRunning && lock.withLock({ reachedEnd }) { return predicate(text) }
            usleep(20_000)
        }
        return predicate(text)
    }

    /// Types a line (the terminal is in canonical mode: the command reads it on Enter).
    func type(_ line: String) {
        do {
            try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            Issue.record("could not type into the terminal: \(error)")
        }
    }

    /// Types bytes as they are (0x03 is ^C: the terminal sends SIGINT to its foreground group).
    func send(_ bytes: [UInt8]) {
        do {
            try input.fileHandleForWriting.write(contentsOf: Data(bytes))
        } catch {
            Issue.record("could not type into the terminal: \(error)")
        }
    }

    /// The exit status, or nil if the command had to be killed after `seconds`.
    func finish(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill()
            return nil
        }
        _ = wait(seconds: 2) { _ in lock.withLock { reachedEnd } }
        try? input.fileHandleForWriting.close()
        return process.terminationStatus
    }

    func kill() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
    }
}

/// `word` quoted for /bin/sh.
func shellQuoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
