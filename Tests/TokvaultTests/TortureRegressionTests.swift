import Foundation
import Testing
import TokvaultFakeIdP

@testable import TokvaultVault

/// Found by scripts/soak: a command that read an app's row and then waited for the vault lock
/// while rotate-key held it opened the row's client secret, sealed under the old data key,
/// with the key it unlocked afterwards, the new one, and reported the vault as tampered with
/// (exit 5) instead of getting its token.
@Suite("torture regressions")
struct TortureRegressionTests {
    @Test func tokenAndExportWaitingForARotationGetTheirToken() throws {
        let client = FakeClient(clientID: ProviderSetup.clientID, clientSecret: ProviderSetup.clientSecret)
        let s = try ProviderSetup(client: client)
        defer { s.idp.stop() }
        let add = s.addApp(["--flow", "client-credentials", "--secret-stdin"], stdin: ProviderSetup.clientSecret + "\n")
        #expect(add.status == 0, "\(add)")
        // A writer holds the vault lock shared, so rotate-key waits at the gate; `token` and
        // `export` start meanwhile and wait behind it; the writer lets go after they have.
        let writer = VaultLock(vaultPath: s.cli.vaultPath)
        try writer.acquire(.shared)
        let rotate = Process()
        rotate.executableURL = URL(fileURLWithPath: CLI.binary)
        rotate.arguments = ["rotate-key", "--key-file", s.f.keyFile, "--passphrase-file", s.f.passphraseFile]
        rotate.environment = s.cli.environment
        rotate.standardInput = FileHandle.nullDevice
        rotate.standardOutput = FileHandle.nullDevice
        rotate.standardError = FileHandle.nullDevice
        try rotate.run()
        VaultLockTests.wait { VaultLockTests.gateIsClosed(s.cli.vaultPath) }
        #expect(VaultLockTests.gateIsClosed(s.cli.vaultPath), "rotate-key never waited for the vault lock")
        Thread {
            usleep(2_500_000)
            writer.release()
        }.start()

        // No token is cached: `token` needs a new one, `export` waits for it, and both read the
        // app before the rotation commits.
        let cli = s.cli
        let key = s.key
        let results = runConcurrently(2) { index in
            index == 0
                ? cli.run(["token", "deploy"] + key)
                : cli.run(
                    ["export", "deploy", "--env", "--with-secrets", "--only", "access_token", "--only", "client_secret"]
                        + key)
        }
        rotate.waitUntilExit()
        #expect(rotate.terminationStatus == 0)
        let token = results[0]
        let export = results[1]
        #expect(token.status == 0, "\(token)")
        #expect(export.status == 0, "\(export)")
        #expect(
            token.stderr.contains("waiting for another tokvault process"),
            "token did not wait for the rotation: \(token)")
        let accessToken = token.stdout.trimmingCharacters(in: .newlines)
        #expect(s.idp.accessTokenInfo(accessToken) != nil)
        #expect(export.stdout.contains("ACCESS_TOKEN='\(accessToken)'"))
        #expect(export.stdout.contains("AZURE_CLIENT_SECRET='\(ProviderSetup.clientSecret)'"))
        #expect(s.idp.stats.tokenRequests["client_credentials"] == 1, "one request for both")
        let doctor = s.cli.run(["doctor", "--verify"] + s.key)
        #expect(doctor.status == 0 && doctor.stdout.contains("generation 2"), "\(doctor)")
    }
}
