import CTokvault
import Foundation
import NIOConcurrencyHelpers

/// The command `exec --managed-identity` runs as its child: started as plain `exec` would start
/// it (tokvault's own umask, core limit, signal settings and descriptors are not passed on), its
/// signals forwarded, its exit status returned.
final class ChildProcess: Sendable {
    /// Signals a wrapper passes on: those a terminal, a supervisor or a user sends.
    static let forwardedSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    private struct State {
        var pid: pid_t?
        var pending: [Int32] = []
    }
    private let state = NIOLockedValueBox(State())

    struct SpawnFailure: Error {
        let reason: String
        /// env(1)'s convention: 127 not found, 126 not runnable, 125 the wrapper failed.
        let exitCode: Int32
    }

    static func spawn(path: String, arguments: [String], environment: [String: String], isolateKeyring: Bool)
        throws -> pid_t
    {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var core = Entry.originalCoreLimit
        var stage: Int32 = 0
        var error: Int32 = 0
        let pid = tokvault_spawn(
            path, argv, envp, Entry.originalUmask, &core, isolateKeyring ? 1 : 0, &stage, &error)
        guard pid < 0 else { return pid }
        let reason = String(cString: strerror(error))
        switch Int(stage) {
        case Int(TOKVAULT_SPAWN_EXEC):
            throw SpawnFailure(reason: reason, exitCode: error == ENOENT ? 127 : 126)
        case Int(TOKVAULT_SPAWN_KEYRING):
            throw SpawnFailure(
                reason:
                    "cannot give it a session keyring of its own: \(reason) (pass --keep-session-keyring to share tokvault's)",
                exitCode: 125)
        default:
            throw SpawnFailure(reason: reason, exitCode: 125)
        }
    }

    func started(_ pid: pid_t) {
        let pending: [Int32] = state.withLockedValue { state in
            state.pid = pid
            defer { state.pending = [] }
            return state.pending
        }
        for sig in pending { kill(pid, sig) }
    }

    /// Passes `sig` on; one that arrives before the child exists is passed on once it does.
    func forward(_ sig: Int32) {
        let pid: pid_t? = state.withLockedValue {
            if $0.pid == nil { $0.pending.append(sig) }
            return $0.pid
        }
        if let pid { kill(pid, sig) }
    }

    /// The child's exit status, or 128+N when signal N ended it (as a shell reports it).
    func exitStatus() async -> Int32 {
        guard let pid = state.withLockedValue({ $0.pid }) else { return 125 }
        let status: Int32 = await withCheckedContinuation { continuation in
            // waitpid blocks: on a thread of its own, not one of the concurrency pool's.
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
