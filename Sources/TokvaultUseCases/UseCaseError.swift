import TokvaultVault

/// A failure of a use case itself, beyond what the vault and the flow report: an app definition
/// that is not acceptable, no refresh token to use, a token that was not stored, a sign-in that
/// is not the one asked for.
package typealias UseCaseError = LayerError<UseCaseFailure>

package enum UseCaseFailure: FailureKind {
    case failed
    case badInput
    /// There is no usable sign-in: sign in (again).
    case loginRequired
}
