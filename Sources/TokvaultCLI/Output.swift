import Foundation
import TokvaultExport
import TokvaultVault

enum Output {

    /// Text from the vault file shown on a terminal: control characters (escape sequences)
    /// replaced, whatever an edited file holds.
    static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            return text
        }
        return String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? "?" : $0 }))
    }

    /// `text` followed by spaces up to `width` characters (Foundation's padding bridges to
    /// NSString, which costs more than the rest of `show`).
    static func pad(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    /// Left-aligned columns, two spaces apart; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in all {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += i == row.count - 1 ? safe(cell) : pad(safe(cell), widths[i]) + "  "
            }
            out += line + "\n"
        }
        return out
    }

    /// Like `table`, written line by line instead of built as one string.
    static func writeTable(_ header: [String], _ rows: [[String]]) {
        // Each cell made safe and measured without grapheme breaking where it is ASCII (`list`
        // renders 10,000 rows), written in 64 KiB pieces rather than a line per write.
        var widths = header.map { width(of: safe($0)) }
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], width(of: safe(cell))) } }
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        for row in [header] + rows {
            for (i, cell) in row.enumerated() {
                let text = safe(cell)
                out += text.utf8
                if i < row.count - 1 { out += repeatElement(0x20, count: widths[i] - width(of: text) + 2) }
            }
            out.append(0x0A)
            if out.count >= 1 << 16 {
                out.withUnsafeBytes { writeAll(1, $0) }
                out.removeAll(keepingCapacity: true)
            }
        }
        out.withUnsafeBytes { writeAll(1, $0) }
    }

    /// Characters, counted without grapheme breaking when the text is ASCII (names, ids, hosts).
    static func width(of text: String) -> Int {
        text.utf8.allSatisfy { $0 < 0x80 } ? text.utf8.count : text.count
    }

    /// write(2) until everything is written (EINTR retried, a closed descriptor ignored):
    /// for secrets that must not pass through Swift strings, and for stderr, where FileHandle
    /// traps when it is closed.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        _ = writeFully(fd, bytes)
    }

    /// `writeAll` that tells whether everything was written (errno is set when not).
    static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// A secret and a newline straight to stdout; false (with errno set) if stdout did not take them.
    static func writeSecretLine(_ secret: SecureBytes) -> Bool {
        secret.withUnsafeBytes { writeFully(1, $0) } && [UInt8(ascii: "\n")].withUnsafeBytes { writeFully(1, $0) }
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// ISO 8601 UTC ("2026-11-27T15:04:05Z").
    static func isoTime(_ epoch: Int64) -> String { Timestamp.iso8601(epoch) }

    /// "in 42m", "3h ago", for token expiry.
    static func relative(_ epoch: Int64, now: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        // Clamped: a value edited in the file must not overflow.
        let delta = max(-1 << 40, min(1 << 40, epoch)) - now
        let magnitude = abs(delta)
        let text: String
        switch magnitude {
        case ..<60: text = "\(magnitude)s"
        case ..<3600: text = "\(magnitude / 60)m"
        case ..<86400: text = "\(magnitude / 3600)h\(magnitude % 3600 / 60 > 0 ? "\(magnitude % 3600 / 60)m" : "")"
        default: text = "\(magnitude / 86400)d"
        }
        return delta >= 0 ? "in \(text)" : "\(text) ago"
    }
}
