import Foundation
import NIOHTTP1
import TokvaultVault

/// Turns a token endpoint's non-200 answer into one message, a hint and an exit code.
/// The branch is on the OAuth `error` value; the AADSTS number only picks a better hint.
enum TokenErrors {
    static func error(
        status: Int, data: Data, headers: HTTPHeaders, app: App, grant: TokenClient.Grant, endpoint: String
    ) -> VaultError {
        let host = URLComponents(string: endpoint)?.host ?? endpoint
        let contentType = headers.first(name: "Content-Type")?.lowercased() ?? ""
        guard !data.isEmpty else {
            return VaultError(
                exitCode: exitForBodyless(status),
                "the token endpoint \(host) answered HTTP \(status) with an empty body",
                hint: bodylessHint(status, app: app))
        }
        guard let body = try? JSONDecoder().decode(OAuthErrorBody.self, from: data) else {
            let kind =
                contentType.contains("html")
                ? "an HTML page"
                : "a body that is not an OAuth error (\(contentType.isEmpty ? "no content type" : AppSpec.printable(contentType)))"
            return VaultError(
                exitCode: exitForBodyless(status),
                "the token endpoint \(host) answered HTTP \(status) with \(kind)",
                hint: bodylessHint(status, app: app))
        }
        return map(body, status: status, app: app, grant: grant, host: host)
    }

    /// The error for an answer after which `RetryPolicy` stopped: the answer's own message,
    /// with the exit code and hint the reason calls for. A 429 is always exit 3 (throttled:
    /// try again later), and a 5xx to a single-use grant says that the grant may have been used.
    static func stopped(
        _ reason: RetryDecision.StopReason, status: Int, data: Data, headers: HTTPHeaders, app: App,
        grant: TokenClient.Grant, endpoint: String, attempts: Int, maxRetryAfter: Int
    ) -> VaultError {
        let base = error(status: status, data: data, headers: headers, app: app, grant: grant, endpoint: endpoint)
        switch reason {
        case .final, .maybeSent:
            return base
        case .mayHaveBeenUsed:
            var hint = "the identity provider failed after the request reached it"
            if let used = TokenClient.mayHaveBeenUsed(grant, app: app) { hint += "; " + used }
            return VaultError(exitCode: VaultError.Code.unreachable, base.message, hint: hint)
        case .retryAfterTooLong(let seconds):
            let wait = "it asked to wait \(seconds) s, longer than the \(maxRetryAfter) s tokvault waits"
            let hint =
                status == 429
                ? "the identity provider is throttling requests; try again later (\(wait))"
                : "the identity provider has a problem; try again later (\(wait))"
            return VaultError(exitCode: VaultError.Code.unreachable, base.message, hint: hint)
        case .attemptsExhausted:
            let message = base.message + " (\(attempts) attempts)"
            if status == 429 {
                return VaultError(
                    exitCode: VaultError.Code.unreachable, message,
                    hint: "the identity provider is throttling requests; try again later")
            }
            return VaultError(exitCode: base.exitCode, message, hint: base.hint)
        }
    }

    static func exitForBodyless(_ status: Int) -> Int32 {
        status == 429 || status >= 500 ? VaultError.Code.unreachable : VaultError.Code.failure
    }

    static func bodylessHint(_ status: Int, app: App) -> String {
        switch status {
        case 429: return "the identity provider is throttling requests; try again later"
        case 500...599: return "the identity provider has a problem; try again later"
        case 404: return "check the token endpoint of app \"\(app.name)\" (`tokvault show \(app.name)`)"
        default:
            return
                "a proxy or firewall may be answering instead of the identity provider; check `tokvault show \(app.name)` and HTTPS_PROXY"
        }
    }

    static func map(_ body: OAuthErrorBody, status: Int, app: App, grant: TokenClient.Grant, host: String) -> VaultError
    {
        let code = body.aadstsCode
        var message = "the identity provider refused the request: \(AppSpec.printable(body.error))"
        if let summary = body.summary {
            message += " (\(AppSpec.printable(summary)))"
        } else if let code {
            message += " (\(code))"
        }
        var ids: [String] = []
        if let trace = body.traceID { ids.append("trace id \(AppSpec.printable(trace))") }
        if let correlation = body.correlationID { ids.append("correlation id \(AppSpec.printable(correlation))") }
        let idText = ids.isEmpty ? "" : " [\(ids.joined(separator: ", "))]"
        var login = "run `tokvault login \(app.name)`"
        let isCode: Bool = { if case .authorizationCode = grant { return true } else { return false } }()
        let isDevice: Bool = { if case .deviceCode = grant { return true } else { return false } }()
        let isClientCredentials: Bool = { if case .clientCredentials = grant { return true } else { return false } }()
        if isClientCredentials { login = "check the app's credential with `tokvault show \(app.name)`" }

        switch body.error {
        case "invalid_grant":
            switch code {
            case "AADSTS65001":
                return VaultError(
                    exitCode: VaultError.Code.loginRequired, message + idText,
                    hint:
                        "consent is missing: an administrator must grant consent for the app, or sign in with `tokvault login \(app.name) --prompt consent`"
                )
            case "AADSTS50076", "AADSTS50079", "AADSTS50158":
                return VaultError(
                    exitCode: VaultError.Code.loginRequired, message + idText,
                    hint: "multi-factor authentication is required: \(login)")
            case "AADSTS700082", "AADSTS700084", "AADSTS70043", "AADSTS50173":
                return VaultError(
                    exitCode: VaultError.Code.loginRequired, message + idText,
                    hint: "the sign-in has expired (token lifetime or sign-in frequency policy): \(login)")
            case "AADSTS50011":
                return VaultError(exitCode: VaultError.Code.failure, message + idText, hint: redirectHint(app))
            default:
                if isCode {
                    return VaultError(
                        exitCode: VaultError.Code.failure, message + idText,
                        hint:
                            "the authorization code expired, was already used, or does not match this login's PKCE verifier: \(login) again"
                    )
                }
                return VaultError(
                    exitCode: VaultError.Code.loginRequired,
                    "login required for app \"\(app.name)\": " + message + idText,
                    hint: login)
            }
        case "interaction_required", "login_required", "consent_required":
            return VaultError(
                exitCode: VaultError.Code.loginRequired, "login required for app \"\(app.name)\": " + message + idText,
                hint: code == "AADSTS65001" || body.error == "consent_required"
                    ? "consent is missing: sign in with `tokvault login \(app.name) --prompt consent`" : login)
        case "authorization_declined", "access_denied":
            return VaultError(
                exitCode: VaultError.Code.failure, "the sign-in was declined: " + message + idText,
                hint: "run `tokvault login \(app.name)\(isDevice ? " --device" : "")` to try again")
        case "expired_token":
            return VaultError(
                exitCode: VaultError.Code.failure, "the device code expired before the sign-in was completed" + idText,
                hint: "run `tokvault login \(app.name) --device` again and enter the new code sooner")
        case "bad_verification_code":
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint: "run `tokvault login \(app.name) --device` again")
        case "invalid_client":
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint: invalidClientHint(code: code, app: app, isDevice: isDevice))
        case "unauthorized_client":
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint:
                    "the app registration does not allow this grant; check its platform settings (redirect URIs, public client flows)"
            )
        case "invalid_scope" where isClientCredentials:
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint:
                    "the client credentials flow takes one resource's RESOURCE/.default scope (e.g. api://…/.default or \(app.clientID)/.default), never offline_access or openid: `tokvault set \(app.name) --scope …`"
            )
        case "invalid_scope":
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint: "check the scope of app \"\(app.name)\" (`tokvault set \(app.name) --scope …`)")
        case "invalid_request":
            if code == "AADSTS50011" || code == "AADSTS500112" || code == "AADSTS50010" {
                return VaultError(exitCode: VaultError.Code.failure, message + idText, hint: redirectHint(app))
            }
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint: "check the app's configuration with `tokvault show \(app.name)`")
        case "temporarily_unavailable", "server_error":
            return VaultError(
                exitCode: VaultError.Code.unreachable, message + idText,
                hint: "the identity provider has a problem; try again later")
        case "unsupported_grant_type":
            return VaultError(
                exitCode: VaultError.Code.failure, message + idText,
                hint: "the server at \(host) does not support this grant; check the token endpoint")
        default:
            return VaultError(
                exitCode: status >= 500 || status == 429 ? VaultError.Code.unreachable : VaultError.Code.failure,
                message + idText)
        }
    }

    /// Every invalid_client refusal is exit 1 with the provider's message; only the advice depends
    /// on the AADSTS code and on whether the app proves itself with a certificate or a secret.
    static func invalidClientHint(code: String?, app: App, isDevice: Bool) -> String {
        if code == "AADSTS7000218" && isDevice { return publicFlowsHint }
        if app.usesCertificate {
            switch code {
            case "AADSTS700024":
                return
                    "the client assertion's time range was refused: check this machine's clock (assertions are valid for 5 minutes from now)"
            case "AADSTS700023":
                return
                    "the provider expects another audience than the token endpoint \(app.tokenEndpoint) that the assertion names: check the app's tenant and authority host (`tokvault show \(app.name)`)"
            case "AADSTS700021":
                return
                    "the client id \(app.clientID) is not the application the certificate is registered on: check it with `tokvault show \(app.name)`"
            default:
                return
                    "the certificate is not registered on the app, has expired there, or its key was replaced: upload the certificate of `tokvault show \(app.name)` (Certificates & secrets → Certificates) or store the current one with `tokvault set \(app.name) --certificate CERT.pem --private-key-file KEY.pem`"
            }
        }
        switch code {
        case "AADSTS7000222":
            return
                "the client secret has expired: create a new one in the app registration and store it with `tokvault set \(app.name) --secret-prompt`"
        case "AADSTS700025":
            return "the app is registered as a public client: `tokvault set \(app.name) --public`"
        case "AADSTS7000218":
            return
                "the app needs a client secret: `tokvault set \(app.name) --secret-prompt`, or enable 'Allow public client flows' in the app registration"
        default:
            return
                "the client secret (or client id) is wrong: store the current secret with `tokvault set \(app.name) --secret-prompt`"
        }
    }

    static let publicFlowsHint =
        "the device code flow needs the app to be a public client: enable 'Allow public client flows' in the app registration (Authentication → Advanced settings), or store its client secret or certificate in tokvault"

    static func redirectHint(_ app: App) -> String {
        "the redirect URI does not match the app registration: add \(app.redirectURI) under Authentication → Mobile and desktop applications (or Web), or change it with `tokvault set \(app.name) --redirect-uri URI`"
    }
}
