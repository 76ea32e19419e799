import Foundation
import FuzzSupport
@testable import TokvaultVault

// A sealed field as read from the vault file (SealedField.open): version byte, nonce,
// ciphertext and tag, all under the attacker's control. With a fixed key and place, any
// bytes must open to their plaintext or be refused as tampering, never crash.
//
// Input: the sealed field. Every input is also sealed as a plaintext and opened again,
// then opened with one bit flipped (at an offset the input picks), which must fail.

enum Fixture {
    static let key: DataKey = {
        var bytes = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        return DataKey(bytes: SecureBytes(consuming: &bytes), generation: 1, vaultID: "3f1c2a9e-5b7d-4e21-9c3a-8d6f0b1e2a47")
    }()
    static let place = SealedFieldPlace(table: "app", column: "client_secret", row: "0b5d1e2a-7c3f-4a19-8e6d-2f4b9c1a3e57",
                                        app: "0b5d1e2a-7c3f-4a19-8e6d-2f4b9c1a3e57", clientID: "11111111-2222-3333-4444-555555555555",
                                        tokenEndpoint: "https://login.microsoftonline.com/contoso/oauth2/v2.0/token")
    static let what = "app \"adme\" client_secret"
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSealedField(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    do {
        let plaintext = try SealedField.open(bytes, key: Fixture.key, place: Fixture.place, what: Fixture.what)
        require(bytes.count >= 41 && plaintext.count == bytes.count - 41, "opened \(bytes.count) bytes to \(plaintext.count)")
    } catch let error as VaultError {
        require(error.kind == .damaged, "kind \(error.kind) for a damaged field")
    } catch {
        require(false, "non-VaultError \(error) from SealedField.open")
    }

    var copy = bytes
    let sealed = SealedField.seal(SecureBytes(consuming: &copy), key: Fixture.key, place: Fixture.place)
    require(sealed.count == bytes.count + 41 && sealed.first == SealedField.version, "sealed field of \(sealed.count) bytes")
    do {
        let opened = try SealedField.open(sealed, key: Fixture.key, place: Fixture.place, what: Fixture.what)
        require(opened.withUnsafeBytes { Array($0) } == bytes, "round trip changed the plaintext")
    } catch {
        require(false, "a freshly sealed field does not open: \(error)")
    }
    var flipped = sealed
    let bit = bytes.isEmpty ? 0 : (Int(bytes[0]) << 8 | Int(bytes[bytes.count - 1])) % (sealed.count * 8)
    flipped[bit / 8] ^= 1 << UInt8(bit % 8)
    require((try? SealedField.open(flipped, key: Fixture.key, place: Fixture.place, what: Fixture.what)) == nil,
            "a field with bit \(bit) flipped still opens")
    return 0
}

// `FUZZ_WRITE_SEEDS=DIR FuzzSealedField` writes genuine sealed fields (the fixture's key and
// place) into DIR instead of fuzzing: only code holding the key can make them.
if let directory = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] {
    let plaintexts = ["", "s", "Xy8Q~abcdefghijklmnopqrstuvwxyz0123456789.-_", String(repeating: "0.AXoA-refresh-token.", count: 40)]
    for (index, text) in plaintexts.enumerated() {
        var bytes = Array(text.utf8)
        let sealed = SealedField.seal(SecureBytes(consuming: &bytes), key: Fixture.key, place: Fixture.place)
        FileManager.default.createFile(atPath: "\(directory)/sealed-\(index)", contents: Data(sealed))
    }
    exit(0)
}

runFuzzer { fuzzSealedField($0 ?? emptyInput, $1) }
