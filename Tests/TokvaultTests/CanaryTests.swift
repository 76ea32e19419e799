import Foundation
import Testing

/// After every kind of write, the secret's bytes appear in no file under the vault directory
/// (db, wal, shm, journal, backup, lock) nor in any output.
@Suite("canaries")
struct CanaryTests {
    @Test func secretsNeverReachDiskOrOutput() throws {
        let f = Fixture()
        let canaries = ["CANARY-client-secret-7f3a", "CANARY-second-secret-91bc", "CANARY-refresh-token-22de"]
        var outputs: [CLI.Result] = []
        func step(_ args: [String], stdin: String? = nil) {
            let r = f.cli.run(args, stdin: stdin)
            #expect(r.status == 0, "\(args): \(r)")
            outputs.append(r)
            for canary in canaries {
                #expect(
                    filesContaining(canary, under: f.dir.path).filter {
                        !$0.hasSuffix("secret.txt") && !$0.hasSuffix("rt.txt")
                    }.isEmpty,
                    "\(canary) on disk after \(args)")
            }
        }
        step(
            [
                "add-app", "adme", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file",
                f.keyFile
            ], stdin: canaries[0] + "\n")
        let secretFile = f.dir.write("secret.txt", canaries[1] + "\n")
        step(["set", "adme", "--secret-file", secretFile, "--key-file", f.keyFile])
        let rt = f.dir.write("rt.txt", canaries[2])
        step(["set", "adme", "--refresh-token-file", rt, "--key-file", f.keyFile])
        step(["set", "adme", "--client-id", "1b6a2f1e-1111-4c4c-9a9a-123456789abc", "--key-file", f.keyFile])
        step(["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: canaries[2] + "\n")
        let newPass = f.dir.write("new-pass.txt", "another passphrase\n")
        step([
            "passwd", "--key-file", f.keyFile, "--new-passphrase-file", newPass, "--kdf-ops", "1", "--kdf-mem-mib", "8"
        ])
        step(["rotate-key", "--key-file", f.keyFile, "--passphrase-file", newPass])
        step(["backup", f.dir.file("vault/backup.db")])
        step(["backup", "--verify", f.dir.file("vault/backup.db"), "--key-file", f.keyFile])
        step(["show", "adme", "--verify", "--key-file", f.keyFile])
        step(["doctor", "--verify", "--key-file", f.keyFile])
        step(["list", "--json"])
        step(["log"])
        for output in outputs {
            for canary in canaries {
                #expect(!output.stdout.contains(canary) && !output.stderr.contains(canary))
            }
        }
        // The secrets are really there (sealed), not just lost.
        let verify = f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile])
        #expect(verify.stdout.contains("2 sealed field(s) open"), "\(verify)")
    }
}
