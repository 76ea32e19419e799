import Foundation
import Testing

@testable import TokvaultFlow

@Suite("hostile input: environment")
struct HostileInputEnvironmentTests {
    @Test func keyFileVariableThatIsEmptyADirectoryOrTheWrongKey() throws {
        let f = Fixture(keyFileOnly: true)
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let empty = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": ""])
        #expect(empty.status == 4, "\(empty)")
        #expect(empty.stderr.contains("unlocks only with a key file"), "an empty variable is unset: \(empty)")
        let emptyFile = f.dir.write("empty.key", "")
        let zero = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": emptyFile])
        #expect(zero.status == 4, "\(zero)")
        #expect(zero.stderr.contains("\(emptyFile) is not a tokvault key file"), "\(zero)")
        let directory = f.dir.file("keys")
        mkdir(directory, 0o700)
        let dir = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": directory])
        #expect(dir.status == 4, "\(dir)")
        #expect(dir.stderr.contains("cannot read key file \(directory)"), "\(dir)")
        let other = Fixture(keyFileOnly: true)
        let wrong = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": other.keyFile])
        #expect(wrong.status == 4, "\(wrong)")
        #expect(wrong.stderr.contains("does not unlock vault"), "\(wrong)")
        // A key file given with the flag wins over a broken variable.
        #expect(
            f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile], env: ["TOKVAULT_KEY_FILE": directory])
                .status == 0)
        for result in [empty, zero, dir, wrong] { Hostile.expectClean(result) }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test func passphraseVariableWithLineBreaks() throws {
        let f = Fixture()
        let p = Fixture.passphrase
        // The first line is the passphrase, as in files and at the prompt.
        for (value, status) in [
            (p + "\nsecond line", Int32(0)), (p + "\r\n", 0), (p + "\r", 0), ("\n" + p, 4), ("\r\n" + p, 4)
        ] {
            let result = f.cli.run(["doctor", "--verify"], env: ["TOKVAULT_PASSPHRASE": value])
            #expect(result.status == status, "\(value.debugDescription): \(result)")
            if status == 4 {
                #expect(result.stderr.contains("wrong passphrase"), "\(value.debugDescription): \(result)")
            }
            #expect(!result.stdout.contains(p) && !result.stderr.contains(p), "the passphrase is never echoed")
        }
    }

    @Test(arguments: ["::::", "http://user:hunter2@", "http://[::1", "http://a b", "socks5://proxy:1080"])
    func garbageProxyIsAUsageErrorWithoutItsPassword(_ proxy: String) throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        #expect(
            f.cli.run(
                ["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: Hostile.refreshToken + "\n"
            ).status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let result = f.cli.run(["token", "adme", "--key-file", f.keyFile], env: ["HTTPS_PROXY": proxy])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("HTTPS_PROXY"), "\(result)")
        #expect(!result.stderr.contains("hunter2"))
        Hostile.expectClean(result)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test(arguments: [
        (",,,", false), ("*.", false), (".", false), (":443", false), ("*.*", false), ("[::1]", false),
        ("login.microsoftonline.com:abc", false), (" * ", true), ("com", true), (",login.microsoftonline.com,", true)
    ])
    func oddNoProxyValues(_ noProxy: String, _ bypassed: Bool) throws {
        let environment: @Sendable (String) -> String? = {
            ["HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": noProxy][$0]
        }
        let proxy = try ProxySettings.forURL(
            "https://login.microsoftonline.com/t/oauth2/v2.0/token", environment: environment)
        #expect((proxy == nil) == bypassed, "NO_PROXY=\(noProxy.debugDescription)")
    }

    /// A $BROWSER that fails, or does not exist, does not break the login: the redirect still
    /// completes it.
    @Test(arguments: ["/bin/false", "/nonexistent/browser"])
    func failingBrowserDoesNotBreakTheLogin(_ browser: String) throws {
        let w = try WaitingLogin(env: ["BROWSER": browser], noBrowser: false)
        defer { w.stop() }
        // Only when no fallback (xdg-open, open) exists on the PATH the CLI gets.
        let fallback = ["xdg-open", "open"].contains { name in
            ["/usr/local/bin", "/usr/bin", "/bin"].contains { access("\($0)/\(name)", X_OK) == 0 }
        }
        if browser.hasPrefix("/nonexistent") && !fallback {
            #expect(
                w.process.waitForStderr(seconds: 5) { $0.contains("no browser could be opened") }, "\(w.process.stderr)"
            )
        }
        #expect(try w.completeSignIn().status == 200)
        #expect(w.process.finish(seconds: 15) == 0, "\(w.process.stderr)")
        #expect(w.process.stdout.contains("Logged in to adme"))
    }

    @Test(arguments: ["closed", "/dev/full"])
    func tokenWithAnUnwritableStdoutFails(_ target: String) throws {
        let (f, _, _) = try populatedVault()
        let redirect = target == "closed" ? ">&-" : ">/dev/full"
        let result = CLI.exec(
            ["/bin/sh", "-c", "exec \"$0\" token alpha --key-file \"$1\" \(redirect)", CLI.binary, f.keyFile],
            environment: f.cli.environment, cwd: f.dir.path)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("cannot write the token to standard output"), "\(result)")
        Hostile.expectClean(result, secrets: ["alpha-access", "alpha-refresh"])
        #expect(filesContaining("alpha-access", under: f.dir.path).isEmpty, "the token landed in no file")
    }

    @Test func secretPromptsWithStdinFromDevNull() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: Hostile.clientSecret).status == 0)
        let before = try Hostile.snapshot(f.cli.vaultPath)
        // `CLI.run` without stdin gives /dev/null, and setsid leaves no controlling terminal.
        let cases: [([String], Int32, String)] = [
            (
                ["add-app", "b", "--tenant", "t", "--client-id", Fixture.clientID, "--key-file", f.keyFile], 64,
                "no client secret given and no terminal to ask for it"
            ),
            (
                [
                    "add-app", "b", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file",
                    f.keyFile
                ], 64, "the client secret is empty"
            ),
            (
                ["set", "adme", "--secret-prompt", "--key-file", f.keyFile], 64,
                "no terminal to ask for the client secret"
            ),
            (["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], 64, "the refresh token is empty"),
            (["passwd", "--key-file", f.keyFile], 4, "no terminal to ask for the new passphrase"),
            (["show", "adme", "--verify"], 4, "no terminal to ask for the passphrase")
        ]
        for (args, status, needle) in cases {
            let result = f.cli.run(args)
            #expect(result.status == status, "\(args): \(result)")
            #expect(result.stderr.contains(needle), "\(args): \(result)")
            Hostile.expectClean(result)
        }
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before)
    }

    @Test func unsetOrEmptyHomeFallsBackToThePasswordDatabase() throws {
        let dir = TempDir()
        var cli = CLI(dir)
        cli.environment.removeValue(forKey: "TOKVAULT_VAULT")
        cli.environment.removeValue(forKey: "HOME")
        let home = String(cString: getpwuid(geteuid())!.pointee.pw_dir)
        let expected = home + "/.local/share/tokvault/vault.db"
        try #require(!FileManager.default.fileExists(atPath: expected), "this machine has a real vault at \(expected)")
        for env in [[:], ["HOME": ""], ["XDG_DATA_HOME": "relative/dir"], ["HOME": "", "XDG_DATA_HOME": ""]]
            as [[String: String]]
        {
            let result = cli.run(["list"], env: env)
            #expect(result.status == 1, "\(env): \(result)")
            #expect(result.stderr.contains("no vault at \(expected)"), "\(env): \(result)")
            #expect(!result.stderr.contains("Fatal error"))
        }
        #expect(!FileManager.default.fileExists(atPath: home + "/.local/share/tokvault"), "reading created nothing")
    }
}
