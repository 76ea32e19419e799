/// A failure of the vault: opening, reading, unlocking or changing the file.
package typealias VaultError = LayerError<VaultFailure>

package enum VaultFailure: FailureKind {
    /// The operation failed for a reason the caller can act on (an existing file, a busy vault).
    case failed
    /// The caller's input is not acceptable (a name, an option value, a file that is not a key file).
    case badInput
    /// None of the given ways in opens the vault (wrong passphrase, unknown key file).
    case cannotUnlock
    /// The file is not a vault, or was modified outside tokvault.
    case damaged
}

extension LayerError where Kind == VaultFailure {
    package static func io(_ message: String) -> VaultError {
        VaultError(.failed, message)
    }

    package static func unlock(_ message: String, hint: Guidance? = nil) -> VaultError {
        VaultError(.cannotUnlock, message, hint: hint)
    }

    package static func damaged(_ message: String, hint: Guidance? = nil) -> VaultError {
        VaultError(.damaged, message, hint: hint)
    }

    /// A sealed field that does not open under the right key: edited, moved or swapped.
    package static func tampered(_ what: String) -> VaultError {
        VaultError(
            .damaged,
            "vault entry \(what) failed authentication: the file was modified",
            hint: "restore the vault from a backup (\(.restoreBackup)); nothing was sent anywhere")
    }
}
