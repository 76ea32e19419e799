import TokvaultVault

/// A failure of a sign-in or a token request: the network, the identity provider's answer, or the
/// app's settings as the provider sees them.
///
/// Messages may quote app names, client ids, hosts and the provider's own error text; never a
/// secret. The command-line layer turns `kind` into the exit code and renders the hint's actions.
package struct FlowError: Error, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
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

    package let kind: Kind
    package let message: String
    package let hint: Guidance?

    package init(_ kind: Kind, _ message: String, hint: Guidance? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    package var description: String { message }

    package static func failure(_ message: String, hint: Guidance? = nil) -> FlowError {
        FlowError(.failed, message, hint: hint)
    }

    package static func usage(_ message: String, hint: Guidance? = nil) -> FlowError {
        FlowError(.badInput, message, hint: hint)
    }

    package static func damaged(_ message: String, hint: Guidance? = nil) -> FlowError {
        FlowError(.damaged, message, hint: hint)
    }
}
