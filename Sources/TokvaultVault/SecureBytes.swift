import CSodium
import Glibc

/// Bytes that must not leak: kept in libsodium's guarded memory (guard pages, mlock'd,
/// excluded from core dumps where the kernel supports it) and wiped when released.
///
/// The bytes are reachable only through the scoped `withUnsafeBytes` accessor, and every
/// textual or reflective rendering of the value says `<redacted>`.
package final class SecureBytes: @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer
    package let count: Int

    /// Zero-filled guarded memory of `count` bytes.
    package init(count: Int) {
        Sodium.initialize()
        guard let memory = sodium_malloc(Swift.max(count, 1)) else {
            fatalError("sodium_malloc(\(count)) failed: out of memory")
        }
        sodium_memzero(memory, Swift.max(count, 1))
        pointer = memory
        self.count = count
    }

    /// Copies `bytes` into guarded memory. The caller remains responsible for its own copy.
    package convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 {
            pointer.copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// Copies the array into guarded memory and wipes the array.
    package convenience init(consuming bytes: inout [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 {
                pointer.copyMemory(from: base, byteCount: buffer.count)
                sodium_memzero(base, buffer.count)
            }
        }
        bytes.removeAll()
    }

    /// `count` bytes from the operating system's CSPRNG.
    package static func random(count: Int) -> SecureBytes {
        let bytes = SecureBytes(count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    deinit {
        // sodium_free wipes the region before unmapping it.
        sodium_free(pointer)
    }

    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    package func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// A new buffer holding the first `length` bytes.
    package func prefix(_ length: Int) -> SecureBytes {
        withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
    }

    /// Constant-time comparison.
    package func constantTimeEquals(_ other: SecureBytes) -> Bool {
        guard count == other.count else { return false }
        if count == 0 { return true }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in sodium_memcmp(a.baseAddress!, b.baseAddress!, count) == 0 }
        }
    }

    /// Whether the bytes are valid UTF-8 (secrets sent in form bodies must be text).
    package var isValidUTF8: Bool {
        withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) != nil }
    }
}

extension SecureBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    package var description: String { "<redacted>" }
    package var debugDescription: String { "<redacted>" }
    package var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension SecureBytes {
    /// Reads a file descriptor to its end into guarded memory, refusing more than `limit` bytes.
    /// Returns nil when the input is longer than `limit`.
    package static func read(fileDescriptor fd: Int32, limit: Int) throws -> SecureBytes? {
        var buffer = SecureBytes(count: Swift.min(limit + 1, 4096))
        var used = 0
        while true {
            if used == buffer.count {
                if buffer.count > limit { return nil }
                let bigger = SecureBytes(count: Swift.min(buffer.count * 2, limit + 1))
                buffer.withUnsafeBytes { old in
                    bigger.withUnsafeMutableBytes {
                        $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: old.prefix(used)))
                    }
                }
                buffer = bigger
            }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VaultError.io("read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            used += n
            if used > limit { return nil }
        }
        return buffer.prefix(used)
    }

    /// The same bytes without one trailing "\n" or "\r\n" (as left by `echo` or an editor).
    package func trimmingFinalNewline() -> SecureBytes {
        withUnsafeBytes { bytes in
            var end = bytes.count
            if end > 0 && bytes[end - 1] == 0x0A { end -= 1 }
            if end > 0 && bytes[end - 1] == 0x0D && end == bytes.count - 1 { end -= 1 }
            return prefix(end)
        }
    }
}
