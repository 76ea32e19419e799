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
        /// Set, under the lock, before the child is reaped: its pid may then be reused, and no
        /// signal may be sent to it any more.
        var reaped = false
        var pending: [(signal: Int32, fromProcess: Bool)] = []
    }
    private let state = NIOLockedValueBox(State())

    struct SpawnFailure: Error {
        let reason: String
        /// env(1)'s convention: 127 not found, 126 not runnable, 125 the wrapper failed.
        let exitCode: Int32
    }

    /// `passing[i]` becomes the child's descriptor 3 + i.
    static func spawn(
        path: String, arguments: [String], environment: [String: String], isolateKeyring: Bool,
        passing: [Int32] = []
    ) throws -> pid_t {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var core = Entry.originalCoreLimit
        var ignored = Entry.originalIgnoredSignals
        var stage: Int32 = 0
        var error: Int32 = 0
        let pid = passing.withUnsafeBufferPointer { fds in
            tokvault_spawn(
                path, argv, envp, Entry.originalUmask, &core, &ignored, isolateKeyring ? 1 : 0, fds.baseAddress,
                Int32(fds.count), &stage, &error)
        }
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

    /// Runs `arguments` (`arguments[0]` names it in messages) as a child with the forwarded
    /// signals passed on, and returns its exit status; one that cannot start is reported and
    /// returns env(1)'s 127, 126 or 125. `started` runs once it does (or failed to).
    static func run(
        path: String, arguments: [String], environment: [String: String], isolateKeyring: Bool,
        passing: [Int32] = [], started: () -> Void = {}
    ) async throws -> Int32 {
        // `started` runs whatever happens (the caller closes its end of a pipe there).
        var startedRan = false
        defer { if !startedRan { started() } }
        // Installed before the child exists, so that no signal meant for it ends tokvault first.
        let child = ChildProcess()
        try SignalEvents.deliver(forwardedSignals) { child.forward($0, fromProcess: $1) }
        // A caller that ignores SIGCHLD would have the child reaped before tokvault can read
        // its status (the child itself gets the caller's setting back).
        signal(SIGCHLD, SIG_DFL)
        let pid: pid_t
        do {
            pid = try spawn(
                path: path, arguments: arguments, environment: environment, isolateKeyring: isolateKeyring,
                passing: passing)
        } catch let failure as SpawnFailure {
            startedRan = true
            started()
            Diagnostics.error("cannot run \(arguments[0]): \(failure.reason)")
            return failure.exitCode
        }
        startedRan = true
        started()
        child.started(pid)
        return await child.exitStatus()
    }

    func started(_ pid: pid_t) {
        state.withLockedValue { state in
            state.pid = pid
            for pending in state.pending { Self.pass(pending.signal, fromProcess: pending.fromProcess, to: pid) }
            state.pending = []
        }
    }

    /// Passes `sig` on; one that arrives before the child exists is passed on once it does.
    /// Under the lock, so that it cannot reach a reused pid once the child is reaped.
    func forward(_ sig: Int32, fromProcess: Bool) {
        state.withLockedValue { state in
            guard let pid = state.pid else { return state.pending.append((sig, fromProcess)) }
            if !state.reaped { Self.pass(sig, fromProcess: fromProcess, to: pid) }
        }
    }

    /// A terminal sends its signals (^C, ^\, a hang-up, a resize) to the whole foreground
    /// process group: a child in tokvault's group has its own copy already.
    private static func pass(_ sig: Int32, fromProcess: Bool, to pid: pid_t) {
        if fromProcess || getpgid(pid) != getpgrp() { kill(pid, sig) }
    }

    /// The child's exit status, or 128+N when signal N ended it (as a shell reports it); 125
    /// when it cannot be had.
    func exitStatus() async -> Int32 {
        guard let pid = state.withLockedValue({ $0.pid }) else { return 125 }
        let status: Int32? = await withCheckedContinuation { continuation in
            // waitid blocks: on a thread of its own, not one of the concurrency pool's.
            Thread.detachNewThread {
                // Wait without reaping (the pid stays the child's), stop forwarding, then reap.
                var info = siginfo_t()
                var result: Int32
                repeat {
                    result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
                } while result < 0 && errno == EINTR
                guard result == 0 else {
                    Diagnostics.error("cannot wait for the command: \(String(cString: strerror(errno)))")
                    return continuation.resume(returning: nil)
                }
                self.state.withLockedValue { $0.reaped = true }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        guard let status else { return 125 }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
