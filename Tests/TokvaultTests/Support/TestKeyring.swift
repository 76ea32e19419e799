import Foundation
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

    /// A new session for this thread holding one possessor-only key with a unique description:
    /// what a key of the caller's session looks like to the processes tokvault starts. The
    /// caller invalidates it.
    static func sessionWithCanaryKey(_ label: String) throws -> (description: String, key: Int32) {
        let session = try newSession()
        let description = "tokvault-\(label)-test:\(UUID().uuidString)"
        let key = try KernelKeyring.add(
            description: description, payload: SecureBytes.random(count: 16), to: session,
            permissions: KernelKeyring.possessorOnly, timeoutSeconds: 120)
        return (description, key)
    }

    /// False where the kernel refuses keyring calls (a seccomp profile): those tests are skipped.
    static let available: Bool = (try? newSession()) != nil
}
