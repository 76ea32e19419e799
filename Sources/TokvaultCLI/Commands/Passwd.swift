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
        try vault.holdLock(exclusive: false)
        let key = try vaultOptions.unlock(vault)
        let passphrase = try NewPassphrase.read(file: newPassphraseFile, purpose: vault.path)
        let existing = try vault.keySlots().first { $0.kind == .passphrase }
        let parameters = kdf.parameters ?? existing?.kdfParameters.flatMap { $0.isWithinBounds ? $0 : nil } ?? .default
        try vault.changePassphrase(passphrase, kdf: parameters, key: key)
        print(existing == nil ? "Added a passphrase slot to \(vault.path) (\(parameters))." : "Changed the passphrase of \(vault.path) (\(parameters)).")
    }
}

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
            try vault.holdLock(exclusive: false)
            let key = try vaultOptions.unlock(vault)
            let keyFile = KeyFile.generate()
            try SecureFile.createNew(file, contents: keyFile.rendered())
            do {
                try vault.addKeyFileSlot(keyFile, key: key)
            } catch {
                unlink(file)
                throw error
            }
            print("Key file written to \(file) (fingerprint \(keyFile.fingerprint.prefix(16))); it now unlocks \(vault.path)")
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
            let keyFile = try KeyFile.load(path: file)
            try vault.holdLock(exclusive: false)
            let key = try vaultOptions.unlock(vault)
            try vault.addKeyFileSlot(keyFile, key: key)
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
            let fingerprint = VaultFile.exists(keyFileOrFingerprint)
                ? try KeyFile.load(path: keyFileOrFingerprint).fingerprint
                : keyFileOrFingerprint
            if !yes {
                guard let answer = Terminal.confirm("Remove key-file slot \(fingerprint.prefix(16)) from \(vault.path)?") else {
                    throw VaultError.usage("refusing to remove a key slot without confirmation", hint: "pass --yes")
                }
                guard answer else { print("Nothing removed."); return }
            }
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
                [slot.kind.rawValue,
                 slot.kind == .keyfile ? (slot.keyfileFingerprint ?? "?") : (slot.kdfParameters?.description ?? "?"),
                 Output.isoTime(slot.createdAt)]
            }
            print(Output.table(["KIND", "FINGERPRINT / KDF", "CREATED"], rows), terminator: "")
        }
    }
}

struct RotateKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Replace the data key and re-encrypt every secret, in one transaction.",
        discussion: """
        Every key slot is rewrapped under the new key, so its secret must be supplied: the \
        passphrase (prompt, --passphrase-file, $TOKVAULT_PASSPHRASE…) and each key file \
        (--key-file, repeatable). Slots whose secret is missing make rotate-key refuse, \
        unless --drop-other-slots removes them.
        """)

    @Flag(name: .long, help: "Remove key slots whose secret was not supplied instead of refusing.")
    var dropOtherSlots = false

    @OptionGroup var kdf: KDFOptions
    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault, everything: true)
        let report = try vault.rotateKey(material: material, dropOtherSlots: dropOtherSlots, kdf: kdf.parameters)
        print("Rotated the data key of \(vault.path): generation \(report.newGeneration), \(report.resealed) sealed field(s) re-encrypted")
        print("Key slots: \(report.keptSlots.joined(separator: ", "))")
        if !report.droppedSlots.isEmpty { print("Dropped key slots: \(report.droppedSlots.joined(separator: ", "))") }
    }
}
