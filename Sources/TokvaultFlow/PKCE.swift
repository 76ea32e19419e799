import TokvaultVault

/// Per-login secrets: PKCE verifier (RFC 7636, S256), `state` and `nonce`.
package struct LoginSecrets: Sendable {
    /// 43 base64url characters from 32 random bytes (the RFC's recommended construction).
    package let codeVerifier: SecureBytes
    package let codeChallenge: String
    /// 32 random bytes, base64url: ties the redirect to this login (CSRF).
    package let state: String
    /// 32 random bytes, base64url: ties the ID token to this login (replay).
    package let nonce: String

    package init() {
        let verifierText = SecureBytes.random(count: 32).withUnsafeBytes { Sodium.base64URL($0) }
        var verifierBytes = Array(verifierText.utf8)
        codeChallenge = verifierBytes.withUnsafeBytes { Sodium.base64URL(Sodium.sha256($0)) }
        codeVerifier = SecureBytes(consuming: &verifierBytes)
        state = Sodium.base64URL(Sodium.randomBytes(32))
        nonce = Sodium.base64URL(Sodium.randomBytes(32))
    }

    /// The S256 challenge of a verifier.
    package static func challenge(for verifier: SecureBytes) -> String {
        verifier.withUnsafeBytes { Sodium.base64URL(Sodium.sha256($0)) }
    }

    /// Constant-time comparison of a received `state` with ours.
    package func stateMatches(_ received: String?) -> Bool {
        guard let received else { return false }
        return Sodium.constantTimeEquals(Array(received.utf8), Array(state.utf8))
    }
}
