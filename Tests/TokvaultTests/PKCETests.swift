import Testing
import TokvaultFakeIdP

@testable import TokvaultFlow
@testable import TokvaultVault

/// PKCE challenges, and the verifier, state and nonce of a login.
@Suite("PKCE and state")
struct PKCETests {
    @Test func rfc7636AppendixBExample() {
        let verifier = secure("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(LoginSecrets.challenge(for: verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        // The fake provider's independent SHA-256 agrees.
        #expect(
            FakePKCE.s256Challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
                == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test func loginSecretsAreWellFormedAndFresh() {
        let base64URL = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var verifiers = Set<String>()
        var states = Set<String>()
        for _ in 0..<50 {
            let s = LoginSecrets()
            let verifier = plaintext(s.codeVerifier)
            #expect(verifier.utf8.count == 43)
            #expect(verifier.utf8.allSatisfy { base64URL.contains($0) })
            #expect(s.codeChallenge.utf8.count == 43)
            #expect(
                s.codeChallenge == FakePKCE.s256Challenge(for: verifier),
                "base64url(SHA256(verifier)), computed independently")
            #expect(s.codeChallenge == LoginSecrets.challenge(for: s.codeVerifier))
            #expect(s.state.utf8.count == 43 && s.nonce.utf8.count == 43)
            #expect(
                s.state.utf8.allSatisfy { base64URL.contains($0) } && s.nonce.utf8.allSatisfy { base64URL.contains($0) }
            )
            #expect(s.state != s.nonce)
            verifiers.insert(verifier)
            states.insert(s.state)
        }
        #expect(verifiers.count == 50 && states.count == 50)
    }

    @Test func stateMatchesOnlyTheExactState() {
        let s = LoginSecrets()
        #expect(s.stateMatches(nil) == false)
        #expect(s.stateMatches("") == false)
        #expect(s.stateMatches("x") == false)
        #expect(s.stateMatches(String(s.state.dropLast())) == false, "a prefix is not a match")
        #expect(s.stateMatches(s.state + "x") == false)
        #expect(s.stateMatches(s.state.uppercased()) == (s.state.uppercased() == s.state))
        #expect(s.stateMatches(LoginSecrets().state) == false)
        #expect(s.stateMatches(s.state) == true)
        #expect(s.stateMatches(String(decoding: Array(s.state.utf8), as: UTF8.self)) == true)
    }
}
