import TokvaultVault

/// A failure to export: a field or variable name that is not acceptable, or a value that the
/// chosen format cannot carry. Messages quote names, never values.
package typealias ExportError = LayerError<ExportFailure>

package enum ExportFailure: FailureKind {
    /// A value cannot be written in the chosen format.
    case failed
    /// The caller's selection (fields, names, format options) is not acceptable.
    case badInput
}
