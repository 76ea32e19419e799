import ArgumentParser
import Foundation
import TokvaultVault

struct Unlock: ParsableCommand {
    static let defaultDuration = UnlockDuration(argument: "1h")!

    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Keep the vault unlocked in this session: its data key goes into the kernel session keyring.",
        discussion: """
            Unlocks the usual way (--key-file, --passphrase-file, the environment, or a prompt), \
            then stores the data key in the session keyring of this shell until it expires \
            (--for, default 1h; the kernel removes it) or `tokvault lock`. Until then, commands \
            that need the key and are given no key file or passphrase take it from there. Any \
            process in this session can read the key, which opens every copy of the vault until \
            `tokvault rotate-key`. Commands that add or change a way in (passwd, keyfile \
            create/add, rotate-key) never take it. Processes tokvault starts get a new, empty \
            session keyring.
            """)

    @Option(
        name: .customLong("for"),
        help: ArgumentHelp(
            "How long: seconds (90) or a number with s, m or h (30m, 8h); 1 s to 24 h (default 1h).",
            valueName: "duration"))
    var duration: UnlockDuration = Unlock.defaultDuration

    @Flag(
        name: .long,
        help: """
            Use the uid-wide user keyring instead of the session keyring (weaker: every process \
            of your user, in any session, can read the key).
            """)
    var userKeyring = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let ring: SessionRing = userKeyring ? .user : .session
        // Before any prompt: a passphrase typed for a keyring that cannot hold the key is wasted.
        if let refusal = Vault.sessionKeyringRefusal(ring) { throw refusal }
        let material = try vaultOptions.material(for: vault, keyring: .refused)
        let key = try vault.unlock(material)
        let expiresAt = try vault.storeSessionKey(key, seconds: duration.seconds, in: ring, now: Clock.now())
        if try vault.apps().isEmpty {
            Diagnostics.warning(
                "the vault has no app yet, and a key from the keyring proves itself against an app: until one is added, commands still ask for the passphrase or a key file"
            )
        }
        print("Unlocked \(vault.path) until \(Output.isoTime(expiresAt)) (in \(duration)), in the \(ring).")
    }
}
