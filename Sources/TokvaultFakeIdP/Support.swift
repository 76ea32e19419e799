// Small helpers for the fake identity provider: SHA-256 (swift-crypto, for PKCE S256),
// base64url, application/x-www-form-urlencoded, HTML escaping, an ordered JSON writer (the
// fake answers with Microsoft's field order) and random identifiers.

import Crypto
import Foundation

// MARK: - SHA-256

/// SHA-256 for PKCE challenges and subject ids (swift-crypto; the fake does not use the vault's libsodium).
package enum FakeSHA256 {
    package static func hash(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }
}

/// PKCE helpers (RFC 7636), exposed so tests and scripts can build valid requests.
package enum FakePKCE {
    /// `BASE64URL(SHA256(ASCII(verifier)))`.
    package static func s256Challenge(for verifier: String) -> String {
        base64URL(FakeSHA256.hash(Array(verifier.utf8)))
    }

    /// A random verifier of 43 characters from the unreserved set.
    package static func randomVerifier() -> String { base64URL(randomBytes(32)) }
}

// MARK: - Encodings

func base64URL<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    var s = Data(bytes).base64EncodedString()
    s = s.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    while s.hasSuffix("=") { s.removeLast() }
    return s
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

func randomGUID() -> String { UUID().uuidString.lowercased() }

/// Compares two secrets in time that depends on their lengths only.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<x.count { diff |= x[i] ^ y[i] }
    return diff == 0
}

private let unreservedBytes: Set<UInt8> = Set(
    Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))
private let hexDigits = Array("0123456789ABCDEF".utf8)

/// Percent-encodes everything but RFC 3986 unreserved characters (so `+`, `&`, `=`, space all escape).
func formEncode(_ string: String) -> String {
    var out = [UInt8]()
    out.reserveCapacity(string.utf8.count)
    for byte in string.utf8 {
        if unreservedBytes.contains(byte) {
            out.append(byte)
        } else {
            out.append(UInt8(ascii: "%"))
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
    }
    return String(decoding: out, as: UTF8.self)
}

func formEncode(_ pairs: [(String, String)]) -> String {
    pairs.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
}

enum FormDecodeError: Error, Equatable {
    case malformedEscape
    case invalidUTF8
    case duplicate(String)
}

/// Decodes one application/x-www-form-urlencoded component: `+` is a space, `%XX` a byte.
func formDecode(_ component: Substring) throws(FormDecodeError) -> String {
    var bytes = [UInt8]()
    bytes.reserveCapacity(component.utf8.count)
    var iterator = component.utf8.makeIterator()
    while let byte = iterator.next() {
        switch byte {
        case UInt8(ascii: "+"):
            bytes.append(UInt8(ascii: " "))
        case UInt8(ascii: "%"):
            guard let hi = iterator.next().flatMap(hexValue), let lo = iterator.next().flatMap(hexValue) else {
                throw .malformedEscape
            }
            bytes.append(hi << 4 | lo)
        default:
            bytes.append(byte)
        }
    }
    guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
    return string
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Parses a query string or form body; rejects a parameter given twice (as Azure does).
func parseForm(_ text: Substring) throws(FormDecodeError) -> [String: String] {
    var result: [String: String] = [:]
    for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
        let name: String
        let value: String
        if let eq = pair.firstIndex(of: "=") {
            name = try formDecode(pair[..<eq])
            value = try formDecode(pair[pair.index(after: eq)...])
        } else {
            name = try formDecode(pair)
            value = ""
        }
        if result[name] != nil { throw .duplicate(name) }
        result[name] = value
    }
    return result
}

func htmlEscape(_ string: String) -> String {
    var out = ""
    out.reserveCapacity(string.count)
    for scalar in string.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

// MARK: - JSON (ordered keys, no escaped slashes)

indirect enum JSON {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .string(let s): JSON.writeString(s, into: &out)
        case .int(let i): out += String(i)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                JSON.writeString(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out +=
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// "2024-05-24 12:20:12Z", the format Azure uses in error bodies.
func azureTimestamp(_ seconds: Double) -> String {
    var t = time_t(seconds)
    var parts = tm()
    gmtime_r(&t, &parts)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
