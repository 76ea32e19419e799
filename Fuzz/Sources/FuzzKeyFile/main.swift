import FuzzSupport
@testable import TokvaultVault

// The contents of a key file (KeyFile.parse): 32 raw bytes, or the text form
// "tokvault-keyfile-v1:" + 43 base64url characters, with trailing "\n", "\r" and spaces.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var copy = bytes
    guard let keyFile = KeyFile.parse(SecureBytes(consuming: &copy)) else { return 0 }

    let prefix = Array(KeyFile.prefix.utf8)
    let rendered = keyFile.rendered().withUnsafeBytes { Array($0) }
    require(rendered.count == 64 && rendered.starts(with: prefix) && rendered.last == 0x0A, "rendered \(rendered.count) bytes")
    if bytes.count == 32 && !bytes.starts(with: prefix) {
        require(keyFile.key.withUnsafeBytes { Array($0) } == bytes, "raw key file is not its own key")
    } else {
        // The text form has one spelling of each key (libsodium refuses non-zero padding
        // bits), so what was accepted is the rendering up to the trailing white space.
        var end = bytes.count
        while end > 0, [0x0A, 0x0D, 0x20].contains(bytes[end - 1]) { end -= 1 }
        require(Array(bytes[..<end]) == Array(rendered.dropLast()), "accepted a second spelling of a key: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
    }
    var again = rendered
    let reparsed = KeyFile.parse(SecureBytes(consuming: &again))
    require(reparsed?.fingerprint == keyFile.fingerprint, "rendered key file does not parse back to the same key")
    require(keyFile.fingerprint.count == 32 && keyFile.fingerprint.allSatisfy(\.isHexDigit), "fingerprint \(keyFile.fingerprint)")
    return 0
}

runFuzzer { fuzzKeyFile($0 ?? emptyInput, $1) }
