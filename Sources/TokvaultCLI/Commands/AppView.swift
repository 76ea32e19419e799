import Foundation
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

/// The public view of an app, as `list --json` and `show --json` print it. No secret.
struct AppView: Encodable {
    struct TokenView: Encodable {
        var scope: String
        var tokenType: String
        var expiresAt: String
        var expiresOn: Int64
        var expired: Bool

        enum CodingKeys: String, CodingKey {
            case scope, expired
            case tokenType = "token_type"
            case expiresAt = "expires_at"
            case expiresOn = "expires_on"
        }
    }

    /// The public certificate of a certificate credential (its key is sealed).
    struct CertificateView: Encodable {
        var subject: String
        var sha1Thumbprint: String
        var sha256Thumbprint: String
        var notBefore: String
        var notAfter: String
        var notAfterEpoch: Int64
        var daysLeft: Int
        var assertionAlg: String
        var hasPrivateKey: Bool

        enum CodingKeys: String, CodingKey {
            case subject
            case sha1Thumbprint = "sha1_thumbprint"
            case sha256Thumbprint = "sha256_thumbprint"
            case notBefore = "not_before"
            case notAfter = "not_after"
            case notAfterEpoch = "not_after_epoch"
            case daysLeft = "days_left"
            case assertionAlg = "assertion_alg"
            case hasPrivateKey = "has_private_key"
        }
    }

    /// A federated credential: where the token comes from (never the token).
    struct FederatedView: Encodable {
        var source: String
        var tokenFile: String?
        var audience: String?

        enum CodingKeys: String, CodingKey {
            case source, audience
            case tokenFile = "token_file"
        }
    }

    /// What is known about the stored refresh token's age (public times, no token).
    struct RefreshTokenView: Encodable {
        var issuedAt: String?
        var lastUsedAt: String?
        var inactiveDays: Int
        var expiresAt: String?
        var expiresOn: Int64?
        var refusedAt: String?
        var refusal: String?

        enum CodingKeys: String, CodingKey {
            case refusal
            case issuedAt = "issued_at"
            case lastUsedAt = "last_used_at"
            case inactiveDays = "inactive_days"
            case expiresAt = "expires_at"
            case expiresOn = "expires_on"
            case refusedAt = "refused_at"
        }
    }

    var name: String
    var id: String
    var provider: String
    var tenant: String?
    var cloud: String?
    var authorityHost: String?
    var clientID: String
    var authorizeEndpoint: String
    var tokenEndpoint: String
    var deviceEndpoint: String?
    var issuer: String?
    var redirectURI: String
    var scope: String
    var flow: String
    var clientAuth: String
    var publicClient: Bool
    var hasClientSecret: Bool
    var federated: FederatedView?
    var clientCapabilities: [String]
    var certificate: CertificateView?
    /// Set when the stored certificate cannot be read (an edited file).
    var certificateError: String?
    var signedInAs: String?
    var hasRefreshToken: Bool
    var lastRefresh: String?
    var refreshToken: RefreshTokenView?
    var accessTokens: [TokenView]
    var apiBase: String?
    /// `Name: value` each; empty when none is stored.
    var requestHeaders: [String]
    var createdAt: String
    var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case name, id, provider, tenant, cloud, scope, flow
        case authorityHost = "authority_host"
        case clientID = "client_id"
        case authorizeEndpoint = "authorize_endpoint"
        case tokenEndpoint = "token_endpoint"
        case deviceEndpoint = "device_endpoint"
        case issuer
        case redirectURI = "redirect_uri"
        case clientAuth = "client_auth"
        case publicClient = "public_client"
        case hasClientSecret = "has_client_secret"
        case federated
        case clientCapabilities = "client_capabilities"
        case refreshToken = "refresh_token"
        case certificate
        case certificateError = "certificate_error"
        case signedInAs = "signed_in_as"
        case hasRefreshToken = "has_refresh_token"
        case lastRefresh = "last_refresh"
        case accessTokens = "access_tokens"
        case apiBase = "api_base"
        case requestHeaders = "request_headers"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// `timestamps: false` leaves the ISO 8601 texts empty: `list`'s table shows none of them, and
    /// formatting them is a tenth of its time at 10,000 apps.
    init(
        _ app: App, session: Session?, tokens: [AccessToken], now: Int64 = Int64(Date().timeIntervalSince1970),
        timestamps: Bool = true
    ) {
        func isoTime(_ epoch: Int64) -> String { timestamps ? Output.isoTime(epoch) : "" }
        name = app.name
        id = app.id
        provider = app.provider.rawValue
        tenant = app.tenant
        cloud = app.cloud
        authorityHost = app.authorityHost
        clientID = app.clientID
        authorizeEndpoint = app.authorizeEndpoint
        tokenEndpoint = app.tokenEndpoint
        deviceEndpoint = app.deviceEndpoint
        issuer = app.issuer
        redirectURI = app.redirectURI
        scope = app.scope
        flow = app.flow
        clientAuth = app.clientAuth.rawValue
        publicClient = app.isPublicClient
        hasClientSecret = app.hasClientSecret
        federated = app.federatedSource.map {
            FederatedView(source: $0.rawValue, tokenFile: app.federatedTokenFile, audience: app.federatedAudience)
        }
        clientCapabilities = app.capabilityList
        if let der = app.certificate {
            do {
                let info = try CertificateInfo(der: [UInt8](der))
                certificate = CertificateView(
                    subject: info.subject, sha1Thumbprint: info.sha1Hex, sha256Thumbprint: info.sha256Hex,
                    notBefore: Output.isoTime(Int64(info.notValidBefore.timeIntervalSince1970)),
                    notAfter: Output.isoTime(Int64(info.notValidAfter.timeIntervalSince1970)),
                    notAfterEpoch: Int64(info.notValidAfter.timeIntervalSince1970), daysLeft: info.daysLeft(),
                    assertionAlg: app.assertionAlg?.rawValue ?? "?", hasPrivateKey: app.hasPrivateKey)
            } catch {
                certificateError = "the stored certificate cannot be read"
            }
        }
        signedInAs = session?.account
        hasRefreshToken = session?.refreshToken != nil
        lastRefresh = (session?.refreshedAt).map(isoTime)
        if let session, session.refreshToken != nil {
            refreshToken = RefreshTokenView(
                issuedAt: session.refreshIssuedAt.map(isoTime), lastUsedAt: session.refreshedAt.map(isoTime),
                inactiveDays: Self.days(since: session.refreshLastActive, now: now),
                expiresAt: session.refreshExpiresAt.map(isoTime), expiresOn: session.refreshExpiresAt,
                refusedAt: session.refreshRefusedAt.map(isoTime), refusal: session.refreshRefusal)
        }
        accessTokens = tokens.map {
            TokenView(
                scope: $0.scopeKey.isEmpty ? app.scope : $0.scopeKey, tokenType: $0.tokenType,
                expiresAt: isoTime($0.expiresAt), expiresOn: $0.expiresAt, expired: $0.expiresAt <= now)
        }
        apiBase = app.apiBase
        requestHeaders = RequestDefaults.decode(app.requestHeaders).map(\.line)
        createdAt = isoTime(app.createdAt)
        updatedAt = isoTime(app.updatedAt)
    }

    /// Whole days from `time` to `now` (times read from the file: saturating, never negative).
    static func days(since time: Int64, now: Int64) -> Int {
        let (elapsed, overflow) = now.subtractingReportingOverflow(time)
        return overflow || elapsed < 0 ? 0 : Int(elapsed / 86_400)
    }

    /// "token file /var/run/…" or "GitHub Actions OIDC (audience …)".
    static func federatedDescription(_ app: App) -> String {
        switch app.federatedSource {
        case .file?: return "federated credential: token file \(Display.printable(app.federatedTokenFile ?? "?"))"
        case .githubActions?:
            return
                "federated credential: GitHub Actions OIDC token, audience \(Display.printable(FederatedAssertion.audience(for: app)))"
        case nil: return "federated credential"
        }
    }

    /// "adme@contoso.com, access token in 42m" style summary for tables.
    var tokenSummary: String {
        guard hasRefreshToken || !accessTokens.isEmpty else { return "-" }
        var parts: [String] = []
        if hasRefreshToken { parts.append("refresh") }
        if let main = accessTokens.first(where: { $0.scope == scope }) ?? accessTokens.first {
            parts.append(main.expired ? "access expired" : "access \(Output.relative(main.expiresOn))")
        }
        return parts.joined(separator: ", ")
    }

    var secretSummary: String {
        if publicClient { return "public" }
        if let federated {
            return federated.source == "file"
                ? "federated (token file, no secret stored)" : "federated (GitHub Actions OIDC, no secret stored)"
        }
        if let certificate {
            return certificate.hasPrivateKey ? "certificate (key sealed)" : "certificate (key missing)"
        }
        if certificateError != nil { return "certificate (unreadable)" }
        return hasClientSecret ? "sealed" : "missing"
    }
}
