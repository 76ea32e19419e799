import Foundation
import Testing

/// File-permission behaviour, checked as an unprivileged user: root ignores permissions, and
/// CI runs as root.
@Suite(
    "permissions as an unprivileged user",
    .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
struct PermissionTests {
    @Test func createdFilesArePrivate() throws {
        let s = UnprivilegedSandbox()
        let whoami = CLI.exec(
            ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/id", "-u"],
            environment: [:])
        #expect(
            whoami.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != "0", "the test really runs unprivileged")
        let key = s.dir.file("home/key")
        let initResult = s.run(["init", "--no-passphrase", "--new-key-file", key])
        #expect(initResult.status == 0, "\(initResult)")
        let add = s.run(
            ["add-app", "adme", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", key],
            stdin: "x\n")
        #expect(add.status == 0, "\(add)")
        #expect(s.mode(s.dir.file("home/v")) == 0o700)
        for file in ["home/v/vault.db", "home/v/vault.db.lock", "home/key"] {
            #expect(s.mode(s.dir.file(file)) == 0o600, "\(file)")
        }
        // -wal/-shm exist while a connection is open; check them if a run left them.
        for file in ["home/v/vault.db-wal", "home/v/vault.db-shm"]
        where FileManager.default.fileExists(atPath: s.dir.file(file)) {
            #expect(s.mode(s.dir.file(file)) == 0o600, "\(file)")
        }
        let backup = s.run(["backup", s.dir.file("home/b.db")])
        #expect(backup.status == 0, "\(backup)")
        #expect(s.mode(s.dir.file("home/b.db")) == 0o600)
    }

    @Test func worldReadableVaultIsRefusedWithHint() throws {
        let s = UnprivilegedSandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        #expect(s.run(["list"], env: [:]).status == 0)
        // The user loosens the mode by mistake (as themselves).
        let chmodResult = CLI.exec(
            [
                "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/bin/chmod", "644",
                s.dir.file("home/v/vault.db")
            ], environment: [:])
        #expect(chmodResult.status == 0)
        let refused = s.run(["list"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("chmod 600"))
    }

    @Test func unreadableFilesGiveCleanErrors() throws {
        let s = UnprivilegedSandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        // Someone else's key file.
        let rootKey = s.dir.write("root.key", "tokvault-keyfile-v1:AAAA\n")
        let r1 = s.run(["show", "x", "--verify", "--key-file", rootKey])
        #expect(r1.status == 4 || r1.status == 1, "\(r1)")
        #expect(r1.stderr.contains("Permission denied") || r1.stderr.contains("no app"), "\(r1)")
        let r2 = s.run(
            ["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", rootKey],
            stdin: "x\n")
        #expect(r2.status == 4, "\(r2)")
        #expect(r2.stderr.contains("cannot read key file"), "\(r2)")
        // Someone else's vault.
        let other = Fixture()
        chmod(other.dir.path, 0o755)
        chmod(other.dir.file("vault"), 0o755)
        let r3 = s.run(["list"], env: ["TOKVAULT_VAULT": other.cli.vaultPath])
        #expect(r3.status == 1, "\(r3)")
        #expect(r3.stderr.hasPrefix("tokvault: error: "), "\(r3)")
        // A backup into a directory the user cannot write.
        let r4 = s.run(["backup", "/root/forbidden.db"])
        #expect(r4.status == 1, "\(r4)")
        #expect(r4.stderr.hasPrefix("tokvault: error: "), "\(r4)")
    }
}
