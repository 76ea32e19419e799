import ArgumentParser
import Foundation
import TokvaultVault

struct KeyFileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyfile",
        abstract: "Manage key files: random 32-byte keys that unlock the vault without a passphrase.",
        subcommands: [Create.self, Add.self, Remove.self, ListSlots.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Write a new key file (mode 0600, never overwrites) and add a key slot for it.")

        @Argument(help: "Where to write the new key file.")
        var file: String

        @OptionGroup var vaultOptions: VaultOptions

        func run() throws {
            let vault = try vaultOptions.open()
            // The key-slot lock before the vault lock (docs/vault-format.md §6, lock order).
            try vault.withSlotLock { try create(in: vault) }
        }

        private func create(in vault: Vault) throws {
            try vaultOptions.writing(vault, keyring: .refused) { key in
                let keyFile = KeyFile.generate()
                try SecureFile.createNew(file, contents: keyFile.rendered())
                do {
                    try vault.addKeyFileSlot(keyFile, key: key)
                } catch {
                    unlink(file)
                    throw error
                }
                print(
                    "Key file written to \(file) (fingerprint \(keyFile.fingerprint.prefix(16))); it now unlocks \(vault.path)"
                )
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a key slot for an existing key file (e.g. one shared by several vaults).")

        @Argument(help: "The key file to add.")
        var file: String

        @OptionGroup var vaultOptions: VaultOptions

        func run() throws {
            let vault = try vaultOptions.open()
            let keyFile = try KeyFile.loadPrivate(path: file)
            try vault.withSlotLock {
                try vaultOptions.writing(vault, keyring: .refused) { key in try vault.addKeyFileSlot(keyFile, key: key)
                }
            }
            print("Key file \(file) (fingerprint \(keyFile.fingerprint.prefix(16))) now unlocks \(vault.path)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Remove a key-file slot, by the key file's path or its fingerprint (refuses the last slot).")

        @Argument(help: "Key file path, or at least 8 hex digits of its fingerprint.")
        var keyFileOrFingerprint: String

        @Flag(name: [.long, .customShort("y")], help: "Don't ask for confirmation.")
        var yes = false

        @OptionGroup var vaultOptions: VaultOptions

        func run() throws {
            let vault = try vaultOptions.open()
            // Read for its fingerprint only, whatever its mode: removing the slot of a key file
            // that others could read is what one does about it.
            let fingerprint =
                VaultFile.exists(keyFileOrFingerprint)
                ? try KeyFile.load(path: keyFileOrFingerprint).fingerprint
                : keyFileOrFingerprint
            guard
                try Terminal.confirmOrRequireYes(
                    "Remove key-file slot \(fingerprint.prefix(16)) from \(vault.path)?", yes: yes,
                    refusal: "refusing to remove a key slot without confirmation")
            else { return }
            let slot = try vault.removeKeyFileSlot(fingerprintPrefix: fingerprint)
            print("Removed key slot \(slot.label) from \(vault.path)")
        }
    }

    struct ListSlots: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the vault's key slots.")

        @OptionGroup var vaultOptions: VaultOptions

        func run() throws {
            let vault = try vaultOptions.open()
            let rows = try vault.keySlots().map { slot in
                [
                    slot.kind.rawValue,
                    slot.kind == .keyfile ? (slot.keyfileFingerprint ?? "?") : (slot.kdfParameters?.description ?? "?"),
                    Output.isoTime(slot.createdAt)
                ]
            }
            print(Output.table(["KIND", "FINGERPRINT / KDF", "CREATED"], rows), terminator: "")
        }
    }
}
