import ArgumentParser
import Foundation
import TokvaultVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the apps in the vault (no unlock needed).")

    @Flag(name: .long, help: "Print a JSON array instead of a table.")
    var json = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let apps = try vault.apps()
        let states = try vault.tokenStates()
        let views = apps.map { AppView($0, session: states[$0.id]?.session, tokens: states[$0.id]?.tokens ?? []) }
        if json {
            print(try Output.json(views))
            return
        }
        if views.isEmpty {
            print("No apps in \(vault.path). Add one with `tokvault add-app NAME --tenant T --client-id C`.")
            return
        }
        let rows = views.map { v in
            [v.name, v.provider == "azure" ? (v.tenant ?? "-") : (URL(string: v.tokenEndpoint)?.host ?? v.tokenEndpoint),
             v.clientID, v.secretSummary, v.signedInAs ?? "-", v.tokenSummary]
        }
        print(Output.table(["NAME", "TENANT/ISSUER", "CLIENT ID", "SECRET", "SIGNED IN AS", "TOKENS"], rows), terminator: "")
    }
}
