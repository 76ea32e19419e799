import Foundation

@testable import TokvaultVault

/// An unsigned JWT with these claims (tokvault reads ID token claims without the signature).
func unsignedJWT(_ claims: [String: Any]) -> String {
    let header = Sodium.base64URL(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
    let payload = try! JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
    return header + "." + Sodium.base64URL(Array(payload)) + ".c2lnbmF0dXJl"
}
