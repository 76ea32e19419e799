import Foundation
import TokvaultFlow
import TokvaultVault

/// The one place an answer's ID token is checked against the app it was obtained for: its
/// client id as audience, the issuer the app expects, the nonce of a browser sign-in, now.
/// A sign-in refuses an ID token that fails (`validateIDToken(for:nonce:)`); a refresh keeps
/// the answer's other tokens and drops only that ID token (`idTokenFailure(for:nonce:)`).
extension TokenResponse {
    package func validateIDToken(for app: App, nonce: String?) throws {
        try validateIDToken(
            clientID: app.clientID, expectedIssuer: TokenService.expectedIssuer(for: app), nonce: nonce,
            now: Int64(Date().timeIntervalSince1970))
    }

    package func idTokenFailure(for app: App, nonce: String?) -> String? {
        idTokenFailure(
            clientID: app.clientID, expectedIssuer: TokenService.expectedIssuer(for: app), nonce: nonce,
            now: Int64(Date().timeIntervalSince1970))
    }
}
