import Foundation
import Testing

@testable import TokvaultVault

/// `tokvault exec`: the child's environment, exit status and clean slate, seen from the child.
@Suite("exec")
struct ExecTests {
    @Test func childGetsTheVariablesAndACleanSlate() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let token = s.token().stdout.trimmingCharacters(in: .newlines)
        let env = ["TOKVAULT_KEY_FILE": s.f.keyFile, "TOKVAULT_PASSPHRASE": "must-not-leak"]

        let probe = s.cli.run(
            [
                "exec", "adme", "--prefix", "ADME_", "--", "/bin/bash", "-c",
                "printf '%s|%s|%s|%s|%s|' \"$ADME_ACCESS_TOKEN\" \"$ADME_AZURE_CLIENT_ID\" \"${TOKVAULT_KEY_FILE-unset}\" \"${TOKVAULT_PASSPHRASE-unset}\" \"$(umask)\"; ls /proc/self/fd | tr '\\n' ' '"
            ],
            env: env)
        #expect(probe.status == 0, "\(probe)")
        let parts = probe.stdout.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 6, "\(probe.stdout)")
        if parts.count == 6 {
            #expect(parts[0] == token)
            #expect(parts[1] == LoginSetup.clientID)
            #expect(parts[2] == "unset" && parts[3] == "unset", "unlock variables stay with tokvault")
            #expect(parts[4] != "0077", "the caller's umask, not tokvault's")
            // 0, 1, 2 and ls's own directory descriptor: nothing inherited from tokvault.
            #expect(parts[5].split(separator: " ").count == 4, "descriptors: \(parts[5])")
        }
        #expect(!probe.stderr.contains(token))

        // The child's exit status and signals are its own; env(1)'s codes for failures.
        #expect(s.cli.run(["exec", "adme", "--", "/bin/sh", "-c", "exit 7"], env: env).status == 7)
        // Without setsid in between, so the signal is seen as it is.
        let killed = CLI.exec(
            [CLI.binary, "exec", "adme", "--", "/bin/sh", "-c", "kill -TERM $$"],
            environment: s.cli.environment.merging(env) { $1 })
        #expect(killed.status == 128 + SIGTERM, "\(killed)")
        #expect(s.cli.run(["exec", "adme", "--", "no-such-command-here"], env: env).status == 127)
        #expect(s.cli.run(["exec", "adme", "--", "/etc/passwd"], env: env).status == 126)
        let nested = s.cli.run(["exec", "adme", "--", CLI.binary, "exec", "adme", "--", "/bin/true"], env: env)
        #expect(nested.status == 125, "\(nested)")
        #expect(nested.stderr.contains("refusing to nest"))
        let noCommand = s.cli.run(["exec", "adme"], env: env)
        #expect(noCommand.status == 64)
        // A tokvault failure (no refresh token) is 125, not the child's status.
        #expect(s.cli.run(["logout", "adme"]).status == 0)
        #expect(s.cli.run(["exec", "adme", "--", "/bin/true"], env: env).status == 125)
    }
}

/// `exec`'s command runs in a session keyring of its own, so it cannot read the data key
/// `tokvault unlock` left in the caller's session, unless asked to share it.
@Suite("exec and the session keyring", .enabled(if: TestKeyring.available, "the kernel refuses keyring calls here"))
struct ExecKeyringTests {
    @Test func theCommandCannotSeeTheKeyUnlockLeft() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        let description = try Vault.open(path: s.cli.vaultPath).sessionKeyDescription()
        // /proc/keys lists the keys the reader may view: a possessor-only key only to its possessors.
        let steps = KeyringSession(s.cli).run([
            .tokvault(["unlock", "--key-file", s.f.keyFile, "--for", "60"]),
            .shell("cat /proc/keys"),
            .tokvault(["exec", "adme", "--", "/bin/cat", "/proc/keys"]),
            .tokvault(["exec", "adme", "--keep-session-keyring", "--", "/bin/cat", "/proc/keys"]),
            .tokvault(["lock"])
        ])
        #expect(steps.allSatisfy { $0.status == 0 }, "\(steps)")
        #expect(steps[1].stdout.contains(description), "the session itself holds the key: \(steps[1])")
        #expect(!steps[2].stdout.contains(description), "the command saw the caller's session key")
        #expect(steps[3].stdout.contains(description), "--keep-session-keyring: \(steps[3])")
    }
}
