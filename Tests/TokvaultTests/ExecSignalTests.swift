import Foundation
import Testing

/// How `exec` hands signals to the command: the caller's ignored signals stay ignored (nohup,
/// background jobs), an ignored SIGCHLD does not lose the command's status, and a signal the
/// terminal already sent to the command's process group is not sent a second time.
@Suite struct ExecSignalTests {
    /// Starts ARGS with every signal at its default except SIGHUP and SIGCHLD, ignored (as
    /// `nohup` and some supervisors leave them).
    static func withIgnored(_ arguments: [String]) -> [String] {
        let wrapper = """
            import os, signal, sys
            for s in range(1, signal.NSIG):
                try: signal.signal(s, signal.SIG_DFL)
                except (OSError, ValueError): pass
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)
            os.execv(sys.argv[1], sys.argv[1:])
            """
        return ["/usr/bin/python3", "-c", wrapper] + arguments
    }

    /// The SigIgn mask a command printed (`grep SigIgn /proc/self/status`), without signals 32
    /// and 33, which glibc keeps for itself (no program can change them through it).
    static func ignoredMask(_ output: String) -> UInt64? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }) else { return nil }
        let mask = UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        return mask.map { $0 & ~(UInt64(0b11) << 31) }
    }

    static let hupAndChld: UInt64 = 1 << (UInt64(SIGHUP) - 1) | 1 << (UInt64(SIGCHLD) - 1)

    @Test func ignoredSignalsStayIgnoredAndTheStatusIsKept() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        // grep itself reads the mask (a shell would change SIGCHLD for its own children).
        let command = ["--", "/bin/grep", "SigIgn", "/proc/self/status"]
        for mode in [["--managed-identity"], []] {
            let run = CLI.exec(
                Self.withIgnored([CLI.binary, "exec", "deploy"] + mode + s.key + command),
                environment: s.cli.environment, cwd: s.f.dir.path)
            #expect(run.status == 0, "\(mode): \(run)")
            #expect(Self.ignoredMask(run.stdout) == Self.hupAndChld, "\(mode): \(run.stdout)")
        }
        // 7, not 0 or 125: with SIGCHLD ignored the kernel would reap the command before
        // tokvault could read its status.
        let seven = CLI.exec(
            Self.withIgnored(
                [CLI.binary, "exec", "deploy", "--managed-identity"] + s.key + ["--", "/bin/sh", "-c", "exit 7"]),
            environment: s.cli.environment, cwd: s.f.dir.path)
        #expect(seven.status == 7, "\(seven)")
        // Without ignored signals in the caller the command ignores none (tokvault's own
        // handlers and settings do not reach it).
        let plain = CLI.exec(
            [
                "/usr/bin/python3", "-c",
                "import os,signal,sys\nfor s in range(1, signal.NSIG):\n  try: signal.signal(s, signal.SIG_DFL)\n  except (OSError, ValueError): pass\nos.execv(sys.argv[1], sys.argv[1:])",
                CLI.binary, "exec", "deploy", "--managed-identity"
            ] + s.key + command,
            environment: s.cli.environment, cwd: s.f.dir.path)
        #expect(plain.status == 0, "\(plain)")
        #expect(Self.ignoredMask(plain.stdout) == 0, "\(plain.stdout)")
    }

    /// ^C on the terminal reaches the command once: the terminal sends it to the whole
    /// foreground process group, tokvault included, and tokvault does not pass its copy on.
    @Test func aTerminalInterruptReachesTheCommandOnce() throws {
        let s = try TokenFormatTests.clientApp()
        defer { s.idp.stop() }
        let counter = s.f.dir.write(
            "count.py",
            """
            import signal, sys, time
            count = 0
            def hit(sig, frame):
                global count
                count += 1
            signal.signal(signal.SIGINT, hit)
            print("ready", flush=True)
            while count == 0: time.sleep(0.05)
            time.sleep(1.5)
            print("interrupts=%d" % count, flush=True)
            """)
        let exec = ([CLI.binary, "exec", "deploy", "--managed-identity"] + s.key + ["--", "/usr/bin/python3", counter])
            .map(shellQuoted).joined(separator: " ")
        // bash, not dash: dash ends itself after a ^C once its child returns, even a child that
        // handled the signal, so the status line would never be printed.
        let command = "/bin/bash -c " + shellQuoted(exec + "; echo tokvault-exit=$?")
        let terminal = try TerminalSession(command: command, environment: s.cli.environment, cwd: s.f.dir.path)
        defer { terminal.kill() }
        try #require(terminal.wait(seconds: 60) { $0.contains("ready") }, "\(terminal.text)")
        terminal.send([0x03])
        #expect(terminal.wait(seconds: 20) { $0.contains("interrupts=") }, "\(terminal.text)")
        #expect(terminal.text.contains("interrupts=1"), "\(terminal.text)")
        #expect(terminal.wait(seconds: 20) { $0.contains("tokvault-exit=") }, "\(terminal.text)")
        #expect(terminal.text.contains("tokvault-exit=0"), "\(terminal.text)")
        _ = terminal.finish(seconds: 20)
    }
}
