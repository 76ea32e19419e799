/// Every failure tokvault reports: one message, an optional hint, and the documented exit code.
///
/// Messages may quote app names, client ids, paths and URLs; never a secret.
package struct VaultError: Error, Equatable, CustomStringConvertible {
    package let exitCode: Int32
    package let message: String
    package let hint: String?

    package init(exitCode: Int32, _ message: String, hint: String? = nil) {
        self.exitCode = exitCode
        self.message = message
        self.hint = hint
    }

    package var description: String { message }

    /// Exit codes, as documented in the README.
    package enum Code {
        package static let failure: Int32 = 1
        package static let loginRequired: Int32 = 2
        package static let unreachable: Int32 = 3
        package static let unlock: Int32 = 4
        package static let damaged: Int32 = 5
        package static let usage: Int32 = 64
    }

    package static func failure(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.failure, message, hint: hint)
    }

    package static func usage(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.usage, message, hint: hint)
    }

    package static func io(_ message: String) -> VaultError {
        VaultError(exitCode: Code.failure, message)
    }

    package static func unlock(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.unlock, message, hint: hint)
    }

    package static func damaged(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.damaged, message, hint: hint)
    }

    /// A sealed field that does not open under the right key: edited, moved or swapped.
    package static func tampered(_ what: String) -> VaultError {
        VaultError(
            exitCode: Code.damaged,
            "vault entry \(what) failed authentication: the file was modified",
            hint: "restore the vault from a backup (tokvault restore FILE); nothing was sent anywhere")
    }
}
