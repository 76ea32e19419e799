import ArgumentParser
import Foundation
import TokvaultVault

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault, unlocked by a passphrase and/or a key file.",
        discussion: """
            The passphrase is asked twice on the terminal, or read from --new-passphrase-file or \
            $TOKVAULT_NEW_PASSPHRASE. --new-key-file writes a new random key file (mode 0600) for \
            hosts that unlock without a person; keep it apart from the vault.
            """)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Vault file to create (default: $TOKVAULT_VAULT, else $XDG_DATA_HOME/tokvault/vault.db).", valueName: "path"
        ))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Read the new passphrase from this file (first line).", valueName: "file"))
    var newPassphraseFile: String?

    @Option(name: .long, help: ArgumentHelp("Also create a key file here and a key slot for it.", valueName: "file"))
    var newKeyFile: String?

    @Flag(name: .long, help: "No passphrase slot: the vault opens only with the key file (requires --new-key-file).")
    var noPassphrase = false

    @OptionGroup var kdf: KDFOptions

    func validate() throws {
        if noPassphrase && newKeyFile == nil {
            throw ValidationError("--no-passphrase needs --new-key-file FILE, or the vault could never be opened")
        }
        if noPassphrase && newPassphraseFile != nil {
            throw ValidationError("--no-passphrase and --new-passphrase-file contradict each other")
        }
    }

    func run() throws {
        let path = VaultOptions.resolvePath(vault)
        if VaultFile.exists(path) {
            throw CommandError.failure(
                "\(path) already exists", hint: "tokvault never overwrites a vault; use --vault PATH for another one")
        }
        let passphrase = noPassphrase ? nil : try NewPassphrase.read(file: newPassphraseFile, purpose: path)
        var keyFile: KeyFile?
        if let newKeyFile {
            let generated = KeyFile.generate()
            try SecureFile.createNew(newKeyFile, contents: generated.rendered())
            keyFile = generated
        }
        do {
            let created = try Vault.create(
                path: path, passphrase: passphrase, kdf: kdf.parameters ?? .default, keyFile: keyFile)
            let slots = try created.keySlots().map(\.label).joined(separator: ", ")
            print("Created vault \(path) (key slots: \(slots))")
            if let newKeyFile { print("Key file written to \(newKeyFile) (mode 0600): keep it apart from the vault") }
        } catch {
            if let newKeyFile { unlink(newKeyFile) }
            throw error
        }
    }
}
