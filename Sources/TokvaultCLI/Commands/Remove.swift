import ArgumentParser
import Foundation
import TokvaultVault

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove an app and all of its tokens from the vault.")

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Flag(name: [.long, .customShort("y")], help: "Don't ask for confirmation.")
    var yes = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let app = try vault.app(named: name)
        guard
            try Terminal.confirmOrRequireYes(
                "Remove app \(name) (client id \(app.clientID)) and its tokens from \(vault.path)?", yes: yes,
                refusal: "refusing to remove \"\(name)\" without confirmation")
        else { return }
        try vault.removeApp(app)
        print("Removed app \(name).")
    }
}
