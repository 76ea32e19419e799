import TokvaultVault

/// `application/x-www-form-urlencoded`, written out because Foundation's URLComponents leaves
/// `+` unescaped (a server then reads it as a space). Only RFC 3986 unreserved characters
/// stay as they are.
package enum FormEncoding {
    static let unreserved: Set<UInt8> = Set(
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))
    static let hex = Array("0123456789ABCDEF".utf8)

    package static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        for byte in bytes {
            if unreserved.contains(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
    }

    package static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)
        bytes.withUnsafeBytes { encode($0, into: &out) }
        bytes.removeAll()
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a form/query component: `+` is a space, `%XX` a byte. Nil when malformed.
    package static func decode(_ text: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "+"): out.append(0x20)
            case UInt8(ascii: "%"):
                guard bytes.count >= 2, let hi = hexValue(bytes.popFirst()!), let lo = hexValue(bytes.popFirst()!)
                else { return nil }
                out.append(hi << 4 | lo)
            default: out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Parses `a=1&b=2`; a repeated name is kept as given (callers reject duplicates that matter).
    package static func parse(_ query: Substring) -> [(name: String, value: String)]? {
        var fields: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(pieces[0]) else { return nil }
            guard let value = pieces.count > 1 ? decode(pieces[1]) : "" else { return nil }
            fields.append((name, value))
        }
        return fields
    }
}

/// A form body that may carry secrets. The bytes live in guarded memory until they are
/// handed to the HTTP client (which copies them into its own buffers).
package struct FormBody {
    private var fields: [(name: String, value: SecureBytes)] = []

    package init() {}

    package mutating func add(_ name: String, _ value: String) {
        var bytes = Array(value.utf8)
        fields.append((name, SecureBytes(consuming: &bytes)))
    }

    package mutating func add(_ name: String, secret: SecureBytes) {
        fields.append((name, secret))
    }

    package var names: [String] { fields.map(\.name) }

    /// The encoded body.
    package func encoded() -> SecureBytes {
        var out: [UInt8] = []
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            Array(field.name.utf8).withUnsafeBytes { FormEncoding.encode($0, into: &out) }
            out.append(UInt8(ascii: "="))
            field.value.withUnsafeBytes { FormEncoding.encode($0, into: &out) }
        }
        return SecureBytes(consuming: &out)
    }
}
