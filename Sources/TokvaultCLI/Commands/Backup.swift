import ArgumentParser
import Foundation
import TokvaultVault

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the vault to FILE (still encrypted, mode 0600), or check a backup with --verify.",
        discussion: """
            The copy is made with SQLite's online backup, so it is consistent even while other \
            tokvault processes write. `backup --verify FILE` runs SQLite's integrity check on FILE, \
            unlocks it (with the usual unlock sources) and opens every sealed field.
            """)

    @Argument(help: "Backup file to write (or to check, with --verify).")
    var file: String

    @Flag(name: .long, help: "Check an existing backup instead of writing one.")
    var verify = false

    @Flag(name: .long, help: "Replace FILE if it exists.")
    var force = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        if verify {
            let backup = try Vault.open(path: file, readOnly: true)
            let report = try backup.verify(material: vaultOptions.material(for: backup))
            print(
                "Backup \(file) is good: integrity ok, \(report.apps) app(s), \(report.sealedFields) sealed field(s) open, key slots: \(report.slots.joined(separator: ", "))"
            )
            return
        }
        let vault = try vaultOptions.open()
        try vault.backup(to: file, overwrite: force)
        print(
            "Backed up \(vault.path) to \(file) (encrypted, mode 0600). Check it with `tokvault backup --verify \(file)`."
        )
    }
}
