import Foundation
import Testing

/// Key files that other users can open are refused, as ssh refuses such a private key; pipes
/// and FIFOs (nothing another user can open later) stay allowed.
@Suite("key file permissions")
struct KeyFilePermissionTests {
    static let secret = "cs-CANARY-keyfile-mode-93b"

    /// A vault unlocked by a key file only, with one app, and the key's text.
    struct Setup {
        let f = Fixture(keyFileOnly: true)
        let keyText: String

        init() {
            keyText = (try? String(contentsOfFile: f.keyFile, encoding: .utf8)) ?? ""
            let added = f.addApp("adme", secret: KeyFilePermissionTests.secret)
            precondition(added.status == 0, "\(added)")
        }

        func expectNoKeyMaterial(_ result: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) {
            let body = keyText.dropFirst("tokvault-keyfile-v1:".count).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!body.isEmpty, sourceLocation: sourceLocation)
            for needle in [body, KeyFilePermissionTests.secret] {
                #expect(
                    !result.stdout.contains(needle) && !result.stderr.contains(needle), "\(result)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o620, 0o660])
    func keyFileOthersCanOpenIsRefused(mode: Int) throws {
        let s = Setup()
        chmod(s.f.keyFile, mode_t(mode))
        let shown = String(mode, radix: 8)
        for (args, env) in [
            (["show", "adme", "--verify", "--key-file", s.f.keyFile], [String: String]()),
            (["show", "adme", "--verify"], ["TOKVAULT_KEY_FILE": s.f.keyFile])
        ] {
            let result = s.f.cli.run(args, env: env)
            #expect(result.status == 4, "\(result)")
            #expect(
                result.stderr.contains(
                    "tokvault: error: key file \(s.f.keyFile) is accessible to other users (mode \(shown)); refusing to use it"
                ), "\(result)")
            #expect(result.stderr.contains("tokvault: hint: run `chmod 600 \(s.f.keyFile)`"), "\(result)")
            #expect(result.stderr.contains("defaultMode: 0400"), "\(result)")
            s.expectNoKeyMaterial(result)
        }
        // Through a symlink (as a Kubernetes Secret volume has it) the target's mode counts.
        let link = s.f.dir.file("linked.key")
        #expect(symlink(s.f.keyFile, link) == 0)
        #expect(s.f.cli.run(["show", "adme", "--verify", "--key-file", link]).status == 4)
        chmod(s.f.keyFile, 0o600)
        #expect(s.f.cli.run(["show", "adme", "--verify", "--key-file", link]).status == 0)
    }

    @Test func privateModesAreAccepted() throws {
        let s = Setup()
        for mode: mode_t in [0o600, 0o400] {
            chmod(s.f.keyFile, mode)
            let result = s.f.cli.run(["show", "adme", "--verify", "--key-file", s.f.keyFile])
            #expect(result.status == 0, "mode \(String(mode, radix: 8)): \(result)")
        }
    }

    @Test func pipesFIFOsAndDevFdStayAllowed() throws {
        let s = Setup()
        chmod(s.f.keyFile, 0o600)
        // Process substitution: a /dev/fd/N that is a pipe.
        let substituted = CLI.exec(
            [
                "/usr/bin/setsid", "-w", "/usr/bin/bash", "-c",
                "exec \"$0\" show adme --verify --key-file <(cat \"$1\")",
                CLI.binary, s.f.keyFile
            ],
            environment: s.f.cli.environment, cwd: s.f.dir.path)
        #expect(substituted.status == 0, "\(substituted)")
        // Standard input as the key file.
        let stdin = s.f.cli.run(["show", "adme", "--verify", "--key-file", "/dev/stdin"], stdin: s.keyText)
        #expect(stdin.status == 0, "\(stdin)")
        // A FIFO, whatever its mode: what goes through it is gone once read.
        let fifo = s.f.dir.file("key.fifo")
        #expect(mkfifo(fifo, 0o644) == 0)
        chmod(fifo, 0o644)
        // The writer waits (non-blocking opens, for at most 20 s) until tokvault opens it for
        // reading, so it never hangs if tokvault does not.
        let writer = Thread { [keyText = s.keyText] in
            signal(SIGPIPE, SIG_IGN)
            for _ in 0..<2000 {
                let fd = open(fifo, O_WRONLY | O_NONBLOCK)
                if fd >= 0 {
                    _ = Array(keyText.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                    return
                }
                usleep(10_000)
            }
        }
        writer.start()
        let viaFIFO = s.f.cli.run(["show", "adme", "--verify", "--key-file", fifo])
        #expect(viaFIFO.status == 0, "\(viaFIFO)")
        s.expectNoKeyMaterial(viaFIFO)
    }

    @Test func keyfileAddRefusesAnOpenFileAndRemoveAcceptsIt() throws {
        let s = Setup()
        // A second key file that others can read (or replace with their own key).
        let loose = s.f.dir.file("loose.key")
        let created = s.f.cli.run(["keyfile", "create", loose, "--key-file", s.f.keyFile])
        #expect(created.status == 0, "\(created)")
        #expect(s.f.cli.run(["keyfile", "remove", loose, "--yes", "--key-file", s.f.keyFile]).status == 0)
        chmod(loose, 0o644)
        let slotsBefore = s.f.cli.run(["keyfile", "list"]).stdout
        let add = s.f.cli.run(["keyfile", "add", loose, "--key-file", s.f.keyFile])
        #expect(add.status == 4, "\(add)")
        #expect(add.stderr.contains("key file \(loose) is accessible to other users (mode 644)"), "\(add)")
        #expect(s.f.cli.run(["keyfile", "list"]).stdout == slotsBefore, "no slot was added")
        // Removing the slot of a key file others could read is what one does about it.
        chmod(loose, 0o600)
        #expect(s.f.cli.run(["keyfile", "add", loose, "--key-file", s.f.keyFile]).status == 0)
        chmod(loose, 0o644)
        let removed = s.f.cli.run(["keyfile", "remove", loose, "--yes", "--key-file", s.f.keyFile])
        #expect(removed.status == 0, "\(removed)")
        #expect(s.f.cli.run(["keyfile", "list"]).stdout == slotsBefore)
    }
}
