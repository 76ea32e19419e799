import ArgumentParser
import Foundation
import TokvaultFlow
import TokvaultVault

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one app's registration and token state (no unlock needed; never prints a secret).")

    @Argument(help: "App name.", completion: AppNameCompletion.kind)
    var name: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Flag(name: .long, help: "Unlock the vault and check that every sealed field of the app opens.")
    var verify = false

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        let vault = try vaultOptions.open()
        let (app, session, tokens) = try vault.appState(named: name)
        let view = AppView(app, session: session, tokens: tokens)
        var verified: Int?
        if verify {
            let key = try vaultOptions.unlock(vault)
            verified = try vault.verifySealedFields(of: app, key: key)
        }
        if json {
            print(try Output.json(view))
            return
        }
        var rows: [(String, String)] = [
            ("name", view.name),
            ("provider", view.provider)
        ]
        if let tenant = view.tenant { rows.append(("tenant", tenant)) }
        if let cloud = view.cloud { rows.append(("cloud", cloud)) }
        if let host = view.authorityHost { rows.append(("authority host", host)) }
        rows += [
            ("client id", view.clientID),
            ("authorize", view.authorizeEndpoint),
            ("token", view.tokenEndpoint)
        ]
        if let device = view.deviceEndpoint { rows.append(("device code", device)) }
        if let issuer = view.issuer { rows.append(("issuer", issuer)) }
        rows += [
            ("redirect uri", view.redirectURI),
            ("scope", view.scope),
            ("flow", view.flow),
            ("client auth", view.clientAuth),
            (
                view.certificate == nil && view.certificateError == nil && view.federated == nil
                    ? "client secret" : "credential",
                view.secretSummary
            )
        ]
        if let federated = view.federated {
            if let file = federated.tokenFile { rows.append(("  token file", file)) }
            if federated.source == "github-actions" {
                rows.append(
                    (
                        "  audience",
                        FederatedAssertion.audience(for: app) + (federated.audience == nil ? " (default)" : "")
                    ))
            }
        }
        if !view.clientCapabilities.isEmpty {
            rows.append(("capabilities", view.clientCapabilities.joined(separator: " ")))
        }
        if let certificate = view.certificate {
            let state = certificate.daysLeft < 0 ? "EXPIRED" : "\(certificate.daysLeft) days left"
            rows += [
                ("certificate", certificate.subject),
                ("  sha1 thumbprint", certificate.sha1Thumbprint),
                ("  sha256", certificate.sha256Thumbprint),
                ("  valid", "\(certificate.notBefore) – \(certificate.notAfter) (\(state))"),
                (
                    "  assertion",
                    "\(certificate.assertionAlg) (\(certificate.assertionAlg == "PS256" ? "x5t#S256" : "x5t") header)"
                )
            ]
        }
        if let problem = view.certificateError { rows.append(("certificate", problem)) }
        rows += [
            ("signed in as", view.signedInAs ?? "-"),
            ("refresh token", view.hasRefreshToken ? "present" : "none"),
            ("last refresh", view.lastRefresh ?? "-")
        ]
        if let refresh = view.refreshToken {
            rows.append(("  issued", refresh.issuedAt ?? "unknown (stored before tokvault recorded it, or imported)"))
            rows.append(("  inactive", "\(refresh.inactiveDays) day(s) since last used"))
            if let expires = refresh.expiresAt, let epoch = refresh.expiresOn {
                rows.append(("  expires", "\(expires) (\(Output.relative(epoch)))"))
            }
            if let refused = refresh.refusedAt {
                rows.append(("  REFUSED", "\(refused): \(refresh.refusal ?? "refused") (sign in again)"))
            }
        }
        for token in view.accessTokens {
            rows.append(
                ("access token", "\(token.scope): expires \(token.expiresAt) (\(Output.relative(token.expiresOn)))"))
        }
        if let base = view.apiBase { rows.append(("api base", base)) }
        for header in view.requestHeaders { rows.append(("header", header)) }
        rows += [("created", view.createdAt), ("updated", view.updatedAt)]
        if let verified { rows.append(("verified", "\(verified) sealed field(s) open with this key")) }
        if let unlocked = try VaultOptions.sessionKey(of: vault) {
            rows.append(("vault", "unlocked until \(unlocked.untilText)"))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (label, value) in rows {
            print(Output.pad(label, width) + "  " + Output.safe(value))
        }
    }
}
