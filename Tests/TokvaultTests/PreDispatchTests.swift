import ArgumentParser
import Foundation
import Testing

@testable import TokvaultCLI

/// The pre-dispatch of `token` and `--version` (PreDispatch) against ArgumentParser: every form
/// it takes builds the command ArgumentParser builds from the same words, everything else is
/// left to ArgumentParser, and both paths print the same bytes and exit the same way.
@Suite("pre-dispatch")
struct PreDispatchTests {
    /// What a parsed `token` command will act on.
    struct Parsed: Equatable, CustomStringConvertible {
        var name, scope, format, claims, vault, passphraseFile: String?
        var minValid: Int64?
        var keyFiles: [String]

        init(_ command: Token) {
            name = command.name
            scope = command.tokenOptions.scope
            format = command.format
            claims = command.claims
            vault = command.vaultOptions.vault
            passphraseFile = command.vaultOptions.passphraseFile
            minValid = command.tokenOptions.minValid
            keyFiles = command.vaultOptions.keyFile
        }

        var description: String {
            "name \(name ?? "-") scope \(scope ?? "-") format \(format ?? "-") claims \(claims ?? "-") vault \(vault ?? "-") passphrase-file \(passphraseFile ?? "-") min-valid \(minValid.map(String.init) ?? "-") key-files \(keyFiles)"
        }
    }

    static let accepted: [[String]] = [
        ["token", "adme"],
        ["token", "adme", "--vault", "/v/vault.db"],
        ["token", "adme", "--vault=/v/vault.db"],
        ["token", "--vault", "/v/vault.db", "adme"],
        ["token", "adme", "--key-file", "/k/a.key"],
        ["token", "adme", "--key-file=/k/a.key", "--key-file", "/k/b.key"],
        ["token", "--key-file", "k", "adme", "--vault", "v.db"],
        ["token", "adme", "--passphrase-file", "/p/pass.txt"],
        ["token", "adme", "--passphrase-file=pass.txt", "--key-file", "k"],
        ["token", "adme", "--min-valid", "0"],
        ["token", "adme", "--min-valid=86400"],
        ["token", "adme", "--min-valid", "+60"],
        ["token", "adme", "--min-valid", "0600"],
        ["token", "adme", "--scope", "https://graph.microsoft.com/.default offline_access"],
        ["token", "adme", "--scope=api://x/.default"],
        ["token", "adme", "--scope", "a=b"],
        ["token", "adme", "--format", "raw"],
        ["token", "adme", "--format=json"],
        ["token", "adme", "--format", "az"],
        ["token", "kube", "--format", "kubectl", "--vault", "/v/vault.db", "--key-file", "/k/a.key"],
        [
            "token", "adme", "--scope", "s", "--min-valid", "120", "--format", "json", "--vault", "v", "--key-file",
            "k", "--passphrase-file", "p"
        ],
        ["token", "app with spaces"],
        ["token", "adme", "--vault", "path with = sign"],
        ["token", "ådme", "--vault", "/tmp/ü/vault.db"]
    ]

    static let leftToArgumentParser: [[String]] = [
        ["token"],
        ["--version", "extra"],
        ["token", "--help"],
        ["token", "adme", "-h"],
        ["token", "adme", "--help"],
        ["token", "help"],
        ["token", "adme", "other"],
        ["token", "--", "adme"],
        ["token", "adme", "--"],
        ["token", "-adme"],
        ["token", ""],
        ["token", "adme", "--vault"],
        ["token", "adme", "--vault", "a", "--vault", "b"],
        ["token", "adme", "--vault="],
        ["token", "adme", "--vault", "-v.db"],
        ["token", "adme", "--vault=--key-file"],
        ["token", "adme", "--passphrase-file", "a", "--passphrase-file", "b"],
        ["token", "adme", "--min-valid", "-1"],
        ["token", "adme", "--min-valid", "86401"],
        ["token", "adme", "--min-valid", "ten"],
        ["token", "adme", "--min-valid", "1_000"],
        ["token", "adme", "--min-valid", "99999999999999999999"],
        ["token", "adme", "--min-valid", "1", "--min-valid", "2"],
        ["token", "adme", "--scope", "a", "--scope", "b"],
        ["token", "adme", "--format", "yaml"],
        ["token", "adme", "--format", "raw", "--format", "raw"],
        ["token", "adme", "--claims", "{}"],
        ["token", "adme", "--keyfile", "k"],
        ["token", "adme", "--key-files", "k"],
        ["token", "adme", "--vaul", "v"],
        ["token", "adme", "-k", "k"],
        ["token", "adme", "--generate-completion-script", "bash"],
        ["token", "adme", "---completion", "--", "token"],
        ["refresh", "adme"],
        ["Token", "adme"],
        ["help", "token"]
    ]

    @Test(arguments: accepted)
    func anAcceptedFormBuildsWhatArgumentParserBuilds(_ arguments: [String]) throws {
        let fast = try #require(PreDispatch.token(arguments), "not taken: \(arguments)")
        let parsed = try #require(try Tokvault.parseAsRoot(arguments) as? Token, "not a token command: \(arguments)")
        #expect(Parsed(fast) == Parsed(parsed), "\(arguments)")
    }

    @Test(arguments: leftToArgumentParser)
    func anythingElseIsLeftToArgumentParser(_ arguments: [String]) {
        #expect(PreDispatch.token(arguments) == nil, "\(arguments)")
        #expect(!PreDispatch.isVersion(arguments))
    }

    @Test func versionPrintsWhatArgumentParserPrints() throws {
        #expect(PreDispatch.isVersion(["--version"]))
        var parsedMessage = ""
        do {
            _ = try Tokvault.parseAsRoot(["--version"])
            Issue.record("ArgumentParser did not treat --version as a request for the version")
        } catch {
            #expect(Tokvault.exitCode(for: error) == .success)
            parsedMessage = Tokvault.fullMessage(for: error)
        }
        let f = Fixture()
        let result = f.cli.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout == parsedMessage + "\n")
        #expect(result.stdout == "tokvault \(Tokvault.version)\n")
    }

    /// The binary, both ways: `token NAME ...` (pre-dispatched) and the same words with `--`
    /// before the name (which the pre-dispatch leaves to ArgumentParser) give the same
    /// output and exit code, for a hit, each format and the common failures.
    @Test func bothPathsPrintTheSameAndExitTheSame() throws {
        let (f, _, _) = try populatedVault()
        let dir = f.dir
        let wrongKey = dir.file("other.key")
        // Another vault's key file: the wrong key for this one.
        let other = CLI(TempDir())
        #expect(other.run(["init", "--new-key-file", wrongKey, "--no-passphrase"]).status == 0)
        let cases: [(options: [String], name: String)] = [
            (["--key-file", f.keyFile], "alpha"),
            (["--key-file=\(f.keyFile)", "--format", "json"], "beta"),
            (["--key-file", f.keyFile, "--format", "az"], "alpha"),
            (["--key-file", f.keyFile, "--min-valid", "60", "--format", "raw"], "beta"),
            (["--passphrase-file", f.passphraseFile], "alpha"),
            (["--vault", f.cli.vaultPath, "--key-file", f.keyFile], "alpha"),
            (["--key-file", f.keyFile], "missing"),
            (["--key-file", wrongKey], "alpha"),
            (["--key-file", dir.file("absent.key")], "alpha"),
            (["--vault", dir.file("nowhere/vault.db"), "--key-file", f.keyFile], "alpha"),
            ([], "alpha")
        ]
        for (options, name) in cases {
            let taken = ["token", name] + options
            try #require(PreDispatch.token(taken) != nil, "\(taken)")
            let leftOver = ["token"] + options + ["--", name]
            #expect(PreDispatch.token(leftOver) == nil)
            let fast = f.cli.run(taken)
            let parsed = f.cli.run(leftOver)
            #expect(fast.status == parsed.status, "\(taken)\nfast: \(fast)\nparsed: \(parsed)")
            #expect(fast.stdout == parsed.stdout, "\(taken)")
            #expect(fast.stderr == parsed.stderr, "\(taken)")
        }
        // The hit itself printed the token, not just the same nothing twice.
        #expect(f.cli.run(["token", "alpha", "--key-file", f.keyFile]).stdout == "alpha-access\n")
    }
}
