import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// FormEncoding and FormBody: percent-encoding, form parsing and their round trips.
@Suite("form encoding")
struct FormEncodingTests {
    @Test func encodeKeepsOnlyUnreservedCharacters() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        #expect(FormEncoding.encode(unreserved) == unreserved)
        #expect(FormEncoding.encode("a+b") == "a%2Bb", "+ must not reach the server as a space")
        #expect(FormEncoding.encode("a b") == "a%20b")
        #expect(FormEncoding.encode("a&b=c") == "a%26b%3Dc")
        #expect(FormEncoding.encode("100%") == "100%25")
        #expect(FormEncoding.encode("/?#[]@!$'()*,;:") == "%2F%3F%23%5B%5D%40%21%24%27%28%29%2A%2C%3B%3A")
        #expect(FormEncoding.encode("é") == "%C3%A9")
        #expect(FormEncoding.encode("😀") == "%F0%9F%98%80")
        #expect(FormEncoding.encode("\n\r\t\0") == "%0A%0D%09%00")
        #expect(FormEncoding.encode("") == "")
        // Every byte outside the unreserved set becomes %XX with upper-case hex.
        for byte in UInt8(0)...UInt8(127) {
            let scalar = Character(Unicode.Scalar(byte))
            let encoded = FormEncoding.encode(String(scalar))
            if unreserved.contains(scalar) {
                #expect(encoded == String(scalar))
            } else {
                #expect(encoded == String(format: "%%%02X", byte), "byte \(byte)")
            }
        }
    }

    @Test func decodeReadsPlusAsSpaceAndPercentEscapes() {
        #expect(FormEncoding.decode("a+b") == "a b")
        #expect(FormEncoding.decode("a%20b%2Bc") == "a b+c")
        #expect(FormEncoding.decode("%2f%2F") == "//", "hex digits of either case")
        #expect(FormEncoding.decode("%C3%A9t%C3%A9") == "été")
        #expect(FormEncoding.decode("plain-text_~.") == "plain-text_~.")
        #expect(FormEncoding.decode("") == "")
    }

    @Test(arguments: ["%", "%4", "a%", "%zz", "%G0", "%0G", "%%41", "%FF", "%C3", "%C3%28", "abc%2"])
    func malformedPercentEncodingIsRefused(_ input: String) {
        #expect(FormEncoding.decode(input[...]) == nil, "\(input)")
    }

    @Test func parseSplitsFieldsAndKeepsRepeats() throws {
        let parsed = try #require(FormEncoding.parse("a=1&b=x+y&&c&a=2&d="))
        #expect(parsed.map(\.name) == ["a", "b", "c", "a", "d"])
        #expect(parsed.map(\.value) == ["1", "x y", "", "2", ""])
        #expect(FormEncoding.parse("a=%zz") == nil)
        #expect(FormEncoding.parse("%zz=1") == nil)
        #expect(FormEncoding.parse("k=a=b")?.first?.value == "a=b", "only the first = separates")
    }

    /// decode(encode(s)) == s for random strings drawn heavily from characters that have a
    /// meaning in URLs and forms, plus arbitrary Unicode.
    @Test func roundTripOverRandomHostileStrings() {
        var rng = SplitMix64(seed: 0x70C7A0)
        let hostile: [Unicode.Scalar] =
            Array("+ &=%?#/\\:;@!$'\"()*,[]{}<>|^`~-._\t\n\r\0".unicodeScalars)
            + ["\u{7F}", "\u{80}", "\u{A0}", "é", "\u{FEFF}", "\u{202E}", "\u{FFFD}", "\u{10FFFF}", "😀", "%"]
        for iteration in 0..<2000 {
            let length = Int(rng.next() % 40)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                switch rng.next() % 3 {
                case 0: scalars.append(hostile[Int(rng.next() % UInt64(hostile.count))])
                case 1: scalars.append(Unicode.Scalar(UInt8(0x20 + rng.next() % 0x5F)))
                default:
                    var value = UInt32(rng.next() % 0x110000)
                    if (0xD800...0xDFFF).contains(value) { value = 0xFFFD }
                    scalars.append(Unicode.Scalar(value)!)
                }
            }
            let original = String(scalars)
            let encoded = FormEncoding.encode(original)
            #expect(
                encoded.utf8.allSatisfy { FormEncoding.unreserved.contains($0) || $0 == UInt8(ascii: "%") },
                "iteration \(iteration): only unreserved characters and escapes")
            #expect(!encoded.contains("+") && !encoded.contains("&") && !encoded.contains("="))
            #expect(FormEncoding.decode(encoded[...]) == original, "iteration \(iteration)")
            // And as a form field, next to another one.
            let form = "k=\(encoded)&other=\(FormEncoding.encode(original + "&x=1"))"
            let parsed = FormEncoding.parse(form[...])
            #expect(parsed?.count == 2)
            #expect(parsed?.first?.value == original && parsed?.last?.value == original + "&x=1")
        }
    }

    @Test func roundTripOverRandomByteStrings() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<1000 {
            var bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var encoded: [UInt8] = []
            bytes.withUnsafeBytes { FormEncoding.encode($0, into: &encoded) }
            #expect(encoded.count == bytes.reduce(0) { $0 + (FormEncoding.unreserved.contains($1) ? 1 : 3) })
            let decoded = FormEncoding.decode(String(decoding: encoded, as: UTF8.self)[...])
            if let valid = String(validating: bytes, as: UTF8.self) {
                #expect(decoded == valid)
            } else {
                #expect(decoded == nil, "bytes that are not UTF-8 do not decode to a string")
            }
            bytes.removeAll()
        }
    }

    @Test func formBodyEncodesNamesAndSecretValues() {
        var form = FormBody()
        form.add("grant_type", "authorization_code")
        form.add("client_secret", secret: secure("a+b&c=d%e f"))
        form.add("we ird", "é")
        #expect(form.names == ["grant_type", "client_secret", "we ird"])
        #expect(
            plaintext(form.encoded())
                == "grant_type=authorization_code&client_secret=a%2Bb%26c%3Dd%25e%20f&we%20ird=%C3%A9")
    }
}
