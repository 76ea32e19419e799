import ArgumentParser
import Foundation
import TokvaultVault

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the vault's passphrase (or add one to a key-file-only vault).",
        discussion: """
            Only the data key's passphrase wrapping changes; secrets are not re-encrypted \
            (use rotate-key for that). Unlock with the current passphrase or any key file; \
            the new passphrase is asked twice, or read from --new-passphrase-file or \
            $TOKVAULT_NEW_PASSPHRASE.
            """)

    @Option(name: .long, help: ArgumentHelp("Read the new passphrase from this file (first line).", valueName: "file"))
    var newPassphraseFile: String?

    @OptionGroup var kdf: KDFOptions
    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        // Every prompt comes before the vault lock is taken: a user who walks away from a
        // prompt must not block other tokvault processes.
        let material = try vaultOptions.material(for: vault, keyring: .refused)
        let passphrase = try NewPassphrase.read(file: newPassphraseFile, purpose: vault.path)
        // The key-slot lock before the vault lock (docs/vault-format.md §6, lock order).
        let (existing, parameters) = try vault.withSlotLock {
            try vault.withUnlocked(material) { key in
                let existing = try vault.keySlots().first { $0.kind == .passphrase }
                let parameters =
                    kdf.parameters ?? existing?.kdfParameters.flatMap { $0.isWithinBounds ? $0 : nil } ?? .default
                try vault.changePassphrase(passphrase, kdf: parameters, key: key)
                return (existing, parameters)
            }
        }
        print(
            existing == nil
                ? "Added a passphrase slot to \(vault.path) (\(parameters))."
                : "Changed the passphrase of \(vault.path) (\(parameters)).")
    }
}
