import Foundation
import NIOHTTP1
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// What an error answer of the token endpoint becomes: exit code, message and hint.
@Suite("token errors")
struct TokenErrorsTests {
    static func mapped(
        _ json: String, status: Int = 400, grant: TokenClient.Grant? = nil, contentType: String = "application/json"
    ) throws -> FlowError {
        let app = try FlowFixture.azureApp()
        return TokenErrors.error(
            status: status, data: Data(json.utf8), headers: HTTPHeaders([("Content-Type", contentType)]),
            app: app, grant: grant ?? .refreshToken(secure("rt"), scope: app.scope),
            endpoint: app.tokenEndpoint)
    }

    static var codeGrant: TokenClient.Grant {
        .authorizationCode(code: secure("c"), verifier: secure("v"), redirectURI: "http://localhost:8080")
    }

    static func azureError(_ error: String, _ code: Int, _ text: String) -> String {
        #"{"error":"\#(error)","error_description":"AADSTS\#(code): \#(text)\r\nTrace ID: 11111111-aaaa-bbbb-cccc-000000000001\r\nCorrelation ID: 22222222-aaaa-bbbb-cccc-000000000002\r\nTimestamp: 2025-01-01 00:00:00Z","error_codes":[\#(code)],"trace_id":"11111111-aaaa-bbbb-cccc-000000000001","correlation_id":"22222222-aaaa-bbbb-cccc-000000000002"}"#
    }

    @Test func invalidGrantOnRefreshMeansLoginRequired() throws {
        let error = try Self.mapped(
            Self.azureError(
                "invalid_grant", 70008,
                "The provided authorization code or refresh token has expired due to inactivity."))
        #expect(error.exitCode == 2)
        #expect(error.message.contains("login required for app \"adme\""))
        #expect(error.message.contains("AADSTS70008"))
        #expect(error.message.contains("trace id 11111111-aaaa-bbbb-cccc-000000000001"))
        #expect(!error.message.contains("Timestamp"), "only the first line of the description")
        #expect(error.shownHint?.contains("tokvault login adme") == true)
    }

    @Test func invalidGrantOnCodeIsAFailure() throws {
        let error = try Self.mapped(
            Self.azureError("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."),
            grant: Self.codeGrant)
        #expect(error.exitCode == 1)
        #expect(error.shownHint?.contains("tokvault login adme") == true)
        #expect(error.shownHint?.contains("PKCE") == true)
    }

    @Test(arguments: ["interaction_required", "login_required"])
    func interactionRequiredMeansLoginRequired(_ code: String) throws {
        let error = try Self.mapped(
            Self.azureError(
                code, 50076,
                "Due to a configuration change made by your administrator, you must use multi-factor authentication."))
        #expect(error.exitCode == 2)
        #expect(error.shownHint?.contains("tokvault login adme") == true)
    }

    @Test(arguments: [7_000_215, 7_000_222])
    func invalidClientPointsAtTheSecret(_ code: Int) throws {
        let error = try Self.mapped(
            Self.azureError("invalid_client", code, "Invalid client secret provided."), status: 401)
        #expect(error.exitCode == 1)
        #expect(error.shownHint?.contains("tokvault set adme --secret-prompt") == true, "\(error.shownHint ?? "")")
        if code == 7_000_222 { #expect(error.shownHint?.contains("expired") == true) }
    }

    /// Every invalid_client answer: exit 1, the provider's code in the message, and advice that
    /// depends on the code, on the app's credential (secret or certificate) and on the grant.
    @Test(arguments: [
        (false, 7_000_222, false, "the client secret has expired"),
        (false, 700025, false, "registered as a public client: `tokvault set adme --public`"),
        (false, 7_000_218, false, "the app needs a client secret"),
        (false, 7_000_218, true, "enable 'Allow public client flows'"),
        (false, 7_000_215, false, "the client secret (or client id) is wrong"),
        (true, 700024, false, "check this machine's clock"),
        (
            true, 700023, false,
            "expects another audience than the token endpoint https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        ),
        (true, 700021, false, "is not the application the certificate is registered on"),
        (true, 700027, false, "the certificate is not registered on the app"),
        (true, 7_000_218, false, "the certificate is not registered on the app"),
        (true, 7_000_218, true, "enable 'Allow public client flows'"),
        (true, 7_000_222, false, "the certificate is not registered on the app")
    ])
    func invalidClientAdviceFollowsTheCredential(_ certificate: Bool, _ code: Int, _ device: Bool, _ hint: String)
        throws
    {
        var app = try FlowFixture.azureApp()
        if certificate { app.clientAuth = .privateKeyJWT }
        let grant: TokenClient.Grant =
            device ? .deviceCode(secure("dc")) : .refreshToken(secure("rt"), scope: app.scope)
        let error = TokenErrors.error(
            status: 401, data: Data(Self.azureError("invalid_client", code, "Refused.").utf8),
            headers: HTTPHeaders([("Content-Type", "application/json")]), app: app, grant: grant,
            endpoint: app.tokenEndpoint)
        #expect(error.exitCode == 1)
        #expect(error.message.contains("invalid_client (AADSTS\(code): Refused.)"), "\(error.message)")
        #expect(error.shownHint?.contains(hint) == true, "\(error.shownHint ?? "no hint")")
    }

    @Test(arguments: ["invalid_grant", "invalid_request"])
    func redirectMismatchGetsTheRedirectHint(_ oauthError: String) throws {
        let error = try Self.mapped(
            Self.azureError(oauthError, 50011, "The redirect URI 'http://localhost:1' does not match."),
            grant: Self.codeGrant)
        #expect(error.exitCode == 1)
        #expect(error.shownHint?.contains("redirect URI") == true)
        #expect(
            error.shownHint?.contains("http://localhost:8080") == true,
            "names the app's redirect URI: \(error.shownHint ?? "")")
    }

    @Test func temporarilyUnavailableIsUnreachable() throws {
        let error = try Self.mapped(
            Self.azureError("temporarily_unavailable", 50196, "The server encountered a client request loop."),
            status: 503)
        #expect(error.exitCode == 3)
    }

    @Test func emptyBody400IsAFailure() throws {
        let error = try Self.mapped("", status: 400, contentType: "")
        #expect(error.exitCode == 1)
        #expect(error.message.contains("HTTP 400 with an empty body"))
        #expect(error.message.contains("login.microsoftonline.com"))
    }

    @Test func htmlBadGatewayIsUnreachable() throws {
        let error = try Self.mapped(
            "<html><body><h1>502 Bad Gateway</h1></body></html>", status: 502, contentType: "text/html; charset=utf-8")
        #expect(error.exitCode == 3)
        #expect(error.message.contains("an HTML page"))
        #expect(error.shownHint?.contains("try again later") == true)
    }

    @Test func nonOAuthJSONIsDescribed() throws {
        let error = try Self.mapped(#"{"message":"nope"}"#, status: 403)
        #expect(error.exitCode == 1)
        #expect(error.message.contains("not an OAuth error (application/json)"))
    }
}
