import ArgumentParser
import Foundation
import TokvaultFlow
import TokvaultVault

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the vault: path, permissions, schema, integrity, key slots, apps and token expiry.",
        discussion:
            "Needs no unlock and prints no secret. With --verify it also unlocks and opens every sealed field. Exits 1 when it finds a problem."
    )

    @Flag(name: .long, help: "Also unlock the vault and open every sealed field.")
    var verify = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let path = vaultOptions.path
        var problems = 0
        var warnings = 0
        func row(_ label: String, _ value: String) { print(Output.pad(label, 12) + Output.safe(value)) }
        func problem(_ label: String, _ value: String) {
            problems += 1
            row(label, "PROBLEM: " + value)
        }

        row("tokvault", Tokvault.version)
        row("vault", path)
        guard VaultFile.exists(path) else {
            row("status", "no vault yet; create one with `tokvault init`")
            return
        }
        let dir = VaultFile.directory(of: path)
        for (label, file) in [
            ("file", path), ("wal", path + "-wal"), ("shm", path + "-shm"), ("lock", path + ".lock"),
            ("gate", path + ".lock-gate"), ("slots", path + ".lock-slots")
        ] {
            guard let mode = VaultFile.mode(file) else { continue }
            let text = String(mode & 0o777, radix: 8)
            if mode & 0o077 != 0 {
                problem(label, "mode \(text): readable or writable by others; run `chmod 600 \(file)`")
            } else {
                row(label, "mode \(text) ok")
            }
        }
        if let mode = VaultFile.mode(dir) {
            let text = String(mode & 0o777, radix: 8)
            if mode & 0o022 != 0 && mode & 0o1000 == 0 {
                problem("directory", "\(dir) mode \(text): others can replace the vault; run `chmod 700 \(dir)`")
            } else {
                row("directory", "\(dir) mode \(text)\(mode & 0o077 == 0 ? " ok" : "")")
            }
        }
        let vault: Vault
        do {
            vault = try Vault.open(path: path)
        } catch let error as VaultError {
            problem("open", error.message)
            throw ExitCode(Failure.exitCode(error.kind))
        }
        let summary = try vault.summary()
        let known = Vault.knownMigrations
        row(
            "schema",
            "format \(summary.formatVersion), migrations \(summary.appliedMigrations.last ?? "none")"
                + (summary.appliedMigrations == known
                    ? " (up to date)" : " (this tokvault knows \(known.last ?? "none"))"))
        let integrity = try vault.integrityCheck()
        if integrity == ["ok"] {
            row("integrity", "ok")
        } else {
            problem("integrity", integrity.prefix(3).joined(separator: "; "))
        }
        row("vault id", summary.vaultID)
        row(
            "data key",
            "generation \(summary.keyGeneration), created \(Output.isoTime(summary.createdAt))"
                + (summary.rotatedAt.map { ", rotated \(Output.isoTime($0))" } ?? ", never rotated"))
        let slots = try vault.keySlots()
        if slots.isEmpty { problem("key slots", "none: the vault cannot be unlocked") }
        for slot in slots {
            var text =
                slot.kind == .passphrase
                ? "passphrase (\(slot.kdfParameters?.description ?? "?"))" : "keyfile \(slot.keyfileFingerprint ?? "?")"
            if slot.keyGeneration != summary.keyGeneration {
                text += " [stale generation \(slot.keyGeneration)]"
                problems += 1
            }
            if let p = slot.kdfParameters, !p.isWithinBounds {
                text += " [KDF parameters out of range]"
                problems += 1
            }
            row("key slot", text)
        }
        let now = Int64(Date().timeIntervalSince1970)
        var appLines: [String] = []
        try vault.forEachAppState { app, session, tokens in
            let view = AppView(app, session: session, tokens: tokens)
            var text = "\(app.name): secret \(view.secretSummary), "
            text += view.hasRefreshToken ? "refresh token present" : "not signed in"
            if let account = view.signedInAs { text += " (\(account))" }
            for token in view.accessTokens {
                text += "; access token \(token.expired ? "expired" : "expires") \(Output.relative(token.expiresOn))"
            }
            if !app.hasCredential {
                text +=
                    app.usesCertificate
                    ? " [no certificate key: `tokvault set \(app.name) --certificate CERT.pem --private-key-file KEY.pem`]"
                    : " [no client secret: `tokvault set \(app.name) --secret-prompt`]"
                problems += 1
            }
            if let certificate = view.certificate {
                if certificate.daysLeft < 0 {
                    text +=
                        " [certificate expired \(certificate.notAfter): upload a new one and `tokvault set \(app.name) --certificate …`]"
                    problems += 1
                } else if certificate.daysLeft < 30 {
                    text += " [warning: certificate expires in \(certificate.daysLeft) day(s), \(certificate.notAfter)]"
                    warnings += 1
                }
            }
            if let problem = view.certificateError {
                text += " [\(problem)]"
                problems += 1
            }
            if let refresh = view.refreshToken {
                let age = RefreshTokenAge.findings(refresh, app: app, now: now)
                for finding in age {
                    text += " [\(finding.text)]"
                    if finding.isProblem { problems += 1 } else { warnings += 1 }
                }
            }
            if app.federatedSource == .file, let path = app.federatedTokenFile {
                do {
                    let assertion = try FederatedAssertion.read(file: path)
                    if let exp = assertion.claims.exp, exp <= now {
                        text +=
                            " [warning: the federated token in \(path) expired \(Output.relative(exp)); the platform should replace it]"
                        warnings += 1
                    }
                } catch let error as FlowError {
                    text += " [warning: \(error.message)]"
                    warnings += 1
                }
            }
            appLines.append(text)
        }
        if let unlocked = try VaultOptions.sessionKey(of: vault) {
            row("unlocked", "until \(unlocked.untilText)")
        }
        row("apps", "\(appLines.count)")
        for text in appLines { row("  app", text) }
        if verify {
            let key = try vaultOptions.unlock(vault)
            row("verify", "\(try vault.verifyAllSealedFields(key: key)) sealed field(s) open")
        }
        if problems > 0 {
            row("result", "\(problems) problem(s)")
            throw ExitCode(1)
        }
        row("result", warnings > 0 ? "ok, \(warnings) warning(s)" : "ok")
    }
}
