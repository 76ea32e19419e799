import TokvaultVault

/// A failure of a sign-in or a token request: the network, the identity provider's answer, or the
/// app's settings as the provider sees them. Messages may quote the provider's own error text,
/// made printable.
package typealias FlowError = LayerError<FlowFailure>

package enum FlowFailure: FailureKind {
    /// Refused or failed in a way the user has to act on (configuration, consent, a declined sign-in).
    case failed
    /// The caller's input is not acceptable (a pasted URL, a certificate file, an option value).
    case badInput
    /// The stored sign-in no longer works: sign in again.
    case loginRequired
    /// The identity provider could not be reached or did not answer usefully; try again later.
    case unreachable
    /// A stored value the flow needs cannot be read (the vault was modified).
    case damaged
}

extension LayerError where Kind == FlowFailure {
    package static func damaged(_ message: String, hint: Guidance? = nil) -> FlowError {
        FlowError(.damaged, message, hint: hint)
    }
}
