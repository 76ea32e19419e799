import Foundation
import TokvaultFakeIdP

/// A vault with one confidential Azure app pointed at a running fake provider, and the
/// scripted browser (Support/scripted-browser.py) that signs in there as $BROWSER.
struct LoginSetup {
    static let clientID = "0b6a2f1e-1111-4c4c-9a9a-123456789abc"
    static let clientSecret = "fake-client-secret-CANARY-9d1"
    static let browser: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("scripted-browser.py").path

    let f = Fixture()
    let idp: FakeIdentityProvider
    var cli: CLI { f.cli }

    init(
        accessTokenLifetime: Int = 3600, codeLifetime: Int = 600, redirectURI: String = "http://localhost:0/callback",
        publicClient: Bool = false
    ) throws {
        var config = FakeIdPConfiguration(clients: [
            FakeClient(
                clientID: LoginSetup.clientID, clientSecret: publicClient ? nil : LoginSetup.clientSecret,
                redirectURIs: ["http://localhost/callback"])
        ])
        config.accessTokenLifetime = accessTokenLifetime
        config.codeLifetime = codeLifetime
        idp = FakeIdentityProvider(config)
        _ = try idp.start()
        var args = [
            "add-app", "adme", "--tenant", config.tenant, "--client-id", LoginSetup.clientID,
            "--authority-host", idp.baseURL, "--redirect-uri", redirectURI, "--key-file", f.keyFile
        ]
        args += publicClient ? ["--public"] : ["--secret-stdin"]
        let add = f.cli.run(args, stdin: publicClient ? nil : LoginSetup.clientSecret + "\n")
        precondition(add.status == 0, "add-app failed: \(add)")
    }

    /// `tokvault login adme` with the scripted browser in `mode`.
    func login(_ extra: [String] = [], mode: String = "normal") -> CLI.Result {
        cli.run(
            ["login", "adme", "--key-file", f.keyFile, "--port", "0"] + extra,
            env: ["BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": mode])
    }

    func token(_ extra: [String] = []) -> CLI.Result {
        cli.run(["token", "adme", "--key-file", f.keyFile] + extra)
    }

    /// Makes the cached access token expire, as time would (expires_at is a public column).
    func expireCachedToken() throws {
        try editVault(cli.vaultPath) { db in
            try db.execute(
                sql: "UPDATE access_token SET expires_at = ?", arguments: [Int64(Date().timeIntervalSince1970) - 1])
        }
    }
}
