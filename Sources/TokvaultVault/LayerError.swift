/// A failure as one layer of tokvault reports it: its kind (the layer's own enum, which the
/// command-line layer turns into an exit code), a message that may quote app names, client ids,
/// paths, hosts and URLs but never a secret, and advice (`Guidance`).
///
/// Each layer names its own: `VaultError`, `FlowError`, `ExportError`, `UseCaseError`.
package struct LayerError<Kind: FailureKind>: Error, Equatable, CustomStringConvertible {
    package let kind: Kind
    package let message: String
    package let hint: Guidance?
    /// The identity provider's refusal this error reports, when it is one (its public fields).
    package var refusal: ProviderRefusal?

    package init(_ kind: Kind, _ message: String, hint: Guidance? = nil, refusal: ProviderRefusal? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.refusal = refusal
    }

    package var description: String { message }

    package static func failure(_ message: String, hint: Guidance? = nil) -> Self {
        Self(.failed, message, hint: hint)
    }

    package static func usage(_ message: String, hint: Guidance? = nil) -> Self {
        Self(.badInput, message, hint: hint)
    }
}

/// The kinds every layer has: a failure the user can act on, and input that is not acceptable.
package protocol FailureKind: Sendable, Equatable {
    static var failed: Self { get }
    static var badInput: Self { get }
}

/// What an identity provider's error answer said (RFC 6749 §5.2 plus Entra's fields): public
/// values, recorded with a refused refresh token and used for step-up hints.
package struct ProviderRefusal: Sendable, Equatable {
    /// The OAuth `error` value.
    package var error: String
    /// Entra's `AADSTS…` code, when there is one.
    package var code: String?
    /// A claims challenge (`claims`), JSON text, when the answer carried one.
    package var claims: String?

    package init(error: String, code: String? = nil, claims: String? = nil) {
        self.error = error
        self.code = code
        self.claims = claims
    }

    /// `invalid_grant AADSTS700082`, for the vault's record of the refusal.
    package var summary: String { code.map { "\(error) \($0)" } ?? error }
}
