import Foundation
import GRDB
import Testing

/// Shell completions: the scripts ArgumentParser generates, run by bash as `complete -F` would,
/// complete subcommands and the app names of the vault in use, and a name planted in the file
/// is never handed to the shell.
@Suite("shell completions")
struct CompletionTests {
    /// Runs bash's completion function for `line` (the cursor at its end) and returns the
    /// candidates it offers.
    static func complete(_ line: String, script: String, cli: CLI, env: [String: String] = [:]) -> [String] {
        let harness = """
            source "$1"
            read -ra COMP_WORDS <<<"$2"
            [[ "$2" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            COMP_LINE="$2"
            COMP_POINT=${#COMP_LINE}
            _tokvault tokvault "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        var environment = cli.environment.merging(env) { $1 }
        environment["PATH"] = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path + ":/usr/bin:/bin"
        let result = CLI.exec(
            ["/bin/bash", "-c", harness, "bash", script, line], environment: environment,
            cwd: cli.directory.path)
        #expect(result.status == 0, "\(result)")
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }.sorted()
    }

    @Test func bashCompletesSubcommandsAndAppNames() throws {
        let f = Fixture()
        for name in ["adme", "adme-prod", "other"] { #expect(f.addApp(name, secret: "s").status == 0) }
        let generated = f.cli.run(["--generate-completion-script", "bash"])
        try #require(generated.status == 0, "\(generated)")
        let script = f.dir.write("tokvault.bash", generated.stdout)

        #expect(Self.complete("tokvault ex", script: script, cli: f.cli) == ["exec", "export"])
        #expect(Self.complete("tokvault token ad", script: script, cli: f.cli) == ["adme", "adme-prod"])
        #expect(Self.complete("tokvault export ", script: script, cli: f.cli) == ["adme", "adme-prod", "other"])
        #expect(Self.complete("tokvault exec o", script: script, cli: f.cli) == ["other"])

        // --vault on the line wins over $TOKVAULT_VAULT; a vault that does not exist offers nothing.
        let second = CLI(TempDir())
        #expect(second.run(["init", "--new-key-file", second.directory.file("k"), "--no-passphrase"]).status == 0)
        #expect(
            second.run(
                [
                    "add-app", "elsewhere", "--tenant", "contoso.onmicrosoft.com", "--client-id", Fixture.clientID,
                    "--public", "--key-file", second.directory.file("k")
                ]
            ).status == 0)
        #expect(
            Self.complete("tokvault show --vault \(second.vaultPath) e", script: script, cli: f.cli) == ["elsewhere"])
        #expect(
            Self.complete(
                "tokvault show ", script: script, cli: f.cli, env: ["TOKVAULT_VAULT": f.dir.file("missing.db")]
            ).isEmpty)
    }

    /// Names come from a file anyone with write access could edit, and bash's `compgen -W`
    /// expands the words it is given: only names `add-app` accepts are offered.
    @Test func aNamePlantedInTheFileIsNotOffered() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "s").status == 0)
        #expect(f.addApp("beta", secret: "s").status == 0)
        #expect(f.addApp("gamma", secret: "s").status == 0)
        #expect(f.addApp("delta", secret: "s").status == 0)
        let canary = f.dir.file("completion-canary")
        try editVault(f.cli.vaultPath) { db in
            try db.execute(sql: "UPDATE app SET name = ? WHERE name = 'beta'", arguments: ["$(touch \(canary))"])
            try db.execute(sql: "UPDATE app SET name = ? WHERE name = 'gamma'", arguments: ["a b\nadme-x"])
            try db.execute(sql: "UPDATE app SET name = ? WHERE name = 'delta'", arguments: ["adme-y\n"])
        }
        let script = f.dir.write("tokvault.bash", f.cli.run(["--generate-completion-script", "bash"]).stdout)
        #expect(Self.complete("tokvault token ", script: script, cli: f.cli) == ["adme"])
        #expect(Self.complete("tokvault token $", script: script, cli: f.cli).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: canary), "a planted name ran as a command")
    }

    @Test func zshAndFishScriptsAreGenerated() throws {
        let f = Fixture()
        let zsh = f.cli.run(["--generate-completion-script", "zsh"])
        #expect(zsh.status == 0 && zsh.stdout.hasPrefix("#compdef tokvault"), "\(zsh.stdout.prefix(80))")
        let fish = f.cli.run(["--generate-completion-script", "fish"])
        #expect(fish.status == 0 && fish.stdout.contains("complete -c 'tokvault'"), "\(fish.stdout.prefix(200))")
        for script in [zsh.stdout, fish.stdout] {
            #expect(script.contains("---completion token -- positional@0"), "app names are not completed")
        }
    }
}
