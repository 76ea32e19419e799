import ArgumentParser
import Foundation
import TokvaultVault

/// Where a client secret comes from. Never from argv: `ps` shows argv to every user.
struct SecretOptions: ParsableArguments {
    @Flag(name: .long, help: "Read the client secret from standard input (one trailing newline is dropped).")
    var secretStdin = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the client secret from this file (one trailing newline is dropped).", valueName: "file"))
    var secretFile: String?

    var isGiven: Bool { secretStdin || secretFile != nil }

    func validate() throws {
        if secretStdin && secretFile != nil {
            throw ValidationError("give the client secret once: --secret-stdin or --secret-file")
        }
    }

    /// The secret from stdin/file, or from a no-echo prompt when `prompt` is set.
    func read(prompt: String?) throws -> SecureBytes? {
        if secretStdin { return try SecretInput.fromStandardInput(what: "client secret") }
        if let secretFile { return try SecretInput.fromFile(secretFile, what: "client secret") }
        guard let prompt else { return nil }
        guard let typed = try Terminal.readSecret(prompt: prompt) else { return nil }
        return try SecretInput.check(typed, what: "client secret")
    }
}

enum SecretInput {
    static let limit = 64 * 1024

    static func fromStandardInput(what: String) throws -> SecureBytes {
        if isatty(STDIN_FILENO) == 1 {
            // Typed at a terminal: don't echo it.
            guard let typed = try Terminal.readSecret(prompt: "\(what.prefix(1).uppercased() + what.dropFirst()): ")
            else {
                throw CommandError.usage("cannot read the \(what) from the terminal")
            }
            return try check(typed, what: what)
        }
        guard let bytes = try SecureBytes.read(fileDescriptor: STDIN_FILENO, limit: limit) else {
            throw CommandError.usage("the \(what) on standard input is longer than \(limit / 1024) KiB")
        }
        return try check(bytes.trimmingFinalNewline(), what: what)
    }

    static func fromFile(_ path: String, what: String) throws -> SecureBytes {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError.failure("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let bytes = try SecureBytes.read(fileDescriptor: fd, limit: limit) else {
            throw CommandError.usage("\(path) is longer than \(limit / 1024) KiB: not a \(what)")
        }
        return try check(bytes.trimmingFinalNewline(), what: what)
    }

    /// Secrets go into form bodies and headers: one line of printable text.
    static func check(_ secret: SecureBytes, what: String) throws -> SecureBytes {
        guard secret.count > 0 else { throw CommandError.usage("the \(what) is empty") }
        guard secret.isValidUTF8 else { throw CommandError.usage("the \(what) is not valid UTF-8 text") }
        let hasControl = secret.withUnsafeBytes { $0.contains { $0 < 0x20 || $0 == 0x7F } }
        guard !hasControl else {
            throw CommandError.usage(
                "the \(what) contains a line break or control character", hint: "give the secret on one line")
        }
        return secret
    }
}
