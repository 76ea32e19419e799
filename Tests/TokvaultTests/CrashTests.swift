import Foundation
import Testing

@testable import TokvaultUseCases
@testable import TokvaultVault

/// `kill -9` at random moments of `rotate-key` must leave a vault that opens with every
/// secret intact: either still at the old key generation or fully at the new one.
@Suite("crash safety")
struct CrashTests {
    static let runs = Int(ProcessInfo.processInfo.environment["TOKVAULT_KILL_RUNS"] ?? "") ?? 40

    @Test func killDuringRotateKeyLosesNothing() throws {
        let f = Fixture()
        let vault = try Vault.open(path: f.cli.vaultPath)
        let material = UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))])
        var key = try vault.unlock(material)
        var expected: [String: String] = [:]
        for i in 0..<300 {
            var app = try AppSpec.newApp(
                name: "app\(i)",
                fields: {
                    var fields = AppFields()
                    fields.tenant = "contoso.onmicrosoft.com"
                    fields.clientID = Fixture.clientID
                    return fields
                }(), isPublic: false)
            app.createdAt = Int64(i)
            let secret = "secret-\(i)-\(UUID().uuidString)"
            expected[app.name] = secret
            try vault.addApp(app, clientSecret: secure(secret), key: key)
            let stored = try vault.app(named: app.name)
            try vault.storeTokens(
                TokenSet(
                    accessToken: secure("at-\(i)"), tokenType: "Bearer", expiresAt: 0,
                    refreshToken: secure("rt-\(i)")), for: stored, key: key)
        }
        vault.releaseLock()

        func rotate() -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = [
                "rotate-key", "--vault", f.cli.vaultPath, "--key-file", f.keyFile, "--passphrase-file", f.passphraseFile
            ]
            p.environment = ["PATH": "/usr/bin:/bin", "HOME": f.dir.path].merging(CLI.sanitizerEnvironment) { $1 }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            return p
        }
        // How long does one rotation take here?
        let clock = ContinuousClock()
        let full = rotate()
        let elapsed = try clock.measure {
            try full.run()
            full.waitUntilExit()
        }
        #expect(full.terminationStatus == 0)
        let window = max(
            elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000, 5_000_000)

        var killed = 0
        var completed = 0
        var generations = Set<Int64>()
        for _ in 0..<Self.runs {
            let p = rotate()
            try p.run()
            let delay = UInt32.random(in: 0...UInt32(min(Int64(UInt32.max / 1000), window * 12 / 10 / 1000)))
            usleep(delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { killed += 1 } else { completed += 1 }

            let reopened = try Vault.open(path: f.cli.vaultPath)
            #expect(try reopened.integrityCheck(full: true) == ["ok"])
            key = try reopened.unlock(material)
            let passphraseKey = try reopened.unlock(UnlockMaterial(passphrase: secure(Fixture.passphrase)))
            #expect(passphraseKey.generation == key.generation, "every slot at the same generation")
            generations.insert(key.generation)
            #expect(try reopened.verifyAllSealedFields(key: key) == 900)
            for app in try reopened.apps() where Int(app.name.dropFirst(3))! % 50 == 0 {
                let secret = try #require(try reopened.clientSecret(of: app, key: key))
                #expect(secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == expected[app.name])
                let refresh = try #require(try reopened.refreshToken(of: app, key: key))
                #expect(
                    refresh.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "rt-\(app.name.dropFirst(3))")
            }
        }
        print(
            "kill -9 during rotate-key: \(Self.runs) runs, \(killed) killed mid-way, \(completed) completed; generations seen: \(generations.sorted())"
        )
        #expect(killed + completed == Self.runs)
    }
}
