import Foundation
import Testing

@Suite(
    "hostile input: permissions as an unprivileged user",
    .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
struct HostileInputPermissionTests {
    @Test func lockFileOfAnotherUserIsAClearErrorAndNothingIsWritten() throws {
        let s = UnprivilegedSandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        let lock = s.cli.vaultPath + ".lock"
        unlink(lock)
        // Left by root (say, a `sudo tokvault` run): the user cannot open it.
        #expect(FileManager.default.createFile(atPath: lock, contents: nil, attributes: [.posixPermissions: 0o600]))
        let before = try Hostile.snapshot(s.cli.vaultPath)
        let add = s.run(
            ["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", key],
            stdin: Hostile.clientSecret + "\n")
        #expect(add.status == 1, "\(add)")
        #expect(
            add.stderr.contains("cannot open lock file")
                && add.stderr.contains("/home/v/vault.db.lock: Permission denied"), "\(add)")
        Hostile.expectClean(add)
        #expect(try Hostile.snapshot(s.cli.vaultPath) == before)
        // Reading needs no lock.
        #expect(s.run(["list"]).status == 0)
    }

    @Test func readOnlyVaultFileCanBeListedButNotWritten() throws {
        let s = UnprivilegedSandbox()
        let key = s.dir.file("home/key")
        #expect(s.run(["init", "--no-passphrase", "--new-key-file", key]).status == 0)
        chmod(s.cli.vaultPath, 0o400)
        let before = try Hostile.snapshot(s.cli.vaultPath)
        #expect(s.run(["list"]).status == 0)
        let add = s.run(
            ["add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file", key],
            stdin: Hostile.clientSecret + "\n")
        #expect(add.status == 1, "\(add)")
        #expect(add.stderr.contains("attempt to write a readonly database"), "\(add)")
        Hostile.expectClean(add)
        #expect(try Hostile.snapshot(s.cli.vaultPath) == before)
    }

    @Test func symlinkIntoAnotherUsersDirectoryIsAClearError() {
        let s = UnprivilegedSandbox()
        let other = TempDir()  // 0700, root's
        let target = other.write("vault.db", "SQLite format 3\u{0}")
        let link = s.dir.file("home/link.db")
        #expect(symlink(target, link) == 0)
        let result = s.run(["list"], env: ["TOKVAULT_VAULT": link])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("cannot access \(link): Permission denied"), "\(result)")
    }
}
