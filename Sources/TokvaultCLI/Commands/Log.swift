import ArgumentParser
import Foundation
import TokvaultVault

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show the audit log: writes, logins, refreshes, rotations (never a secret).")

    @Option(name: .long, help: ArgumentHelp("Only events of this app.", valueName: "name"))
    var app: String?

    @Option(name: [.short, .long], help: ArgumentHelp("How many of the newest events.", valueName: "n"))
    var limit = 50

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var vaultOptions: VaultOptions

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
    }

    struct EventView: Encodable {
        var at: String
        var action: String
        var app: String?
        var detail: String
    }

    func run() throws {
        let vault = try vaultOptions.open()
        let events = try vault.events(app: app, limit: limit).map {
            EventView(at: Output.isoTime($0.at), action: $0.action, app: $0.app, detail: $0.detail)
        }
        if json {
            print(try Output.json(events))
            return
        }
        print(
            Output.table(
                ["TIME", "ACTION", "APP", "DETAIL"], events.map { [$0.at, $0.action, $0.app ?? "-", $0.detail] }),
            terminator: "")
    }
}
