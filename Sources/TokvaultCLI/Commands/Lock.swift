import ArgumentParser
import Foundation
import TokvaultVault

struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Remove the vault's key from the keyring, where `tokvault unlock` left it.",
        discussion: """
            Invalidates the vault's session keys (of every key generation) in the session \
            keyring and the user keyring. Needs no unlock. --all removes every tokvault key \
            there, of any vault.
            """)

    @Flag(name: .long, help: "Remove every tokvault key in the keyrings, of any vault.")
    var all = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        if all {
            let removed = Vault.removeAllSessionKeys()
            print(removed == 0 ? "No tokvault key was in the keyring." : "Removed \(removed) tokvault key(s).")
            return
        }
        let vault = try vaultOptions.open()
        let removed = try vault.removeSessionKeys()
        print(removed == 0 ? "\(vault.path) was not unlocked." : "Locked \(vault.path).")
    }
}
