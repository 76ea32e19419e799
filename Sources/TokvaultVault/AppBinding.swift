/// The app binding of vault formats 2 and 3 (docs/vault-format.md §5.4): a keyed MAC over every column
/// of an app that decides where its secrets, tokens and sign-in go. The columns stay plain (so
/// `list` and `show` need no key); anyone who edits one in the file without the data key makes
/// the MAC fail, and every command that would send, open or print something for the app stops.
package enum AppBinding {
    /// Label of the MAC key derived from the data key (BLAKE2b keyed with the data key).
    static let keyLabel = "tokvault app binding key v2"
    static let length = 32

    /// The bound columns, in order, as `AssociatedData` fields. A NULL column is left out (the
    /// field names keep the encoding unambiguous). A later column that steers a secret or a token
    /// joins this list under a new format version.
    /// Format 3 adds `api_base` and `request_headers`; they are listed for format 2 too, so that
    /// either set in a format 2 vault (whose schema has the columns once migration 0005 ran, before
    /// the upgrade) makes its format 2 binding fail instead of going unauthenticated.
    /// Migration 0006's federated-credential and client-capability columns follow them within
    /// format 3: a NULL column is not in the message, so they needed no new version.
    package static func fields(of app: App, vaultID: String, generation: Int64, format: Int) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("tokvault", "app-binding"),
            ("version", format >= 3 ? "3" : "2"),
            ("generation", String(generation)),
            ("vault", vaultID),
            ("app", app.id),
            ("name", app.name),
            ("provider", app.provider.rawValue)
        ]
        func add(_ name: String, _ value: String?) { if let value { fields.append((name, value)) } }
        add("tenant", app.tenant)
        add("cloud", app.cloud)
        add("authority_host", app.authorityHost)
        add("client_id", app.clientID)
        add("authorize_endpoint", app.authorizeEndpoint)
        add("token_endpoint", app.tokenEndpoint)
        add("device_endpoint", app.deviceEndpoint)
        add("redirect_uri", app.redirectURI)
        add("scope", app.scope)
        add("flow", app.flow)
        add("client_auth", app.clientAuth.rawValue)
        add("issuer", app.issuer)
        add("certificate", app.certificate.map { Sodium.hex([UInt8]($0)) })
        add("assertion_alg", app.assertionAlg?.rawValue)
        add("api_base", app.apiBase)
        add("request_headers", app.requestHeaders)
        // Migration 0006's columns, bound when set (NULL in every app written before them, so
        // those apps' bindings are unchanged); set below format 3, `verifyBinding` refuses them.
        add("federated_source", app.federatedSource?.rawValue)
        add("federated_token_file", app.federatedTokenFile)
        add("federated_audience", app.federatedAudience)
        add("client_capabilities", app.clientCapabilities)
        return fields
    }

    /// The MAC of `app`'s bound columns under `key`.
    package static func mac(of app: App, key: DataKey) -> [UInt8] {
        let message = AssociatedData.encode(
            fields(of: app, vaultID: key.vaultID, generation: key.generation, format: key.formatVersion))
        return Sodium.keyedHash(key: key.bindingKey, message: message, length: length).withUnsafeBytes { [UInt8]($0) }
    }

    /// Whether `app.binding` is the MAC of its columns (constant-time).
    package static func holds(for app: App, key: DataKey) -> Bool {
        guard let stored = app.binding, stored.count == length else { return false }
        return Sodium.constantTimeEquals([UInt8](stored), mac(of: app, key: key))
    }
}
