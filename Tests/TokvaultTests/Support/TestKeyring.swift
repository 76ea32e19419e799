import Glibc

@testable import TokvaultVault

/// A new, empty, anonymous session keyring for the calling thread, so that no test reads or
/// leaves keys in the keyring of the session that runs `swift test` (which, without
/// pam_keyinit, is the uid-wide user-session keyring). Credentials, the session keyring among
/// them, are per thread: a synchronous test calls this first and does its keyring work on the
/// same thread; processes started from that thread inherit the keyring.
enum TestKeyring {
    static func newSession() throws -> Int32 {
        try KernelKeyring.joinAnonymousSession()
        return try KernelKeyring.id(of: .session)
    }

    /// False where the kernel refuses keyring calls (a seccomp profile): those tests are skipped.
    static let available: Bool = (try? newSession()) != nil
}
