import ArgumentParser
import CTokvault
import Foundation
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

/// Process set-up and error reporting around the commands. `main.swift` only calls `run`.
public enum Entry {
    /// Before anything else: files tokvault creates are private, and no core dump or
    /// debugger attach can copy keys out of memory.
    /// What the process started with, for `exec` to hand back to its child.
    nonisolated(unsafe) static var originalUmask: mode_t = 0o022
    nonisolated(unsafe) static var originalCoreLimit = rlimit()
    /// Signals the caller left ignored (nohup, a background job): ignored again in a child.
    nonisolated(unsafe) static var originalIgnoredSignals = sigset_t()

    public static func hardenProcess() {
        originalUmask = umask(0o077)
        tokvault_ignored_signals(&originalIgnoredSignals)
        // Soft limit only: `exec` restores the caller's limit for its child.
        var core = rlimit()
        getrlimit(Int32(RLIMIT_CORE.rawValue), &core)
        originalCoreLimit = core
        core.rlim_cur = 0
        setrlimit(Int32(RLIMIT_CORE.rawValue), &core)
        _ = tokvault_set_nondumpable()
        // The Swift runtime's crash reporter prints registers and the memory they point at,
        // which could be key material; a crash must end the process silently instead.
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT] { signal(sig, SIG_DFL) }
        VaultLock.waitingNotice = { Diagnostics.note($0) }
        if getenv("TOKVAULT_TRACE_LOCKS") != nil { VaultLock.grantedNotice = { Diagnostics.note($0) } }
        Vault.upgradeNotice = { Diagnostics.note(Failure.render($0)) }
        TokenService.warningNotice = { Diagnostics.warning(Failure.render($0)) }
    }

    /// Runs one command line; returns the exit code.
    public static func run(_ arguments: [String]) async -> Int32 {
        hardenProcess()
        if PreDispatch.isVersion(arguments) {
            // The literal, not `configuration`: building that builds every subcommand's.
            print(Tokvault.versionLine)
            return 0
        }
        if let token = PreDispatch.token(arguments) { return await execute(token) }
        return await runParsed(arguments)
    }

    /// The command line through ArgumentParser, without the pre-dispatch.
    static func runParsed(_ arguments: [String]) async -> Int32 {
        let command: ParsableCommand
        do {
            command = try Tokvault.parseAsRoot(arguments)
        } catch {
            return report(parseError: error)
        }
        return await execute(command)
    }

    static func execute(_ command: ParsableCommand) async -> Int32 {
        do {
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
            return 0
        } catch let code as ExitCode {
            return code.rawValue
        } catch {
            guard let failure = Failure.report(error) else { return report(parseError: error) }
            Diagnostics.error(failure.message, hint: failure.hint)
            return failure.exitCode
        }
    }

    /// ArgumentParser's own errors (usage, --help, --version) in tokvault's wording.
    static func report(parseError error: Error) -> Int32 {
        let code = Tokvault.exitCode(for: error)
        if code == .success {
            print(Tokvault.fullMessage(for: error))
            return 0
        }
        let full = Tokvault.fullMessage(for: error)
        let usage = full.split(separator: "\n").first { $0.hasPrefix("Usage:") }
        Diagnostics.error(
            Tokvault.message(for: error).replacingOccurrences(of: "Error: ", with: ""),
            hint: usage.map { "usage: \($0.dropFirst("Usage: ".count)) (see `tokvault help`)" })
        return code == .validationFailure ? Failure.Exit.usage : code.rawValue
    }
}
