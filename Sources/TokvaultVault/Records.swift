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
public struct App: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable, Equatable {
    public static let databaseTableName = "app"

    public enum Provider: String, Codable, Sendable { case azure, oauth }
    public enum ClientAuth: String, Codable, Sendable, CaseIterable {
        case post = "client_secret_post"
        case basic = "client_secret_basic"
        /// A client assertion JWT signed with the private key of a registered certificate.
        case privateKeyJWT = "private_key_jwt"
        case none = "none"
    }

    /// How the app gets tokens: a user's sign-in (then refresh tokens), or as itself.
    public enum Flow: String, Codable, Sendable, CaseIterable {
        case authorizationCode = "authorization_code"
        case clientCredentials = "client_credentials"
    }

    /// JWS algorithm of the client assertion: PS256 (x5t#S256 header) or RS256 (x5t, SHA-1).
    public enum AssertionAlgorithm: String, Codable, Sendable, CaseIterable {
        case ps256 = "PS256"
        case rs256 = "RS256"
    }

    public var id: String
    public var name: String
    public var provider: Provider
    public var tenant: String?
    public var cloud: String?
    public var authorityHost: String?
    public var clientID: String
    public var authorizeEndpoint: String
    public var tokenEndpoint: String
    public var deviceEndpoint: String?
    public var redirectURI: String
    public var scope: String
    public var flow: String
    public var clientAuth: ClientAuth
    public var clientSecret: Data?
    public var createdAt: Int64
    public var updatedAt: Int64
    /// The OpenID Connect issuer, for apps added by discovery.
    public var issuer: String? = nil
    /// X.509 DER of the certificate whose key signs client assertions (public).
    public var certificate: Data? = nil
    /// The certificate's RSA private key, sealed (DER).
    public var privateKey: Data? = nil
    public var assertionAlg: AssertionAlgorithm? = nil
    /// Format 2: the MAC of the columns above that steer secrets and sign-ins (`AppBinding`).
    public var binding: Data? = nil

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
    }

    public var flowKind: Flow { Flow(rawValue: flow) ?? .authorizationCode }
    public var usesClientCredentialsFlow: Bool { flowKind == .clientCredentials }
    public var usesCertificate: Bool { clientAuth == .privateKeyJWT }
    public var hasPrivateKey: Bool { privateKey != nil }
    /// Has what its client authentication needs (a secret, or a certificate's key).
    public var hasCredential: Bool {
        switch clientAuth {
        case .none: return true
        case .privateKeyJWT: return privateKey != nil && certificate != nil
        case .post, .basic: return clientSecret != nil
        }
    }

    public var isPublicClient: Bool { clientAuth == .none }

    /// The same app with the same columns, but for what a rotation or upgrade re-seals (the
    /// sealed columns and the binding) and the timestamps.
    public func steersLike(_ other: App) -> Bool {
        var (a, b) = (self, other)
        (a.clientSecret, a.privateKey, a.binding, a.updatedAt) = (nil, nil, nil, 0)
        (b.clientSecret, b.privateKey, b.binding, b.updatedAt) = (nil, nil, nil, 0)
        return a == b
    }
    public var hasClientSecret: Bool { clientSecret != nil }

    /// Where a sealed field of this app lives, for its AAD.
    func place(table: String, column: String, row: String, scopeKey: String = "") -> SealedFieldPlace {
        SealedFieldPlace(table: table, column: column, row: row, app: id, clientID: clientID, tokenEndpoint: tokenEndpoint,
                         binding: binding.map { [UInt8]($0) } ?? [], scopeKey: scopeKey)
    }

    func accessTokenPlace(_ record: AccessToken) -> SealedFieldPlace {
        place(table: "access_token", column: "token", row: record.id, scopeKey: record.scopeKey)
    }

    var clientSecretPlace: SealedFieldPlace { place(table: "app", column: "client_secret", row: id) }
    var privateKeyPlace: SealedFieldPlace { place(table: "app", column: "private_key", row: id) }
}

/// A user's sign-in for an app: refresh and ID tokens (sealed) and who signed in (public).
public struct Session: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable, Equatable {
    public static let databaseTableName = "session"
    public var id: String
    public var appID: String
    public var refreshToken: Data?
    public var idToken: Data?
    public var account: String?
    public var grantedScope: String?
    public var obtainedAt: Int64
    public var refreshedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, account
        case appID = "app_id"
        case refreshToken = "refresh_token"
        case idToken = "id_token"
        case grantedScope = "granted_scope"
        case obtainedAt = "obtained_at"
        case refreshedAt = "refreshed_at"
    }
}

/// A cached access token for one app and scope.
public struct AccessToken: Codable, FetchableRecord, PersistableRecord, Sendable, Identifiable, Equatable {
    public static let databaseTableName = "access_token"
    public var id: String
    public var appID: String
    public var scopeKey: String
    public var token: Data
    public var tokenType: String
    public var grantedScope: String?
    public var expiresAt: Int64
    public var obtainedAt: Int64

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
public struct Event: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    public static let databaseTableName = "event"
    public var id: Int64?
    public var at: Int64
    public var action: String
    public var app: String?
    public var detail: String

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

// Row decoding written out: Codable's decoder costs more than the query on the
// `show`/`list` path (generic metadata and conformance lookups at first use). Writes keep
// using the Codable encoding.

extension App {
    public init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        provider = Provider(rawValue: row["provider"] ?? "") ?? .oauth
        tenant = row["tenant"]
        cloud = row["cloud"]
        authorityHost = row["authority_host"]
        clientID = row["client_id"]
        authorizeEndpoint = row["authorize_endpoint"]
        tokenEndpoint = row["token_endpoint"]
        deviceEndpoint = row["device_endpoint"]
        redirectURI = row["redirect_uri"]
        scope = row["scope"]
        flow = row["flow"]
        clientAuth = ClientAuth(rawValue: row["client_auth"] ?? "") ?? .post
        clientSecret = row["client_secret"]
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
        issuer = row.hasColumn("issuer") ? row["issuer"] : nil
        // Columns of migration 0003; absent in an older vault opened read-only (a backup).
        if row.hasColumn("certificate") {
            certificate = row["certificate"]
            privateKey = row["private_key"]
            assertionAlg = (row["assertion_alg"] as String?).flatMap(AssertionAlgorithm.init(rawValue:))
        }
        // Migration 0004.
        if row.hasColumn("binding") { binding = row["binding"] }
    }
}

extension Session {
    public init(row: Row) throws {
        id = row["id"]
        appID = row["app_id"]
        refreshToken = row["refresh_token"]
        idToken = row["id_token"]
        account = row["account"]
        grantedScope = row["granted_scope"]
        obtainedAt = row["obtained_at"]
        refreshedAt = row["refreshed_at"]
    }
}

extension AccessToken {
    public init(row: Row) throws {
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
    public init(row: Row) throws {
        id = row["id"]
        at = row["at"]
        action = row["action"]
        app = row["app"]
        detail = row["detail"]
    }
}
