// Tests of the fake identity provider: SHA-256 and PKCE (Support.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPSupportTests {
    @Test func sha256AndPKCEMatchIndependentValues() {
        let abc = FakeSHA256.hash(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(abc == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let empty = FakeSHA256.hash([UInt8]()).map { String(format: "%02x", $0) }.joined()
        #expect(empty == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // 56..64-byte messages exercise the padding that spills into a second block.
        let long = FakeSHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            .map { String(format: "%02x", $0) }.joined()
        #expect(long == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(FakePKCE.s256Challenge(for: verifier) == challenge)
    }
}
