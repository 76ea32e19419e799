/// A failure as one layer of tokvault reports it: its kind (the layer's own enum, which the
/// command-line layer turns into an exit code), a message that may quote app names, client ids,
/// paths, hosts and URLs but never a secret, and advice (`Guidance`).
///
/// Each layer names its own: `VaultError`, `FlowError`, `ExportError`, `UseCaseError`.
package struct LayerError<Kind: FailureKind>: Error, Equatable, CustomStringConvertible {
    package let kind: Kind
    package let message: String
    package let hint: Guidance?

    package init(_ kind: Kind, _ message: String, hint: Guidance? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
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
