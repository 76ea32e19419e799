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
            print("Backup \(file) is good: integrity ok, \(report.apps) app(s), \(report.sealedFields) sealed field(s) open, key slots: \(report.slots.joined(separator: ", "))")
            return
        }
        let vault = try vaultOptions.open()
        try vault.backup(to: file, overwrite: force)
        print("Backed up \(vault.path) to \(file) (encrypted, mode 0600). Check it with `tokvault backup --verify \(file)`.")
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace the vault with a verified backup (the current vault is kept beside it).",
        discussion: """
        The backup must pass `backup --verify` first: integrity check, unlock with the given \
        key (the backup's own key slots), every sealed field opened. The vault it replaces is \
        saved as VAULT.pre-restore-TIMESTAMP.
        """)

    @Argument(help: "Backup file made by `tokvault backup`.")
    var file: String

    @Flag(name: [.long, .customShort("y")], help: "Don't ask for confirmation.")
    var yes = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let target = vaultOptions.path
        let backup = try Vault.open(path: file, readOnly: true)
        let material = try vaultOptions.material(for: backup)
        if !yes && VaultFile.exists(target) {
            guard let answer = Terminal.confirm("Replace \(target) with the backup \(file)?") else {
                throw VaultError.usage("refusing to replace the vault without confirmation", hint: "pass --yes")
            }
            guard answer else { print("Nothing restored."); return }
        }
        let (report, saved) = try Vault.restore(backupPath: file, to: target, material: material)
        print("Restored \(target) from \(file): \(report.apps) app(s), \(report.sealedFields) sealed field(s) verified")
        if let saved { print("The previous vault was saved as \(saved)") }
    }
}
