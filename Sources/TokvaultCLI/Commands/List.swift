import ArgumentParser
import Foundation
import TokvaultVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the apps in the vault (no unlock needed).")

    @Flag(name: .long, help: "Print a JSON array instead of a table.")
    var json = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        // Rows are rendered as they are read, so a vault with many apps costs only its cells.
        if json {
            var first = true
            print("[", terminator: "")
            try vault.forEachAppState { app, session, tokens in
                print(first ? "\n" : ",\n", terminator: "")
                print(try Output.json(AppView(app, session: session, tokens: tokens)), terminator: "")
                first = false
            }
            print(first ? "]" : "\n]")
            return
        }
        var rows: [[String]] = []
        let now = Int64(Date().timeIntervalSince1970)
        try vault.forEachAppState { app, session, tokens in
            let v = AppView(app, session: session, tokens: tokens, now: now, timestamps: false)
            rows.append([
                v.name,
                v.provider == "azure"
                    ? (v.tenant ?? "-") : (URLComponents(string: v.tokenEndpoint)?.host ?? v.tokenEndpoint),
                v.clientID, v.secretSummary, v.signedInAs ?? "-", v.tokenSummary
            ])
        }
        if rows.isEmpty {
            print("No apps in \(vault.path). Add one with `tokvault add-app NAME --tenant T --client-id C`.")
            return
        }
        Output.writeTable(["NAME", "TENANT/ISSUER", "CLIENT ID", "SECRET", "SIGNED IN AS", "TOKENS"], rows)
    }
}
