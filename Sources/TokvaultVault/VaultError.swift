/// Every failure tokvault reports: one message, an optional hint, and the documented exit code.
///
/// Messages may quote app names, client ids, paths and URLs; never a secret.
public struct VaultError: Error, Equatable, CustomStringConvertible {
    public let exitCode: Int32
    public let message: String
    public let hint: String?

    public init(exitCode: Int32, _ message: String, hint: String? = nil) {
        self.exitCode = exitCode
        self.message = message
        self.hint = hint
    }

    public var description: String { message }

    /// Exit codes, as documented in the README.
    public enum Code {
        public static let failure: Int32 = 1
        public static let loginRequired: Int32 = 2
        public static let unreachable: Int32 = 3
        public static let unlock: Int32 = 4
        public static let damaged: Int32 = 5
        public static let usage: Int32 = 64
    }

    public static func failure(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.failure, message, hint: hint)
    }

    public static func usage(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.usage, message, hint: hint)
    }

    public static func io(_ message: String) -> VaultError {
        VaultError(exitCode: Code.failure, message)
    }

    public static func unlock(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.unlock, message, hint: hint)
    }

    public static func damaged(_ message: String, hint: String? = nil) -> VaultError {
        VaultError(exitCode: Code.damaged, message, hint: hint)
    }

    /// A sealed field that does not open under the right key: edited, moved or swapped.
    public static func tampered(_ what: String) -> VaultError {
        VaultError(
            exitCode: Code.damaged,
            "vault entry \(what) failed authentication: the file was modified",
            hint: "restore the vault from a backup (tokvault restore FILE); nothing was sent anywhere")
    }
}
