import TokvaultVault

/// A failure of a use case itself, beyond what the vault and the flow report: no refresh token to
/// use, a token that was not stored, a sign-in that is not the one asked for.
package struct UseCaseError: Error, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        case failed
        case badInput
        /// There is no usable sign-in: sign in (again).
        case loginRequired
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

    package static func failure(_ message: String, hint: Guidance? = nil) -> UseCaseError {
        UseCaseError(.failed, message, hint: hint)
    }

    package static func usage(_ message: String, hint: Guidance? = nil) -> UseCaseError {
        UseCaseError(.badInput, message, hint: hint)
    }
}
