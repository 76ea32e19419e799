import ArgumentParser
import Foundation
import TokvaultVault

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
        if VaultFile.exists(target) {
            guard
                try Terminal.confirmOrRequireYes(
                    "Replace \(target) with the backup \(file)?", yes: yes,
                    refusal: "refusing to replace the vault without confirmation")
            else { return }
        }
        let (report, saved) = try Vault.restore(backupPath: file, to: target, material: material)
        print("Restored \(target) from \(file): \(report.apps) app(s), \(report.sealedFields) sealed field(s) verified")
        if let saved { print("The previous vault was saved as \(saved)") }
    }
}
