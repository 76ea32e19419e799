import Foundation
import Testing

@testable import TokvaultCLI
@testable import TokvaultVault

/// `tokvault unlock` / `lock`: the data key in the session keyring, each scenario in a shell
/// session with a session keyring of its own (`keyctl session -`), as a user's login has.
@Suite("unlock and lock", .enabled(if: TestKeyring.available, "the kernel refuses keyring calls here"))
struct UnlockTests {
    /// A vault with a passphrase and a key file, apps alpha and beta with cached access tokens.
    struct Setup {
        let f: Fixture
        let vault: Vault
        let key: DataKey
        var cli: CLI { f.cli }
        var session: KeyringSession { KeyringSession(f.cli, uid: uid) }
        /// The uid the sessions run as (nil: the test runner's).
        let uid: uid_t?
        var description: String { SessionKey.description(vaultID: key.vaultID, generation: key.generation) }
        var unlock: KeyringSession.Step { .tokvault(["unlock", "--passphrase-file", f.passphraseFile, "--for", "120"]) }

        /// With `privateUID`, the vault's files belong to an unused uid and every session runs as
        /// it: for tests that touch the uid-wide user keyring.
        init(privateUID: Bool = false) throws {
            (f, vault, key) = try populatedVault()
            uid = privateUID ? KeyringSession.privateUID() : nil
            if let uid { KeyringSession.give(f.dir, to: uid) }
        }

        /// A `shell` step that prints how many live keys of this vault the session keyring holds
        /// (/proc/keys also lists invalidated and expired keys until the kernel collects them).
        var countKeys: KeyringSession.Step {
            .shell(
                "for k in $(keyctl rlist @s); do keyctl rdescribe $k 2>/dev/null | grep -q ';tokvault:\(key.vaultID):' && keyctl pipe $k >/dev/null 2>&1 && echo $k; done | wc -l"
            )
        }

        /// A `shell` step that prints the descriptions of the live keys in the session keyring.
        var liveDescriptions: KeyringSession.Step {
            .shell(
                "for k in $(keyctl rlist @s); do keyctl pipe $k >/dev/null 2>&1 && keyctl rdescribe $k | cut -d';' -f5-; done"
            )
        }

        /// A `shell` step that adds `payload` as a user key with `description` to the session keyring.
        func plant(_ payload: SecureBytes, as description: String? = nil) -> KeyringSession.Step {
            let file = f.dir.write("planted-\(UUID().uuidString)", "")
            FileManager.default.createFile(atPath: file, contents: Data(payload.withUnsafeBytes { Array($0) }))
            return .shell("\(TestKeyring.keyctl) padd user '\(description ?? self.description)' @s < '\(file)'")
        }
    }

    /// The "done when": one unlock with the passphrase, then `token` with no terminal, no
    /// key file and no environment variable prints the token; another session gets exit 4.
    @Test func oneUnlockThenTokensWithoutAnyOtherSource() throws {
        let s = try Setup()
        let steps = s.session.run([
            s.unlock,
            .tokvault(["token", "alpha"]),
            .tokvault(["token", "beta"]),
            .tokvault(["show", "alpha", "--verify"]),
            .tokvault(["doctor"]),
            .tokvault(["set", "alpha", "--secret-stdin"], stdin: "new-alpha-secret\n")
        ])
        #expect(steps[0].status == 0, "\(steps[0])")
        #expect(steps[0].stdout.contains("Unlocked \(s.vault.path) until "), "\(steps[0])")
        #expect(steps[0].stdout.contains("(in 2m), in the session keyring"), "\(steps[0])")
        #expect(steps[1].status == 0 && steps[1].stdout == "alpha-access\n", "\(steps[1])")
        #expect(steps[2].status == 0 && steps[2].stdout == "beta-access\n", "\(steps[2])")
        #expect(steps[3].status == 0 && steps[3].stdout.contains("unlocked until "), "\(steps[3])")
        #expect(steps[4].stdout.contains("unlocked    until "), "\(steps[4])")
        #expect(steps[5].status == 0, "\(steps[5])")
        #expect(steps.allSatisfy { $0.stderr.isEmpty }, "\(steps)")
        // What was sealed under the key from the keyring opens under the vault's own key.
        let check = s.cli.run(["show", "alpha", "--verify", "--key-file", s.f.keyFile])
        #expect(check.status == 0 && check.stdout.contains("sealed field(s) open"), "\(check)")

        let elsewhere = s.session.run([.tokvault(["token", "alpha"])])[0]
        #expect(elsewhere.status == Failure.Exit.unlock, "another session: \(elsewhere)")
        #expect(elsewhere.stdout.isEmpty)
    }

    /// Without a terminal, `unlock` reads the passphrase from the same places as every command.
    @Test func unlockTakesThePassphraseFromTheEnvironmentAndTheKeyFileFromItsFlag() throws {
        let s = try Setup()
        for source in [
            KeyringSession.Step.tokvault(["unlock"]),
            .tokvault(["unlock", "--key-file", s.f.keyFile])
        ] {
            let steps = s.session.run(
                [source, .tokvault(["token", "alpha"])], env: ["TOKVAULT_PASSPHRASE": Fixture.passphrase])
            #expect(steps[0].status == 0, "\(steps[0])")
            #expect(steps[1].stdout == "alpha-access\n", "\(steps[1])")
        }
        let none = s.session.run([.tokvault(["unlock"])])[0]
        #expect(none.status == Failure.Exit.unlock, "\(none)")
        let wrong = s.f.dir.write("wrong.txt", "not the passphrase\n")
        let refused = s.session.run([.tokvault(["unlock", "--passphrase-file", wrong]), s.countKeys])
        #expect(refused[0].status == Failure.Exit.unlock, "\(refused[0])")
        #expect(refused[1].stdout == "0\n", "a wrong passphrase stored something: \(refused[1])")
    }

    @Test func lockEndsItAndSaysWhenThereWasNothingToLock() throws {
        let s = try Setup(privateUID: true)
        let steps = s.session.run([
            s.unlock,
            .tokvault(["lock"]),
            .tokvault(["token", "alpha"]),
            .tokvault(["lock"]),
            s.unlock,
            .tokvault(["lock", "--all"]),
            s.countKeys,
            .tokvault(["lock", "--all"])
        ])
        #expect(steps[1].status == 0 && steps[1].stdout == "Locked \(s.vault.path).\n", "\(steps[1])")
        #expect(steps[2].status == Failure.Exit.unlock, "\(steps[2])")
        #expect(steps[3].status == 0 && steps[3].stdout.contains("was not unlocked"), "\(steps[3])")
        #expect(steps[5].status == 0 && steps[5].stdout == "Removed 1 tokvault key(s).\n", "\(steps[5])")
        #expect(steps[6].stdout == "0\n", "\(steps[6])")
        #expect(steps[7].stdout == "No tokvault key was in the keyring.\n", "\(steps[7])")
    }

    @Test func theKeyEndsAtItsExpiry() throws {
        let s = try Setup()
        let steps = s.session.run([
            .tokvault(["unlock", "--passphrase-file", s.f.passphraseFile, "--for", "2s"]),
            .tokvault(["token", "alpha"]),
            .shell("sleep 3"),
            .tokvault(["token", "alpha"]),
            s.countKeys
        ])
        #expect(steps[0].stdout.contains("(in 2s)"), "\(steps[0])")
        #expect(steps[1].stdout == "alpha-access\n", "\(steps[1])")
        #expect(steps[3].status == Failure.Exit.unlock, "after the expiry: \(steps[3])")
        #expect(steps[4].stdout == "0\n", "the kernel removed it: \(steps[4])")
    }

    @Test func unlockAgainReplacesTheEntry() throws {
        let s = try Setup()
        let steps = s.session.run([
            .tokvault(["unlock", "--passphrase-file", s.f.passphraseFile, "--for", "60"]),
            .tokvault(["unlock", "--key-file", s.f.keyFile, "--for", "2h"]),
            s.countKeys,
            .tokvault(["doctor"])
        ])
        #expect(steps[1].status == 0 && steps[1].stdout.contains("(in 2h)"), "\(steps[1])")
        #expect(steps[2].stdout == "1\n", "\(steps[2])")
        #expect(steps[3].stdout.contains("(in 1h59m)") || steps[3].stdout.contains("(in 2h)"), "\(steps[3])")
    }

    /// rotate-key replaces a present key with the new generation's; a key of an older
    /// generation (the rotation ran in another session) is ignored.
    @Test func rotateKeyReplacesThePresentKeyAndAnOlderGenerationIsIgnored() throws {
        let s = try Setup()
        let rotate = [
            "rotate-key", "--key-file", s.f.keyFile, "--passphrase-file", s.f.passphraseFile, "--kdf-ops", "1",
            "--kdf-mem-mib", "8"
        ]
        let steps = s.session.run([
            s.unlock,
            .tokvault(rotate),
            s.liveDescriptions,
            .tokvault(["token", "alpha"]),
            // The same in another session: this session's key stays at generation 2.
            .shell(
                "\(TestKeyring.keyctl) session - \"$TOKVAULT\" "
                    + rotate.map(KeyringSession.quoted).joined(separator: " ")),
            .tokvault(["token", "alpha"]),
            s.liveDescriptions
        ])
        #expect(steps[1].status == 0, "\(steps[1])")
        #expect(steps[1].stdout.contains("Replaced the key in the session keyring: unlocked until "), "\(steps[1])")
        #expect(steps[2].stdout == "tokvault:\(s.key.vaultID):2\n", "\(steps[2])")
        #expect(steps[3].stdout == "alpha-access\n", "\(steps[3])")
        #expect(steps[4].status == 0, "\(steps[4])")
        #expect(steps[5].status == Failure.Exit.unlock, "an older generation's key was used: \(steps[5])")
        #expect(steps[5].stderr.contains("no way to unlock"), "\(steps[5])")
        #expect(steps[6].stdout == "tokvault:\(s.key.vaultID):2\n", "ignored, not removed: \(steps[6])")
    }

    /// Whoever can write the session keyring can plant a key under the vault's description: a
    /// random payload, a well-formed payload of a key that is not the vault's, or another uid's
    /// key. Each is ignored, removed and warned about; nothing is sealed under it.
    @Test func plantedKeysAreIgnoredRemovedAndWarnedAbout() throws {
        let s = try Setup()
        let before = try Hostile.snapshot(s.cli.vaultPath)
        let impostor = DataKey(
            bytes: .random(count: Sodium.keyBytes), generation: s.key.generation, vaultID: s.key.vaultID)
        let cases: [(KeyringSession.Step, String)] = [
            (s.plant(.random(count: SessionKey.payloadLength)), "it is not a tokvault session key"),
            (s.plant(.random(count: 12)), "it is not a tokvault session key"),
            (
                s.plant(SessionKey.payload(for: impostor, expiresAt: Clock.now() + 600)),
                "it does not open this vault"
            ),
            (
                s.plant(
                    SessionKey.payload(
                        for: DataKey(bytes: s.key.bytes, generation: 1, vaultID: UUID().uuidString.lowercased()),
                        expiresAt: Clock.now() + 600)),
                "its check value does not match"
            )
        ]
        for (plant, why) in cases {
            let steps = s.session.run([
                plant,
                .tokvault(["set", "alpha", "--secret-stdin"], stdin: "laundered-secret\n"),
                s.countKeys,
                plant,
                .tokvault(["token", "alpha"])
            ])
            #expect(steps[0].status == 0, "\(steps[0])")
            #expect(steps[1].status == Failure.Exit.unlock, "\(why): \(steps[1])")
            #expect(
                steps[1].stderr.contains(
                    "warning: ignored a key for vault \(s.vault.path) in the session keyring: \(why)"), "\(steps[1])"
            )
            #expect(steps[1].stderr.contains("; removed it"), "\(steps[1])")
            #expect(steps[2].stdout == "0\n", "\(steps[2])")
            #expect(steps[4].status == Failure.Exit.unlock && steps[4].stdout.isEmpty, "\(steps[4])")
        }
        #expect(try Hostile.snapshot(s.cli.vaultPath) == before, "a planted key changed the vault")

        // The vault's real key, as another uid's: never used.
        let foreign = s.session.run([
            s.unlock,
            .shell(
                "\(TestKeyring.keyctl) chown $(\(TestKeyring.keyctl) search @s user '\(s.description)') 65534"),
            .tokvault(["token", "alpha"]),
            s.countKeys
        ])
        #expect(foreign[1].status == 0, "\(foreign[1])")
        #expect(foreign[2].status == Failure.Exit.unlock, "\(foreign[2])")
        #expect(foreign[2].stderr.contains("it is a user key of uid 65534, not of uid \(geteuid())"), "\(foreign[2])")
        #expect(foreign[3].stdout == "0\n", "\(foreign[3])")
    }

    /// A temporary unlock must not become a permanent way in.
    @Test func commandsThatAddOrChangeAWayInDoNotTakeTheKey() throws {
        let s = try Setup()
        let newPass = s.f.dir.write("new-pass.txt", "an entirely new passphrase\n")
        let otherKey = s.f.dir.file("other.key")
        let steps = s.session.run([
            s.unlock,
            .tokvault(["passwd", "--new-passphrase-file", newPass]),
            .tokvault(["keyfile", "create", otherKey]),
            .tokvault(["keyfile", "add", s.f.keyFile]),
            .tokvault(["rotate-key"]),
            .tokvault(["token", "alpha"])
        ])
        for step in steps[1...4] {
            #expect(step.status == Failure.Exit.unlock, "\(step)")
            #expect(step.stderr.contains("does not take the key `tokvault unlock` leaves in the keyring"), "\(step)")
        }
        #expect(!FileManager.default.fileExists(atPath: otherKey))
        #expect(try s.vault.keySlots().count == 2)
        #expect(steps[5].stdout == "alpha-access\n", "the key is still there for the others: \(steps[5])")
    }

    /// Without pam_keyinit the session keyring is the uid's user-session keyring, which outlives
    /// every session: `unlock` refuses and names the ways out.
    @Test(.enabled(if: TestKeyring.runnerUsesTheUserSessionKeyring, "the test runner has a session keyring of its own"))
    func theUserSessionKeyringIsRefused() throws {
        let s = try Setup()
        let direct = s.cli.run(["unlock", "--passphrase-file", s.f.passphraseFile])
        #expect(direct.status == Failure.Exit.unlock, "\(direct)")
        #expect(direct.stderr.contains("falls back to uid \(geteuid())'s user-session keyring"), "\(direct)")
        #expect(direct.stderr.contains("hint: run `keyctl session`"), "\(direct)")
        #expect(direct.stderr.contains("--user-keyring"), "\(direct)")
        let keys = try String(contentsOfFile: "/proc/keys", encoding: .utf8)
        #expect(!keys.contains(s.description), "a refused unlock stored a key")
    }

    /// Under sudo the session keyring can be the calling user's, who could then read the key.
    @Test func aSessionKeyringOfAnotherUidIsRefused() throws {
        let s = try Setup()
        let steps = s.session.run([
            .shell("\(TestKeyring.keyctl) chown @s 65534"),
            s.unlock,
            s.countKeys
        ])
        #expect(steps[0].status == 0, "\(steps[0])")
        #expect(steps[1].status == Failure.Exit.unlock, "\(steps[1])")
        #expect(
            steps[1].stderr.contains("the session keyring belongs to uid 65534, not to uid \(geteuid())"), "\(steps[1])"
        )
        #expect(steps[1].stderr.contains("hint: run `keyctl session`"), "\(steps[1])")
        #expect(steps[2].stdout == "0\n", "\(steps[2])")
    }

    /// `--user-keyring` is the explicit opt-in to the uid-wide keyring: another session reads it.
    @Test func theUserKeyringReachesEverySessionOfTheUid() throws {
        let s = try Setup(privateUID: true)
        let first = s.session.run([
            .tokvault(["unlock", "--user-keyring", "--passphrase-file", s.f.passphraseFile, "--for", "60"])
        ])[0]
        #expect(first.status == 0 && first.stdout.contains("in the user keyring"), "\(first)")
        let second = s.session.run([
            .tokvault(["token", "alpha"]),
            .tokvault(["show", "alpha"]),
            .tokvault(["lock"]),
            .tokvault(["token", "alpha"])
        ])
        #expect(second[0].stdout == "alpha-access\n", "\(second[0])")
        #expect(second[1].stdout.contains("unlocked until ") && second[1].stdout.contains("in the user keyring"))
        #expect(second[2].stdout == "Locked \(s.vault.path).\n", "\(second[2])")
        #expect(second[3].status == Failure.Exit.unlock, "\(second[3])")
    }

    /// A new vault has no app to prove a key against: the key is stored but not used until one exists.
    @Test func aVaultWithoutAppsIsUnlockedOnlyOnceItHasOne() throws {
        let f = Fixture()
        let steps = KeyringSession(f.cli).run([
            .tokvault(["unlock", "--passphrase-file", f.passphraseFile, "--for", "60"]),
            .tokvault(
                ["add-app", "first", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin"],
                stdin: "s\n"),
            .tokvault(
                [
                    "add-app", "first", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin",
                    "--key-file", f.keyFile
                ], stdin: "s\n"),
            .tokvault(["show", "first", "--verify"])
        ])
        #expect(steps[0].status == 0, "\(steps[0])")
        #expect(steps[0].stderr.contains("warning: the vault has no app yet"), "\(steps[0])")
        #expect(steps[1].status == Failure.Exit.unlock, "\(steps[1])")
        #expect(steps[2].status == 0, "\(steps[2])")
        #expect(steps[3].status == 0 && steps[3].stdout.contains("unlocked until "), "\(steps[3])")
    }

    /// A vault of format 1 (an older release's) is upgraded by its first unlock, `unlock`
    /// included; the key it leaves then serves the upgraded vault.
    @Test func unlockUpgradesAFormat1VaultAndItsKeyServesIt() throws {
        let old = try Format1Vault()
        let steps = KeyringSession(old.cli).run([
            .tokvault(["unlock", "--key-file", old.keyFile, "--for", "60"]),
            .tokvault(["token", "adme"]),
            .tokvault(["lock"])
        ])
        #expect(steps[0].status == 0 && steps[0].stdout.contains("Unlocked "), "\(steps[0])")
        #expect(steps[0].stderr.contains(" to format 3: 8 sealed field(s) re-sealed"), "\(steps[0])")
        #expect(try old.formatVersion() == 3)
        #expect(steps[1].status == 0 && steps[1].stdout == old.expected.adme.access_token + "\n", "\(steps[1])")
        #expect(steps[2].stdout.hasPrefix("Locked "), "\(steps[2])")

        // The same from format 2.
        let second = try format2Vault()
        let again = KeyringSession(second.cli).run([
            .tokvault(["unlock", "--key-file", second.keyFile, "--for", "60"]),
            .tokvault(["token", "beta"]),
            .tokvault(["lock"])
        ])
        #expect(again[0].stderr.contains(" to format 3: 8 sealed field(s) re-sealed"), "\(again[0])")
        #expect(try second.formatVersion() == 3)
        #expect(again[1].status == 0 && again[1].stdout == "beta-access\n", "\(again[1])")
    }

    /// The key lives in the kernel only: not in any file, output or environment of the session.
    @Test func theKeyReachesNoFileAndNoOutput() throws {
        let s = try Setup()
        let keyBytes = Data(s.key.bytes.withUnsafeBytes { Array($0) })
        let steps = s.session.run(
            [
                s.unlock,
                .tokvault(["token", "alpha"]),
                .tokvault(["show", "alpha", "--verify"]),
                .tokvault(["doctor", "--verify"]),
                .shell("env"),
                .tokvault(["lock"])
            ])
        #expect(steps.allSatisfy { $0.status == 0 }, "\(steps)")
        let encodings = [
            keyBytes.base64EncodedString(), keyBytes.map { String(format: "%02x", $0) }.joined(), Fixture.passphrase
        ]
        for step in steps {
            for encoded in encodings {
                #expect(!step.stdout.contains(encoded) && !step.stderr.contains(encoded), "\(step)")
            }
        }
        #expect(filesContaining(keyBytes, under: s.f.dir.path).isEmpty)
        for encoded in encodings.dropLast() {
            #expect(filesContaining(encoded, under: s.f.dir.path).isEmpty)
        }
        #expect(filesContaining(Fixture.passphrase, under: s.f.dir.path) == [s.f.passphraseFile])
        #expect(!steps[4].stdout.contains("tokvault:"), "the environment names the key: \(steps[4])")
    }
}

extension TestKeyring {
    /// Whether processes the test runner starts fall back to the user-session keyring (no
    /// pam_keyinit: this is what containers and CI runners usually do).
    static let runnerUsesTheUserSessionKeyring: Bool = {
        let ids = CLI.exec(
            ["/bin/sh", "-c", "\(keyctl) rdescribe @s; \(keyctl) rdescribe @us"], environment: [:])
        let lines = ids.stdout.split(separator: "\n")
        return ids.status == 0 && lines.count == 2 && lines[0] == lines[1]
    }()
}
