import Foundation
import TokvaultVault

/// The controlling terminal, used for prompts. Prompts never read standard input, which
/// belongs to `--secret-stdin` and pipes; without a terminal there is no prompt at all.
enum Terminal {
    /// Saved terminal state, restored by the SIGINT handler if Ctrl-C lands mid-prompt. On the
    /// heap, not a global `termios`: Swift 6.x registers such a global with AddressSanitizer as
    /// 57 bytes (the struct less its tail), and the 60-byte copy into it is reported.
    nonisolated(unsafe) static let savedAttributes: UnsafeMutablePointer<termios> = {
        let storage = UnsafeMutablePointer<termios>.allocate(capacity: 1)
        storage.initialize(to: termios())
        return storage
    }()
    nonisolated(unsafe) static var echoDisabledFD: Int32 = -1

    /// Set when nothing may ask (kubectl's non-interactive exec plugin): no prompt opens the
    /// terminal, as if there were none.
    nonisolated(unsafe) static var disabled = false

    static func openTTY() -> Int32? {
        guard !disabled else { return nil }
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        return fd >= 0 ? fd : nil
    }

    static var isAvailable: Bool {
        guard let fd = openTTY() else { return false }
        close(fd)
        return true
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
    }

    /// Reads one line from the terminal without echo into guarded memory; nil without a TTY.
    static func readSecret(prompt: String, limit: Int = 64 * 1024) throws -> SecureBytes? {
        guard let fd = openTTY() else { return nil }
        defer { close(fd) }
        write(fd, prompt)
        var attributes = termios()
        let hasAttributes = tcgetattr(fd, &attributes) == 0
        if hasAttributes {
            savedAttributes.pointee = attributes
            echoDisabledFD = fd
            installInterruptHandler()
            var silent = attributes
            silent.c_lflag &= ~tcflag_t(ECHO)
            silent.c_lflag |= tcflag_t(ECHONL | ICANON)
            tcsetattr(fd, TCSAFLUSH, &silent)
        }
        defer {
            if hasAttributes {
                tcsetattr(fd, TCSAFLUSH, &attributes)
                echoDisabledFD = -1
            }
        }
        let line = SecureBytes(count: limit)
        var used = 0
        var byte: UInt8 = 0
        while used < limit {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == 0x0A || byte == 0x0D { break }
            line.withUnsafeMutableBytes { $0[used] = byte }
            used += 1
        }
        byte = 0
        if !hasAttributes { write(fd, "\n") }
        return line.prefix(used)
    }

    /// Asks a yes/no question on the terminal; nil without a TTY.
    static func confirm(_ question: String) -> Bool? {
        guard let fd = openTTY() else { return nil }
        defer { close(fd) }
        write(fd, question + " [y/N] ")
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != 0x0A { answer.append(byte) }
        let text = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
        return text == "y" || text == "yes"
    }

    /// Destructive commands ask first; without a terminal they need `--yes`.
    /// Returns false when the user said no (the command then does nothing).
    static func confirmOrRequireYes(_ question: String, yes: Bool, refusal: String) throws -> Bool {
        if yes { return true }
        guard let answer = confirm(question) else {
            throw CommandError.usage(refusal, hint: "pass --yes")
        }
        if !answer { print("Nothing changed.") }
        return answer
    }

    private static func installInterruptHandler() {
        signal(SIGINT) { sig in
            if Terminal.echoDisabledFD >= 0 {
                tcsetattr(Terminal.echoDisabledFD, TCSAFLUSH, Terminal.savedAttributes)
                _ = Glibc.write(Terminal.echoDisabledFD, "\n", 1)
            }
            _exit(128 + sig)
        }
    }
}

/// stderr output in tokvault's own format.
enum Diagnostics {
    static func write(_ text: String) {
        Array(text.utf8).withUnsafeBytes { Output.writeAll(2, $0) }
    }

    static func error(_ message: String, hint: String? = nil) {
        var text = "tokvault: error: \(message)\n"
        if let hint { text += "tokvault: hint: \(hint)\n" }
        write(text)
    }

    static func warning(_ message: String) {
        write("tokvault: warning: \(message)\n")
    }

    static func hint(_ message: String) {
        write("tokvault: hint: \(message)\n")
    }

    static func note(_ message: String) {
        write("tokvault: \(message)\n")
    }
}
