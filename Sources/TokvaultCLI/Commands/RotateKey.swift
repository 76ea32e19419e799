import ArgumentParser
import Foundation
import TokvaultVault

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
        print(
            "Rotated the data key of \(vault.path): generation \(report.newGeneration), \(report.resealed) sealed field(s) re-encrypted"
        )
        print("Key slots: \(report.keptSlots.joined(separator: ", "))")
        if !report.droppedSlots.isEmpty { print("Dropped key slots: \(report.droppedSlots.joined(separator: ", "))") }
        if let session = report.sessionKey {
            print("Replaced the key in the \(session.ring): unlocked until \(Output.isoTime(session.expiresAt)).")
        } else if report.sessionKeyRemoved {
            Diagnostics.warning("removed the old key from the keyring; run `tokvault unlock` again")
        }
    }
}
