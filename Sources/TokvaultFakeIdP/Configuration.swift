// Public value types of the fake identity provider: configuration, faults, statistics.

/// The signed-in user every authorization is approved as.
package struct FakeUser: Sendable, Equatable {
    package var username: String
    package var name: String
    package var oid: String

    package init(username: String, name: String, oid: String) {
        self.username = username
        self.name = name
        self.oid = oid
    }

    package static let alice = FakeUser(
        username: "alice@contoso.example", name: "Alice", oid: "00000000-0000-0000-0000-00000000a11c")
}

/// A registered application.
package struct FakeClient: Sendable, Equatable {
    package var clientID: String
    /// `nil` = public client (must not authenticate); otherwise a confidential client that must
    /// send this secret by client_secret_post or client_secret_basic.
    package var clientSecret: String?
    /// Registered redirect URIs. Loopback `http` URIs (localhost, 127.0.0.1, [::1]) match any
    /// port at the authorize endpoint, as Azure does; everything else must match exactly.
    package var redirectURIs: [String]
    /// Registered certificates (PEM, one or more CERTIFICATE blocks each). A client with any is
    /// confidential and may authenticate with a JWT client assertion (RFC 7523) signed by the
    /// private key of one of them, selected by the `x5t#S256` or `x5t` header. An entry that does
    /// not parse registers nothing, so assertions naming it fail as "not registered".
    package var certificatePEMs: [String]
    /// Azure's "Allow public client flows": a confidential client may then poll the device code
    /// grant without credentials (other grants still require them).
    package var allowPublicClientFlows: Bool
    /// Federated identity credentials (workload identity federation). A client with any is
    /// confidential and may authenticate the client credentials grant with a token of an external
    /// issuer as its client assertion; the fake accepts only tokens signed by its own workload key
    /// (`FakeIdentityProvider.mintFederatedToken`, the GitHub Actions stand-in).
    package var federatedCredentials: [FakeFederatedCredential]

    package init(
        clientID: String, clientSecret: String? = nil, redirectURIs: [String] = ["http://localhost"],
        certificatePEMs: [String] = [], allowPublicClientFlows: Bool = false,
        federatedCredentials: [FakeFederatedCredential] = []
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURIs = redirectURIs
        self.certificatePEMs = certificatePEMs
        self.allowPublicClientFlows = allowPublicClientFlows
        self.federatedCredentials = federatedCredentials
    }

    /// Neither a secret, a certificate nor a federated credential: the client must not
    /// authenticate at all.
    package var isPublic: Bool { clientSecret == nil && certificatePEMs.isEmpty && federatedCredentials.isEmpty }

    /// The client registered when none is given: public, redirect `http://localhost` (any port).
    package static let defaultPublic = FakeClient(
        clientID: "11111111-2222-3333-4444-555555555555", clientSecret: nil, redirectURIs: ["http://localhost"])
}

/// A federated identity credential of an app registration: Entra trusts a token of `issuer` about
/// `subject` whose audience is one of `audiences`. All three compare case-sensitively, as Entra
/// does since 2025 (so a trailing slash on the issuer is a mismatch).
package struct FakeFederatedCredential: Sendable, Equatable {
    package var issuer: String
    package var subject: String
    /// Entra's default (and recommended) audience is "api://AzureADTokenExchange".
    package var audiences: [String]

    package init(issuer: String, subject: String, audiences: [String] = ["api://AzureADTokenExchange"]) {
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
    }
}

/// The GitHub Actions OIDC token service a job reaches through `ACTIONS_ID_TOKEN_REQUEST_URL` and
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, served by the fake at `GET /github-actions/idtoken`.
package struct FakeGitHubActions: Sendable, Equatable {
    /// The bearer token the job must present (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`). A secret: it is
    /// neither logged nor recorded in the statistics.
    package var requestToken: String
    /// `iss` of the minted tokens.
    package var issuer: String
    /// `sub` of the minted tokens; its "repo:OWNER/..." prefix also gives the default audience.
    package var subject: String

    package init(
        requestToken: String, issuer: String = "https://token.actions.githubusercontent.com",
        subject: String = "repo:contoso/deploy:ref:refs/heads/main"
    ) {
        self.requestToken = requestToken
        self.issuer = issuer
        self.subject = subject
    }

    /// GitHub's audience when the request names none: the URL of the repository owner
    /// ("https://github.com/contoso" for "repo:contoso/deploy:...").
    package var defaultAudience: String {
        var owner = subject.hasPrefix("repo:") ? subject.dropFirst(5) : Substring(subject)
        if let slash = owner.firstIndex(of: "/") { owner = owner[..<slash] }
        return "https://github.com/\(owner)"
    }
}

package struct FakeIdPConfiguration: Sendable {
    /// The tenant id (tid GUID). Paths accept it, "organizations" and "common".
    package var tenant = "00000000-0000-0000-0000-0000000000aa"
    package var clients: [FakeClient]
    /// Seconds; returned as `expires_in` and `ext_expires_in`.
    package var accessTokenLifetime: Int = 3600
    /// Seconds an authorization code stays redeemable.
    package var codeLifetime: Int = 600
    /// Seconds a refresh token stays usable (Azure: 90 days of inactivity).
    package var refreshTokenLifetime: Int = 90 * 24 * 3600
    package var user = FakeUser.alice
    /// 0 = ephemeral port. The listener always binds 127.0.0.1.
    package var port: Int = 0
    /// Azure returns a refresh token only when the granted scope includes `offline_access`.
    /// Set to true to hand one out regardless.
    package var issueRefreshTokenWithoutOfflineAccess = false
    /// Called once per answered request with "METHOD /path STATUS" (no query, no body: nothing secret).
    package var requestLogger: (@Sendable (String) -> Void)?
    /// Seconds a device code (and its user code) stays usable; `expires_in` of /devicecode (Azure: 900).
    package var deviceCodeLifetime: Int = 900
    /// Seconds a client must wait between two polls of one device code; `interval` of /devicecode.
    /// Polling sooner answers slow_down and adds 5 s to that code's interval (RFC 8628 §3.5).
    package var deviceCodeInterval: Int = 5
    /// How pending device authorizations get decided when nobody calls `approveDevice`/`declineDevice`.
    package var deviceApproval: FakeDeviceApproval = .manual
    /// The first N polls of every device code answer slow_down whatever their timing.
    package var deviceSlowDownPolls: Int = 0
    /// The GitHub Actions OIDC stand-in; nil = `/github-actions/idtoken` answers 404.
    package var githubActions: FakeGitHubActions?
    /// A claims challenge (JSON text such as `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`),
    /// as Conditional Access with authentication context or continuous access evaluation sends: a
    /// refresh_token or authorization_code grant whose `claims` (or, for a code, its authorize
    /// request's `claims`) does not contain it is refused with AADSTS50076 and the challenge in the
    /// error's `claims` member. Changeable at run time: `FakeIdentityProvider.setClaimsChallenge`.
    package var claimsChallenge: String?
    /// Every refresh_token and authorization_code grant is refused with AADSTS53003 (blocked by
    /// Conditional Access). Changeable at run time: `FakeIdentityProvider.setConditionalAccessBlock`.
    package var conditionalAccessBlock = false
    /// Answers carrying a refresh token also carry `refresh_expires_in` (Keycloak does; Azure does
    /// not). Changeable at run time: `FakeIdentityProvider.setSendRefreshExpiresIn`.
    package var sendRefreshExpiresIn = false

    package init(
        tenant: String = "00000000-0000-0000-0000-0000000000aa",
        clients: [FakeClient] = [FakeClient.defaultPublic],
        accessTokenLifetime: Int = 3600,
        codeLifetime: Int = 600,
        refreshTokenLifetime: Int = 90 * 24 * 3600,
        user: FakeUser = .alice,
        port: Int = 0,
        issueRefreshTokenWithoutOfflineAccess: Bool = false,
        requestLogger: (@Sendable (String) -> Void)? = nil,
        deviceCodeLifetime: Int = 900,
        deviceCodeInterval: Int = 5,
        deviceApproval: FakeDeviceApproval = .manual,
        deviceSlowDownPolls: Int = 0,
        githubActions: FakeGitHubActions? = nil,
        claimsChallenge: String? = nil,
        conditionalAccessBlock: Bool = false,
        sendRefreshExpiresIn: Bool = false
    ) {
        self.githubActions = githubActions
        self.claimsChallenge = claimsChallenge
        self.conditionalAccessBlock = conditionalAccessBlock
        self.sendRefreshExpiresIn = sendRefreshExpiresIn
        self.deviceCodeLifetime = deviceCodeLifetime
        self.deviceCodeInterval = deviceCodeInterval
        self.deviceApproval = deviceApproval
        self.deviceSlowDownPolls = deviceSlowDownPolls
        self.tenant = tenant
        self.clients = clients
        self.accessTokenLifetime = accessTokenLifetime
        self.codeLifetime = codeLifetime
        self.refreshTokenLifetime = refreshTokenLifetime
        self.user = user
        self.port = port
        self.issueRefreshTokenWithoutOfflineAccess = issueRefreshTokenWithoutOfflineAccess
        self.requestLogger = requestLogger
    }
}

/// How the fake decides a pending device authorization (RFC 8628) by itself.
package enum FakeDeviceApproval: Sendable, Equatable {
    /// Stays pending until `approveDevice`/`declineDevice` (or POST /_fake/device/approve|decline).
    case manual
    /// The first N polls answered authorization_pending; the next one gets the tokens.
    /// Polls answered slow_down do not count.
    case approveAfterPolls(Int)
    /// The first N polls answered authorization_pending; the next one gets authorization_declined.
    case declineAfterPolls(Int)
    /// Pending until the device code expires; approveDevice/declineDevice are ignored.
    case never
}

/// Misbehaviour applied to the next token-endpoint requests (see `FakeIdentityProvider.inject`).
package enum FakeFault: Sendable, Equatable {
    /// 400 with `Content-Length: 0`.
    case emptyBody400
    /// 502 with an HTML body, as a proxy in front of the IdP would answer.
    case html502
    /// Waits (on the event loop's timer, not blocking it), then handles the request normally.
    case slow(milliseconds: Int)
    /// Reads the request, then closes the connection with a TCP RST and no answer.
    case connectionReset
    /// 429 with `Retry-After` and an Azure-shaped JSON error body.
    case tooManyRequests(retryAfter: Int)
    /// An Azure-shaped JSON error with the given status, error code, AADSTS number and description.
    case oauthError(status: Int, error: String, aadsts: Int, description: String)

    var label: String {
        switch self {
        case .emptyBody400: return "empty400"
        case .html502: return "html502"
        case .slow: return "slow"
        case .connectionReset: return "reset"
        case .tooManyRequests: return "429"
        case .oauthError: return "oauth"
        }
    }
}

/// How a token request authenticated its client.
package enum FakeClientAuth: String, Sendable, Equatable {
    /// No secret (public client, or a confidential client that forgot it).
    case none
    /// `client_secret` in the form body.
    case post
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    case basic
    /// Both at once, or a secret together with a client assertion (rejected with invalid_request).
    case both
    /// A JWT client assertion (`client_assertion_type` jwt-bearer, RFC 7523).
    case assertion
}

/// One token-endpoint request as the fake saw it.
package struct FakeTokenRequestRecord: Sendable, Equatable {
    /// `nil` when the body had no grant_type (or could not be parsed).
    package var grantType: String?
    package var clientID: String?
    package var clientAuth: FakeClientAuth
    /// Whether a `scope` parameter was present.
    package var scopeSent: Bool
    package var scope: String?
    /// HTTP status answered; 0 when the connection was reset instead.
    package var status: Int
    /// The OAuth `error` answered, if any.
    package var error: String?
    /// The AADSTS number answered, if any.
    package var aadsts: Int?
    /// The injected fault applied to this request, if any ("slow", "reset", "429", ...).
    package var fault: String?
    /// The `claims` parameter as sent (a JSON text; not a secret), if any.
    package var claims: String?
}

/// One authorize request as the fake saw it.
package struct FakeAuthorizeRecord: Sendable, Equatable {
    package var clientID: String?
    package var redirectURI: String?
    package var responseMode: String?
    package var scope: String?
    package var state: String?
    package var prompt: String?
    package var loginHint: String?
    package var nonce: String?
    package var codeChallengeMethod: String?
    /// The `claims` parameter as sent (a JSON text), if any.
    package var claims: String?
    /// "code", "error:<error>", or "page:<AADSTS>" for the error pages that do not redirect.
    package var outcome: String
}

/// A request received on `/_fake/callback` (a stand-in redirect target for scripts and tests).
package struct FakeCallbackRecord: Sendable, Equatable {
    package var method: String
    package var parameters: [String: String]
}

package struct FakeIdPStats: Sendable, Equatable {
    package var authorizeRequests = 0
    /// Authorization codes handed out.
    package var codesIssued = 0
    /// Token-endpoint requests by grant_type ("" when missing).
    package var tokenRequests: [String: Int] = [:]
    /// Successful token responses.
    package var tokensIssued = 0
    /// Successful refresh_token grants (each rotates the refresh token).
    package var refreshRotations = 0
    /// Used refresh tokens presented again (each revokes the token family).
    package var reuseDetections = 0
    /// Authorization codes presented again (each revokes what the code produced).
    package var codeReuseDetections = 0
    package var familiesRevoked = 0
    package var faultsApplied = 0
    package var pendingFaults = 0
    package var notFound = 0
    /// Requests to the `/_fake/resource` endpoint and how many presented a valid token.
    package var resourceRequests = 0
    package var resourceAuthorized = 0
    /// The most recent token requests (at most 10,000), oldest first.
    package var tokenLog: [FakeTokenRequestRecord] = []
    /// The most recent authorize requests (at most 10,000), oldest first.
    package var authorizeLog: [FakeAuthorizeRecord] = []
    /// The most recent `/_fake/callback` requests (at most 1,000), oldest first.
    package var callbacks: [FakeCallbackRecord] = []
    /// Requested paths answered 404 (at most 1,000, without query).
    package var notFoundPaths: [String] = []
    /// Client assertions that authenticated their client.
    package var assertionsAccepted = 0
    /// Refused client assertions by reason: "malformed", "assertion_type", "alg", "unknown_key",
    /// "expired_key", "signature", "audience", "issuer", "time", "jti", "replay"; for federated
    /// assertions "federated_alg", "federated_unknown_key", "federated_signature",
    /// "federated_time", "federated_no_match", "federated_grant".
    package var assertionsRejected: [String: Int] = [:]
    /// The string members of the JOSE header of the last client assertion that could be decoded
    /// (e.g. "alg": "PS256", "typ": "JWT", "x5t#S256": "..."), accepted or not.
    package var lastAssertionHeader: [String: String] = [:]
    /// Device codes handed out by /devicecode.
    package var deviceAuthorizations = 0
    /// Token requests with the device_code grant that reached a known or unknown device code.
    package var devicePolls = 0
    /// Polls answered slow_down.
    package var deviceSlowDowns = 0
    /// Client credentials grants authenticated by a federated credential (tokens issued).
    package var federatedGrants = 0
    /// `sub` of the last federated assertion that authenticated its client.
    package var lastFederatedSubject: String?
    /// Requests to the GitHub Actions stand-in answered with a token.
    package var githubTokenRequests = 0
    /// The audience of the last token the GitHub Actions stand-in minted (the default one included).
    package var lastGitHubAudience: String?
    /// Refresh token and authorization code grants refused with AADSTS50076 for a claims challenge.
    package var claimsChallengesSent = 0

    package var totalTokenRequests: Int { tokenRequests.values.reduce(0, +) }

    package init() {}
}

/// What the fake knows about an access token it issued.
package struct FakeAccessTokenInfo: Sendable, Equatable {
    package var clientID: String
    /// The oid of the signed-in user; nil for an app-only token (client_credentials).
    package var userOID: String?
    package var scope: String
    package var expiresAt: Double
    package var revoked: Bool
    package var isValid: Bool
}
