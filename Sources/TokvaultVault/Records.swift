import Foundation
import GRDB

/// The single `vault` row.
struct VaultRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "vault"
    var singleton: Int = 1
    var vaultId: String
    var formatVersion: Int
    var keyGeneration: Int64
    var createdAt: Int64
    var rotatedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case singleton
        case vaultId = "vault_id"
        case formatVersion = "format_version"
        case keyGeneration = "key_generation"
        case createdAt = "created_at"
        case rotatedAt = "rotated_at"
    }
}

/// An app registration. Every column but `client_secret` and `private_key` is public.
package struct App: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable, Equatable {
    package static let databaseTableName = "app"

    package enum Provider: String, Codable, Sendable { case azure, oauth }
    package enum ClientAuth: String, Codable, Sendable, CaseIterable {
        case post = "client_secret_post"
        case basic = "client_secret_basic"
        /// A client assertion JWT signed with the private key of a registered certificate.
        case privateKeyJWT = "private_key_jwt"
        /// A client assertion the app's platform issued (workload identity federation): no
        /// secret is stored, the assertion is fetched for every grant (`federatedSource`).
        case federatedAssertion = "federated_assertion"
        case none = "none"
    }

    /// Where a federated app's client assertion comes from.
    package enum FederatedSource: String, Codable, Sendable, CaseIterable {
        /// A file read afresh for every grant (a Kubernetes projected service account token).
        case file = "file"
        /// GitHub Actions' OIDC token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`).
        case githubActions = "github-actions"
    }

    /// How the app gets tokens: a user's sign-in (then refresh tokens), or as itself.
    package enum Flow: String, Codable, Sendable, CaseIterable {
        case authorizationCode = "authorization_code"
        case clientCredentials = "client_credentials"
    }

    /// JWS algorithm of the client assertion: PS256 (x5t#S256 header) or RS256 (x5t, SHA-1).
    package enum AssertionAlgorithm: String, Codable, Sendable, CaseIterable {
        case ps256 = "PS256"
        case rs256 = "RS256"
    }

    package var id: String
    package var name: String
    package var provider: Provider
    package var tenant: String?
    package var cloud: String?
    package var authorityHost: String?
    package var clientID: String
    package var authorizeEndpoint: String
    package var tokenEndpoint: String
    package var deviceEndpoint: String?
    package var redirectURI: String
    package var scope: String
    package var flow: String
    package var clientAuth: ClientAuth
    package var clientSecret: Data?
    package var createdAt: Int64
    package var updatedAt: Int64
    /// The OpenID Connect issuer, for apps added by discovery.
    package var issuer: String? = nil
    /// X.509 DER of the certificate whose key signs client assertions (public).
    package var certificate: Data? = nil
    /// The certificate's RSA private key, sealed (DER).
    package var privateKey: Data? = nil
    package var assertionAlg: AssertionAlgorithm? = nil
    /// Format 2: the MAC of the columns above that steer secrets and sign-ins (`AppBinding`).
    package var binding: Data? = nil
    /// Format 3: the base URL `tokvault curl` resolves relative paths against (and the only
    /// origin it sends the token to unless told otherwise).
    package var apiBase: String? = nil
    /// Format 3: headers `tokvault curl` sends with every request, one `Name: value` per line.
    package var requestHeaders: String? = nil
    /// Federated apps: where the client assertion comes from, the file it is read from (an
    /// absolute path, not resolved: Kubernetes swaps a `..data` symlink to rotate it), and
    /// the audience asked of GitHub's OIDC endpoint (nil: the cloud's default).
    package var federatedSource: FederatedSource? = nil
    package var federatedTokenFile: String? = nil
    package var federatedAudience: String? = nil
    /// Client capabilities declared on every request (`cp1`: continuous access evaluation).
    package var clientCapabilities: String? = nil

    package init(
        id: String, name: String, provider: Provider, tenant: String?, cloud: String?, authorityHost: String?,
        clientID: String, authorizeEndpoint: String, tokenEndpoint: String, deviceEndpoint: String?,
        redirectURI: String, scope: String, flow: String, clientAuth: ClientAuth, clientSecret: Data?,
        createdAt: Int64, updatedAt: Int64, issuer: String? = nil, certificate: Data? = nil,
        privateKey: Data? = nil, assertionAlg: AssertionAlgorithm? = nil, binding: Data? = nil
    ) {
        self.id = id
        self.name = name
        self.provider = provider
        self.tenant = tenant
        self.cloud = cloud
        self.authorityHost = authorityHost
        self.clientID = clientID
        self.authorizeEndpoint = authorizeEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.deviceEndpoint = deviceEndpoint
        self.redirectURI = redirectURI
        self.scope = scope
        self.flow = flow
        self.clientAuth = clientAuth
        self.clientSecret = clientSecret
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.issuer = issuer
        self.certificate = certificate
        self.privateKey = privateKey
        self.assertionAlg = assertionAlg
        self.binding = binding
    }

    enum CodingKeys: String, CodingKey {
        case id, name, provider, tenant, cloud, scope, flow, issuer
        case authorityHost = "authority_host"
        case clientID = "client_id"
        case authorizeEndpoint = "authorize_endpoint"
        case tokenEndpoint = "token_endpoint"
        case deviceEndpoint = "device_endpoint"
        case redirectURI = "redirect_uri"
        case clientAuth = "client_auth"
        case clientSecret = "client_secret"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case certificate
        case privateKey = "private_key"
        case assertionAlg = "assertion_alg"
        case binding
        case apiBase = "api_base"
        case requestHeaders = "request_headers"
        case federatedSource = "federated_source"
        case federatedTokenFile = "federated_token_file"
        case federatedAudience = "federated_audience"
        case clientCapabilities = "client_capabilities"
    }

    package var flowKind: Flow { Flow(rawValue: flow) ?? .authorizationCode }
    package var usesClientCredentialsFlow: Bool { flowKind == .clientCredentials }
    package var usesCertificate: Bool { clientAuth == .privateKeyJWT }
    package var usesFederatedCredential: Bool { clientAuth == .federatedAssertion }
    package var hasPrivateKey: Bool { privateKey != nil }
    /// Has what its client authentication needs (a secret, or a certificate's key).
    package var hasCredential: Bool {
        switch clientAuth {
        case .none: return true
        case .privateKeyJWT: return privateKey != nil && certificate != nil
        case .federatedAssertion: return federatedSource != nil
        case .post, .basic: return clientSecret != nil
        }
    }

    package var isPublicClient: Bool { clientAuth == .none }

    /// Holds a column or value no vault below format 3 was ever written with.
    package var hasFormat3Columns: Bool {
        apiBase != nil || requestHeaders != nil || federatedSource != nil || federatedTokenFile != nil
            || federatedAudience != nil || clientCapabilities != nil || clientAuth == .federatedAssertion
    }

    /// The same app with the same columns, but for what a rotation or upgrade re-seals (the
    /// sealed columns and the binding) and the timestamps.
    package func steersLike(_ other: App) -> Bool {
        var (a, b) = (self, other)
        (a.clientSecret, a.privateKey, a.binding, a.updatedAt) = (nil, nil, nil, 0)
        (b.clientSecret, b.privateKey, b.binding, b.updatedAt) = (nil, nil, nil, 0)
        return a == b
    }
    package var hasClientSecret: Bool { clientSecret != nil }

    /// Whether tokens obtained for `other` still belong to this row: the same client at the
    /// same token endpoint, in the same flow, and not made a public client since. This is what
    /// `set` keeps an app's sign-in across; a change of scope, name or secret keeps it.
    package func keepsTokens(of other: App) -> Bool {
        id == other.id && clientID == other.clientID && tokenEndpoint == other.tokenEndpoint && flow == other.flow
            && !(clientAuth == .none && other.clientAuth != .none)
    }

    /// Where a sealed field of this app lives, for its AAD.
    func place(table: String, column: String, row: String, scopeKey: String = "") -> SealedFieldPlace {
        SealedFieldPlace(
            table: table, column: column, row: row, app: id, clientID: clientID, tokenEndpoint: tokenEndpoint,
            binding: binding.map { [UInt8]($0) } ?? [], scopeKey: scopeKey)
    }

    func accessTokenPlace(_ record: AccessToken) -> SealedFieldPlace {
        place(table: "access_token", column: "token", row: record.id, scopeKey: record.scopeKey)
    }

    var clientSecretPlace: SealedFieldPlace { place(table: "app", column: "client_secret", row: id) }
    var privateKeyPlace: SealedFieldPlace { place(table: "app", column: "private_key", row: id) }
}

/// A user's sign-in for an app: refresh and ID tokens (sealed) and who signed in (public).
package struct Session: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable, Equatable {
    package static let databaseTableName = "session"
    package var id: String
    package var appID: String
    package var refreshToken: Data?
    package var idToken: Data?
    package var account: String?
    package var grantedScope: String?
    package var obtainedAt: Int64
    package var refreshedAt: Int64?
    /// When the stored refresh token arrived (nil: before this was recorded).
    package var refreshIssuedAt: Int64? = nil
    /// When the provider said it expires (`refresh_expires_in`), where it says so.
    package var refreshExpiresAt: Int64? = nil
    /// The last refresh the server refused, and its error code (public: never a token).
    package var refreshRefusedAt: Int64? = nil
    package var refreshRefusal: String? = nil

    package init(
        id: String, appID: String, refreshToken: Data?, idToken: Data?, account: String?, grantedScope: String?,
        obtainedAt: Int64, refreshedAt: Int64?
    ) {
        (self.id, self.appID, self.refreshToken, self.idToken) = (id, appID, refreshToken, idToken)
        (self.account, self.grantedScope, self.obtainedAt, self.refreshedAt) =
            (account, grantedScope, obtainedAt, refreshedAt)
    }

    /// When the refresh token was last used or, if never, issued: what an inactivity limit
    /// (Entra ID: 90 days) counts from.
    package var refreshLastActive: Int64 { max(refreshedAt ?? 0, refreshIssuedAt ?? 0, obtainedAt) }

    enum CodingKeys: String, CodingKey {
        case id, account
        case appID = "app_id"
        case refreshToken = "refresh_token"
        case idToken = "id_token"
        case grantedScope = "granted_scope"
        case obtainedAt = "obtained_at"
        case refreshedAt = "refreshed_at"
        case refreshIssuedAt = "refresh_issued_at"
        case refreshExpiresAt = "refresh_expires_at"
        case refreshRefusedAt = "refresh_refused_at"
        case refreshRefusal = "refresh_refusal"
    }
}

/// A cached access token for one app and scope.
package struct AccessToken: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable, Equatable {
    package static let databaseTableName = "access_token"
    package var id: String
    package var appID: String
    package var scopeKey: String
    package var token: Data
    package var tokenType: String
    package var grantedScope: String?
    package var expiresAt: Int64
    package var obtainedAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, token
        case appID = "app_id"
        case scopeKey = "scope_key"
        case tokenType = "token_type"
        case grantedScope = "granted_scope"
        case expiresAt = "expires_at"
        case obtainedAt = "obtained_at"
    }
}

/// An audit event. `detail` never holds a secret.
package struct Event: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    package static let databaseTableName = "event"
    package var id: Int64?
    package var at: Int64
    package var action: String
    package var app: String?
    package var detail: String

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

// Row decoding written out: Codable's decoder costs more than the query on the
// `show`/`list` path (generic metadata and conformance lookups at first use). Writes keep
// using the Codable encoding.

/// Where each column of `app` sits in a statement's rows, looked up once per statement: by
/// name, GRDB searches the columns for every cell, a tenth of `list` at 10,000 apps.
struct AppColumns {
    let id: Int, name: Int, provider: Int, tenant: Int, cloud: Int, authorityHost: Int, clientID: Int
    let authorizeEndpoint: Int, tokenEndpoint: Int, deviceEndpoint: Int, redirectURI: Int, scope: Int, flow: Int
    let clientAuth: Int, clientSecret: Int, createdAt: Int, updatedAt: Int
    // Columns of later migrations; absent in an older vault opened read-only (a backup).
    let issuer: Int?, certificate: Int?, privateKey: Int?, assertionAlg: Int?, binding: Int?
    let apiBase: Int?, requestHeaders: Int?
    let federatedSource: Int?, federatedTokenFile: Int?, federatedAudience: Int?, clientCapabilities: Int?

    init?(_ names: [String]) {
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
        guard let id = index["id"], let name = index["name"], let provider = index["provider"],
            let tenant = index["tenant"], let cloud = index["cloud"], let authorityHost = index["authority_host"],
            let clientID = index["client_id"], let authorizeEndpoint = index["authorize_endpoint"],
            let tokenEndpoint = index["token_endpoint"], let deviceEndpoint = index["device_endpoint"],
            let redirectURI = index["redirect_uri"], let scope = index["scope"], let flow = index["flow"],
            let clientAuth = index["client_auth"], let clientSecret = index["client_secret"],
            let createdAt = index["created_at"], let updatedAt = index["updated_at"]
        else { return nil }
        (self.id, self.name, self.provider, self.tenant, self.cloud) = (id, name, provider, tenant, cloud)
        (self.authorityHost, self.clientID, self.authorizeEndpoint) = (authorityHost, clientID, authorizeEndpoint)
        (self.tokenEndpoint, self.deviceEndpoint, self.redirectURI) = (tokenEndpoint, deviceEndpoint, redirectURI)
        (self.scope, self.flow, self.clientAuth, self.clientSecret) = (scope, flow, clientAuth, clientSecret)
        (self.createdAt, self.updatedAt) = (createdAt, updatedAt)
        (issuer, certificate, privateKey) = (index["issuer"], index["certificate"], index["private_key"])
        (assertionAlg, binding) = (index["assertion_alg"], index["binding"])
        (apiBase, requestHeaders) = (index["api_base"], index["request_headers"])
        (federatedSource, federatedTokenFile) = (index["federated_source"], index["federated_token_file"])
        (federatedAudience, clientCapabilities) = (index["federated_audience"], index["client_capabilities"])
    }
}

extension App {
    /// Decodes with the column positions found once (a statement's rows share them).
    init(row: Row, columns c: AppColumns) {
        id = row[c.id]
        name = row[c.name]
        provider = Provider(rawValue: row[c.provider] ?? "") ?? .oauth
        tenant = row[c.tenant]
        cloud = row[c.cloud]
        authorityHost = row[c.authorityHost]
        clientID = row[c.clientID]
        authorizeEndpoint = row[c.authorizeEndpoint]
        tokenEndpoint = row[c.tokenEndpoint]
        deviceEndpoint = row[c.deviceEndpoint]
        redirectURI = row[c.redirectURI]
        scope = row[c.scope]
        flow = row[c.flow]
        clientAuth = ClientAuth(rawValue: row[c.clientAuth] ?? "") ?? .post
        clientSecret = row[c.clientSecret]
        createdAt = row[c.createdAt]
        updatedAt = row[c.updatedAt]
        issuer = c.issuer.flatMap { row[$0] }
        certificate = c.certificate.flatMap { row[$0] }
        privateKey = c.privateKey.flatMap { row[$0] }
        assertionAlg = c.assertionAlg.flatMap { (row[$0] as String?).flatMap(AssertionAlgorithm.init(rawValue:)) }
        binding = c.binding.flatMap { row[$0] }
        apiBase = c.apiBase.flatMap { row[$0] }
        requestHeaders = c.requestHeaders.flatMap { row[$0] }
        federatedSource = c.federatedSource.flatMap {
            (row[$0] as String?).flatMap(FederatedSource.init(rawValue:))
        }
        federatedTokenFile = c.federatedTokenFile.flatMap { row[$0] }
        federatedAudience = c.federatedAudience.flatMap { row[$0] }
        clientCapabilities = c.clientCapabilities.flatMap { row[$0] }
    }

    package init(row: Row) throws {
        guard let columns = AppColumns(Array(row.columnNames)) else {
            throw VaultError.damaged("the app table lacks a column every tokvault vault has")
        }
        self.init(row: row, columns: columns)
    }
}

extension Session {
    package init(row: Row) throws {
        id = row["id"]
        appID = row["app_id"]
        refreshToken = row["refresh_token"]
        idToken = row["id_token"]
        account = row["account"]
        grantedScope = row["granted_scope"]
        obtainedAt = row["obtained_at"]
        refreshedAt = row["refreshed_at"]
        // Columns of 0006; absent in an older vault opened read-only (a backup).
        if row.hasColumn("refresh_issued_at") {
            refreshIssuedAt = row["refresh_issued_at"]
            refreshExpiresAt = row["refresh_expires_at"]
            refreshRefusedAt = row["refresh_refused_at"]
            refreshRefusal = row["refresh_refusal"]
        }
    }
}

extension AccessToken {
    package init(row: Row) throws {
        id = row["id"]
        appID = row["app_id"]
        scopeKey = row["scope_key"]
        token = row["token"]
        tokenType = row["token_type"]
        grantedScope = row["granted_scope"]
        expiresAt = row["expires_at"]
        obtainedAt = row["obtained_at"]
    }
}

extension VaultRow {
    init(row: Row) throws {
        singleton = row["singleton"]
        vaultId = row["vault_id"]
        formatVersion = row["format_version"]
        keyGeneration = row["key_generation"]
        createdAt = row["created_at"]
        rotatedAt = row["rotated_at"]
    }
}

extension Event {
    package init(row: Row) throws {
        id = row["id"]
        at = row["at"]
        action = row["action"]
        app = row["app"]
        detail = row["detail"]
    }
}
