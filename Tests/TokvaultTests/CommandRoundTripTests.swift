import Foundation
import Testing

/// Every command, run as a user would run the built binary.
@Suite("commands end to end")
struct CommandRoundTripTests {
    @Test func versionAndHelp() {
        let cli = CLI(TempDir())
        let version = cli.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("tokvault "))
        let help = cli.run(["help", "add-app"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--secret-stdin"))
        #expect(!help.stdout.contains("--secret "), "the secret is never an argument")
    }

    @Test func usageErrorsExit64InTokvaultWording() {
        let cli = CLI(TempDir())
        let unknown = cli.run(["add-app"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.hasPrefix("tokvault: error: "))
        #expect(unknown.stderr.contains("tokvault: hint: usage: "))
        let bogus = cli.run(["frobnicate"])
        #expect(bogus.status == 64)
    }

    @Test func initCreatesPrivateFilesAndRefusesToOverwrite() throws {
        let f = Fixture()
        let attrs = try FileManager.default.attributesOfItem(atPath: f.cli.vaultPath)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        let dirAttrs = try FileManager.default.attributesOfItem(atPath: f.dir.file("vault"))
        #expect((dirAttrs[.posixPermissions] as? Int) == 0o700)
        let keyAttrs = try FileManager.default.attributesOfItem(atPath: f.keyFile)
        #expect((keyAttrs[.posixPermissions] as? Int) == 0o600)
        let again = f.cli.run(["init", "--new-passphrase-file", f.passphraseFile])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))
        // No temporary files left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.dir.file("vault")).filter {
            $0.contains("init-")
        }
        #expect(leftovers.isEmpty)
    }

    @Test func initWithoutTerminalOrPassphraseSourceExits4() {
        let cli = CLI(TempDir())
        let result = cli.run(["init"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("TOKVAULT_NEW_PASSPHRASE"))
        #expect(!FileManager.default.fileExists(atPath: cli.vaultPath))
    }

    @Test func addListShowAsTableAndJSON() throws {
        let f = Fixture()
        let add = f.addApp("adme", secret: "s3cr3t-value")
        #expect(add.status == 0, "\(add)")
        // Every app is bound to the data key, a public one too: add-app unlocks.
        #expect(
            f.cli.run(["add-app", "cli", "--tenant", "common", "--client-id", Fixture.clientID, "--public"]).status == 4
        )
        #expect(
            f.cli.run([
                "add-app", "cli", "--tenant", "common", "--client-id", Fixture.clientID, "--public", "--key-file",
                f.keyFile
            ]).status == 0)

        let list = f.cli.run(["list"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("NAME"))
        #expect(list.stdout.contains("adme") && list.stdout.contains("sealed"))
        #expect(list.stdout.contains("cli") && list.stdout.contains("public"))

        let json = f.cli.run(["list", "--json"])
        let apps = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(apps.count == 2)
        let adme = try #require(apps.first { $0["name"] as? String == "adme" })
        #expect(
            adme["token_endpoint"] as? String
                == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        #expect(
            adme["authorize_endpoint"] as? String
                == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize")
        #expect(adme["scope"] as? String == "\(Fixture.clientID)/.default openid profile offline_access")
        #expect(adme["redirect_uri"] as? String == "http://localhost:8080")
        #expect(adme["has_client_secret"] as? Bool == true)
        #expect(adme["client_auth"] as? String == "client_secret_post")

        let show = f.cli.run(["show", "adme"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("client secret  sealed"))
        let showJSON = f.cli.run(["show", "adme", "--json"])
        let one = try #require(try JSONSerialization.jsonObject(with: Data(showJSON.stdout.utf8)) as? [String: Any])
        #expect(one["client_id"] as? String == Fixture.clientID)

        let verify = f.cli.run(["show", "adme", "--verify", "--passphrase-file", f.passphraseFile])
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stdout.contains("1 sealed field(s) open"))
        for output in [list, json, show, showJSON, verify] {
            #expect(!output.stdout.contains("s3cr3t-value") && !output.stderr.contains("s3cr3t-value"))
        }
    }

    @Test func addAppValidatesInput() {
        let f = Fixture()
        let cases: [([String], String)] = [
            (["add-app", "bad name", "--tenant", "t", "--client-id", Fixture.clientID, "--public"], "invalid app name"),
            // A trailing newline: ICU's `$` matches before one, so the checks anchor with `\z`.
            (["add-app", "x\n", "--tenant", "t", "--client-id", Fixture.clientID, "--public"], "invalid app name"),
            (["add-app", "x", "--tenant", "t\n", "--client-id", Fixture.clientID, "--public"], "invalid tenant"),
            (["add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID + "\n", "--public"], "GUID"),
            (
                [
                    "add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID, "--authority-host",
                    "login.microsoftonline.us\n", "--public"
                ], "is not a host name"
            ),
            (["add-app", "x", "--tenant", "t", "--client-id", "not-a-guid", "--public"], "GUID"),
            (["add-app", "x", "--client-id", Fixture.clientID, "--public"], "missing --tenant"),
            (["add-app", "x", "--tenant", "t/../evil", "--client-id", Fixture.clientID, "--public"], "invalid tenant"),
            (
                ["add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID, "--cloud", "mars", "--public"],
                "unknown --cloud"
            ),
            (
                ["add-app", "x", "--authorize-endpoint", "https://a.example/auth", "--client-id", "c", "--public"],
                "go together"
            ),
            (
                [
                    "add-app", "x", "--authorize-endpoint", "https://a.example/auth", "--token-endpoint",
                    "http://a.example/token",
                    "--client-id", "c", "--public"
                ], "not https"
            ),
            (
                [
                    "add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID, "--redirect-uri",
                    "http://evil.example/cb", "--public"
                ], "--redirect-uri"
            ),
            (
                ["add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID, "--scope", "a \"b\"", "--public"],
                "invalid scope"
            ),
            (
                [
                    "add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID, "--redirect-uri",
                    "http://localhost:99999", "--public"
                ], "ports are 0–65535"
            ),
            (["add-app", "x", "--tenant", "t", "--client-id", Fixture.clientID], "no client secret")
        ]
        for (args, message) in cases {
            let result = f.cli.run(args)
            #expect(result.status == 64, "\(args): \(result)")
            #expect(result.stderr.contains(message), "\(args): \(result.stderr)")
        }
        #expect(f.addApp("dup", secret: "a").status == 0)
        let dup = f.addApp("dup", secret: "b")
        #expect(dup.status == 1)
        #expect(dup.stderr.contains("already exists"))
    }

    @Test func genericOAuthServerAndOtherClouds() throws {
        let f = Fixture()
        let generic = f.cli.run([
            "add-app", "okta", "--authorize-endpoint", "https://idp.example.com/oauth2/v1/authorize",
            "--token-endpoint", "https://idp.example.com/oauth2/v1/token", "--client-id", "0oa1b2c3", "--public",
            "--key-file", f.keyFile
        ])
        #expect(generic.status == 0, "\(generic)")
        let usgov = f.cli.run([
            "add-app", "gov", "--tenant", "t1", "--client-id", Fixture.clientID, "--cloud", "usgov", "--public",
            "--key-file", f.keyFile
        ])
        #expect(usgov.status == 0)
        let china = f.cli.run([
            "add-app", "cn", "--tenant", "t1", "--client-id", Fixture.clientID, "--authority-host",
            "https://login.partner.microsoftonline.cn/", "--public", "--key-file", f.keyFile
        ])
        #expect(china.status == 0, "\(china)")
        let apps = try #require(
            try JSONSerialization.jsonObject(with: Data(f.cli.run(["list", "--json"]).stdout.utf8)) as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: apps.map { ($0["name"] as! String, $0) })
        #expect(byName["okta"]?["scope"] as? String == "openid offline_access")
        #expect(byName["okta"]?["provider"] as? String == "oauth")
        #expect(byName["gov"]?["token_endpoint"] as? String == "https://login.microsoftonline.us/t1/oauth2/v2.0/token")
        #expect(
            byName["cn"]?["token_endpoint"] as? String
                == "https://login.partner.microsoftonline.cn/t1/oauth2/v2.0/token")
    }

    @Test func setChangesFieldsAndResealsWhatTheAADBinds() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "first-secret").status == 0)
        let rt = f.dir.write("rt.txt", "imported-refresh-token\n")
        #expect(f.cli.run(["set", "adme", "--refresh-token-file", rt, "--key-file", f.keyFile]).status == 0)
        #expect(f.cli.run(["show", "adme"]).stdout.contains("refresh token  present"))

        // Scope change: a bound column (format 2), so it needs the key to bind the app anew.
        let scopeNoKey = f.cli.run(["set", "adme", "--scope", "api://adme/.default offline_access"])
        #expect(scopeNoKey.status == 4, "binding needs the key: \(scopeNoKey)")
        let scope = f.cli.run(["set", "adme", "--scope", "api://adme/.default offline_access", "--key-file", f.keyFile])
        #expect(scope.status == 0, "\(scope)")
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile]).status == 0)
        #expect(
            f.cli.run(["export", "adme", "--with-secrets", "--only", "refresh_token", "--key-file", f.keyFile]).stdout
                .contains("imported-refresh-token"), "the refresh token was re-sealed under the new binding")

        // Client id change: secret re-sealed (needs the key), tokens dropped.
        let newID = "1b6a2f1e-1111-4c4c-9a9a-123456789abc"
        let noKey = f.cli.run(["set", "adme", "--client-id", newID])
        #expect(noKey.status == 4, "re-sealing needs the key: \(noKey)")
        let moved = f.cli.run(["set", "adme", "--client-id", newID, "--key-file", f.keyFile])
        #expect(moved.status == 0, "\(moved)")
        #expect(moved.stdout.contains("Removed the app's tokens"))
        let show = f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile])
        #expect(show.status == 0, "\(show)")
        #expect(show.stdout.contains(newID))
        #expect(show.stdout.contains("refresh token  none"))

        // Tenant change re-derives endpoints and re-seals.
        #expect(f.cli.run(["set", "adme", "--tenant", "fabrikam.onmicrosoft.com", "--key-file", f.keyFile]).status == 0)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(f.cli.run(["show", "adme", "--json"]).stdout.utf8))
                as? [String: Any])
        #expect(
            json["token_endpoint"] as? String
                == "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token")
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile]).status == 0)

        // New secret, rename, public.
        let newSecret = f.cli.run(["set", "adme", "--secret-stdin", "--key-file", f.keyFile], stdin: "second-secret\n")
        #expect(newSecret.status == 0, "\(newSecret)")
        #expect(f.cli.run(["set", "adme", "--rename", "adme-prod", "--key-file", f.keyFile]).status == 0)
        #expect(f.cli.run(["show", "adme-prod", "--verify", "--key-file", f.keyFile]).status == 0)
        #expect(f.cli.run(["show", "adme"]).status == 1)
        #expect(f.cli.run(["set", "adme-prod", "--public"]).status == 64, "dropping the secret asks first")
        #expect(f.cli.run(["set", "adme-prod", "--public", "--yes", "--key-file", f.keyFile]).status == 0)
        #expect(f.cli.run(["show", "adme-prod"]).stdout.contains("client secret  public"))
        let nothing = f.cli.run(["set", "adme-prod"])
        #expect(nothing.status == 64)
    }

    @Test func removeAsksUnlessYes() {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "x").status == 0)
        let refused = f.cli.run(["remove", "adme"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--yes"))
        #expect(f.cli.run(["remove", "adme", "--yes"]).status == 0)
        #expect(f.cli.run(["show", "adme"]).status == 1)
        #expect(f.cli.run(["remove", "adme", "--yes"]).status == 1)
    }

    @Test func unlockSourcesAndWrongPassphrase() {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "x").status == 0)
        let wrong = f.dir.write("wrong.txt", "not the passphrase\n")
        let r1 = f.cli.run(["show", "adme", "--verify", "--passphrase-file", wrong])
        #expect(r1.status == 4)
        #expect(r1.stderr.contains("wrong passphrase for vault"))
        let r2 = f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_PASSPHRASE": "nope"])
        #expect(r2.status == 4)
        #expect(f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_PASSPHRASE": Fixture.passphrase]).status == 0)
        #expect(
            f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_PASSPHRASE_FILE": f.passphraseFile]).status == 0)
        #expect(f.cli.run(["show", "adme", "--verify"], env: ["TOKVAULT_KEY_FILE": f.keyFile]).status == 0)
        // Flags come before the environment: a wrong flag is not rescued by a right variable.
        let flagFirst = f.cli.run(
            ["show", "adme", "--verify", "--passphrase-file", wrong], env: ["TOKVAULT_KEY_FILE": f.keyFile])
        #expect(flagFirst.status == 4)
        // No source and no terminal: exit 4 at once, no hang.
        let none = f.cli.run(["show", "adme", "--verify"])
        #expect(none.status == 4)
        #expect(none.stderr.contains("no terminal"))
        // A key file that belongs to another vault.
        let other = Fixture()
        let foreign = f.cli.run(["show", "adme", "--verify", "--key-file", other.keyFile])
        #expect(foreign.status == 4)
        #expect(foreign.stderr.contains("does not unlock"))
        let garbage = f.dir.write("garbage.key", "hello\n")
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", garbage]).status == 4)
    }

    @Test func passwdKeyfileAndRotateKey() {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "x").status == 0)
        let newPass = f.dir.write("new.txt", "a brand new passphrase\n")
        let passwd = f.cli.run([
            "passwd", "--passphrase-file", f.passphraseFile, "--new-passphrase-file", newPass, "--kdf-mem-mib", "8",
            "--kdf-ops", "1"
        ])
        #expect(passwd.status == 0, "\(passwd)")
        #expect(f.cli.run(["show", "adme", "--verify", "--passphrase-file", f.passphraseFile]).status == 4)
        #expect(f.cli.run(["show", "adme", "--verify", "--passphrase-file", newPass]).status == 0)
        let passwdNoSource = f.cli.run(["passwd", "--key-file", f.keyFile])
        #expect(passwdNoSource.status == 4, "no TTY and no new passphrase source: \(passwdNoSource)")

        let key2 = f.dir.file("second.key")
        #expect(f.cli.run(["keyfile", "create", key2, "--key-file", f.keyFile]).status == 0)
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", key2]).status == 0)
        #expect(
            f.cli.run(["keyfile", "create", key2, "--key-file", f.keyFile]).status == 1, "never overwrites a key file")

        // rotate-key refuses unless every slot is covered.
        let partial = f.cli.run(["rotate-key", "--key-file", f.keyFile])
        #expect(partial.status == 1)
        #expect(partial.stderr.contains("not supplied"))
        let full = f.cli.run(["rotate-key", "--key-file", f.keyFile, "--key-file", key2, "--passphrase-file", newPass])
        #expect(full.status == 0, "\(full)")
        #expect(full.stdout.contains("generation 2"))
        for source in [["--key-file", f.keyFile], ["--key-file", key2], ["--passphrase-file", newPass]] {
            #expect(f.cli.run(["show", "adme", "--verify"] + source).status == 0)
        }
        // --drop-other-slots removes the uncovered ones.
        let dropped = f.cli.run(["rotate-key", "--key-file", f.keyFile, "--drop-other-slots"])
        #expect(dropped.status == 0, "\(dropped)")
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", key2]).status == 4)
        #expect(f.cli.run(["show", "adme", "--verify", "--passphrase-file", newPass]).status == 4)
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile]).status == 0)
        // The last slot cannot be removed.
        let last = f.cli.run(["keyfile", "remove", f.keyFile, "--yes"])
        #expect(last.status == 1)
        #expect(last.stderr.contains("last key slot"))
    }

    @Test func backupVerifyRestore() throws {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "x").status == 0)
        let backupPath = f.dir.file("backup.db")
        let backup = f.cli.run(["backup", backupPath])
        #expect(backup.status == 0, "\(backup)")
        let attrs = try FileManager.default.attributesOfItem(atPath: backupPath)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect(f.cli.run(["backup", backupPath]).status == 1, "refuses to overwrite")
        let verify = f.cli.run(["backup", "--verify", backupPath, "--key-file", f.keyFile])
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stdout.contains("1 sealed field(s) open"))

        #expect(f.cli.run(["remove", "adme", "--yes"]).status == 0)
        #expect(f.cli.run(["restore", backupPath, "--key-file", f.keyFile]).status == 64, "asks without --yes")
        let restore = f.cli.run(["restore", backupPath, "--yes", "--key-file", f.keyFile])
        #expect(restore.status == 0, "\(restore)")
        #expect(restore.stdout.contains("pre-restore"))
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile]).status == 0)
        let saved = try FileManager.default.contentsOfDirectory(atPath: f.dir.file("vault"))
            .filter { $0.contains("pre-restore") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(saved.count == 1)

        // The backup is only read: byte for byte the same afterwards, no lock file beside it.
        let backupBytes = try Data(contentsOf: URL(fileURLWithPath: backupPath))
        #expect(f.cli.run(["backup", "--verify", backupPath, "--key-file", f.keyFile]).status == 0)
        #expect(f.cli.run(["restore", backupPath, "--yes", "--key-file", f.keyFile]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: backupPath)) == backupBytes)
        #expect(!FileManager.default.fileExists(atPath: backupPath + ".lock"))

        // A vault too damaged to open is still replaced, and kept aside as it was.
        let damaged = Data("this is no longer a vault".utf8)
        for suffix in ["-wal", "-shm"] { unlink(f.cli.vaultPath + suffix) }
        try damaged.write(to: URL(fileURLWithPath: f.cli.vaultPath))
        #expect(f.cli.run(["list"]).status == 5)
        let rescue = f.cli.run(["restore", backupPath, "--yes", "--key-file", f.keyFile])
        #expect(rescue.status == 0, "\(rescue)")
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile]).status == 0)
        let asides = try FileManager.default.contentsOfDirectory(atPath: f.dir.file("vault")).filter {
            $0.contains("pre-restore") && !$0.hasSuffix("-wal")
        }
        #expect(
            try asides.contains { try Data(contentsOf: URL(fileURLWithPath: f.dir.file("vault/" + $0))) == damaged })

        // A symlinked vault is restored where the link points.
        let real = f.dir.file("real.db")
        #expect(rename(f.cli.vaultPath, real) == 0)
        for suffix in ["-wal", "-shm"] { unlink(f.cli.vaultPath + suffix) }
        #expect(symlink(real, f.cli.vaultPath) == 0)
        let viaLink = f.cli.run(["restore", backupPath, "--yes", "--key-file", f.keyFile])
        #expect(viaLink.status == 0, "\(viaLink)")
        var st = stat()
        #expect(lstat(f.cli.vaultPath, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK)
        #expect(f.cli.run(["show", "adme", "--verify", "--key-file", f.keyFile]).status == 0)

        // A backup that does not unlock with the given key is not restored.
        let other = Fixture()
        let refused = f.cli.run(["restore", backupPath, "--yes", "--key-file", other.keyFile])
        #expect(refused.status == 4)
    }

    @Test func doctorAndLog() {
        let f = Fixture()
        #expect(f.addApp("adme", secret: "x").status == 0)
        let doctor = f.cli.run(["doctor"])
        #expect(doctor.status == 0, "\(doctor)")
        for needle in [
            "mode 600 ok", "schema", "integrity   ok", "key slot    passphrase", "key slot    keyfile",
            "adme: secret sealed", "result      ok"
        ] {
            #expect(doctor.stdout.contains(needle), "doctor lacks \(needle): \(doctor.stdout)")
        }
        let verify = f.cli.run(["doctor", "--verify", "--key-file", f.keyFile])
        #expect(verify.status == 0)
        #expect(verify.stdout.contains("1 sealed field(s) open"))

        let empty = CLI(TempDir()).run(["doctor"])
        #expect(empty.status == 0)
        #expect(empty.stdout.contains("no vault yet"))

        let log = f.cli.run(["log"])
        #expect(log.status == 0)
        #expect(log.stdout.contains("init"))
        #expect(log.stdout.contains("add-app"))
        let logJSON = f.cli.run(["log", "--json", "--app", "adme"])
        #expect(logJSON.stdout.contains("\"action\" : \"add-app\""))
        #expect(!logJSON.stdout.contains("\"action\" : \"init\""))
    }

    @Test func secretFromFileAndStdinRules() {
        let f = Fixture()
        let secretFile = f.dir.write("secret.txt", "file-secret\n")
        #expect(
            f.cli.run([
                "add-app", "a", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-file", secretFile,
                "--key-file", f.keyFile
            ]).status == 0)
        let twoLines = f.cli.run(
            [
                "add-app", "b", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file",
                f.keyFile
            ], stdin: "line1\nline2\n")
        #expect(twoLines.status == 64)
        #expect(twoLines.stderr.contains("line break"))
        #expect(!twoLines.stderr.contains("line1"))
        let empty = f.cli.run(
            [
                "add-app", "c", "--tenant", "t", "--client-id", Fixture.clientID, "--secret-stdin", "--key-file",
                f.keyFile
            ], stdin: "")
        #expect(empty.status == 64)
        let both = f.cli.run(
            ["add-app", "d", "--tenant", "t", "--client-id", Fixture.clientID, "--public", "--secret-stdin"], stdin: "x"
        )
        #expect(both.status == 64)
    }
}
