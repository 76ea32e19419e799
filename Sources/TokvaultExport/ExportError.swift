import TokvaultVault

/// A failure to export: a field or variable name that is not acceptable, or a value that the
/// chosen format cannot carry. Messages quote names, never values.
package struct ExportError: Error, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// A value cannot be written in the chosen format.
        case failed
        /// The caller's selection (fields, names, format options) is not acceptable.
        case badInput
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

    package static func failure(_ message: String, hint: Guidance? = nil) -> ExportError {
        ExportError(.failed, message, hint: hint)
    }

    package static func usage(_ message: String, hint: Guidance? = nil) -> ExportError {
        ExportError(.badInput, message, hint: hint)
    }
}
