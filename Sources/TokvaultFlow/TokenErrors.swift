import Foundation
import NIOHTTP1
import TokvaultVault

/// Turns a token endpoint's non-200 answer into one message, a hint and an exit code.
/// The branch is on the OAuth `error` value; the AADSTS number only picks a better hint.
enum TokenErrors {
    static func error(
        status: Int, data: Data, headers: HTTPHeaders, app: App, grant: TokenClient.Grant, endpoint: String
    ) -> FlowError {
        let host = URLComponents(string: endpoint)?.host ?? endpoint
        let contentType = headers.first(name: "Content-Type")?.lowercased() ?? ""
        guard !data.isEmpty else {
            return FlowError(
                kindForBodyless(status),
                "the token endpoint \(host) answered HTTP \(status) with an empty body",
                hint: bodylessHint(status, app: app))
        }
        guard let body = try? JSONDecoder().decode(OAuthErrorBody.self, from: data) else {
            let kind =
                contentType.contains("html")
                ? "an HTML page"
                : "a body that is not an OAuth error (\(contentType.isEmpty ? "no content type" : Display.printable(contentType)))"
            return FlowError(
                kindForBodyless(status),
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
    ) -> FlowError {
        let base = error(status: status, data: data, headers: headers, app: app, grant: grant, endpoint: endpoint)
        switch reason {
        case .final, .maybeSent:
            return base
        case .mayHaveBeenUsed:
            var hint: Guidance = "the identity provider failed after the request reached it"
            if let used = TokenClient.mayHaveBeenUsed(grant, app: app) { hint += "; " + used }
            return FlowError(.unreachable, base.message, hint: hint)
        case .retryAfterTooLong(let seconds):
            let wait = "it asked to wait \(seconds) s, longer than the \(maxRetryAfter) s tokvault waits"
            let hint: Guidance =
                status == 429
                ? "the identity provider is throttling requests; try again later (\(wait))"
                : "the identity provider has a problem; try again later (\(wait))"
            return FlowError(.unreachable, base.message, hint: hint)
        case .attemptsExhausted:
            let message = base.message + " (\(attempts) attempts)"
            if status == 429 {
                return FlowError(
                    .unreachable, message,
                    hint: "the identity provider is throttling requests; try again later")
            }
            return FlowError(base.kind, message, hint: base.hint)
        }
    }

    static func kindForBodyless(_ status: Int) -> FlowFailure {
        status == 429 || status >= 500 ? .unreachable : .failed
    }

    static func bodylessHint(_ status: Int, app: App) -> Guidance {
        switch status {
        case 429: return "the identity provider is throttling requests; try again later"
        case 500...599: return "the identity provider has a problem; try again later"
        case 404: return "check the token endpoint of app \"\(app.name)\" (`\(.showApp(app.name))`)"
        default:
            return
                "a proxy or firewall may be answering instead of the identity provider; check `\(.showApp(app.name))` and HTTPS_PROXY"
        }
    }

    static func map(_ body: OAuthErrorBody, status: Int, app: App, grant: TokenClient.Grant, host: String) -> FlowError
    {
        // A claims challenge is kept only when it is a JSON object (it is quoted into a hint).
        let claims = body.claims.flatMap { try? ClaimsRequest.parse($0, option: "claims") }
        var error = mapped(body, claims: claims, status: status, app: app, grant: grant, host: host)
        error.refusal = ProviderRefusal(error: body.error, code: body.aadstsCode, claims: claims)
        return error
    }

    /// Codes of "no federated identity credential matches the assertion" (issuer, subject or audience).
    static let federatedRecordCodes: Set<String> = [
        "AADSTS70021", "AADSTS700211", "AADSTS700212", "AADSTS700213", "AADSTS7002137", "AADSTS7002138"
    ]

    static func mapped(
        _ body: OAuthErrorBody, claims: String?, status: Int, app: App, grant: TokenClient.Grant, host: String
    ) -> FlowError {
        let code = body.aadstsCode
        var message = "the identity provider refused the request: \(Display.printable(body.error))"
        if let summary = body.summary {
            message += " (\(Display.printable(summary)))"
        } else if let code {
            message += " (\(code))"
        }
        var ids: [String] = []
        if let trace = body.traceID { ids.append("trace id \(Display.printable(trace))") }
        if let correlation = body.correlationID { ids.append("correlation id \(Display.printable(correlation))") }
        let idText = ids.isEmpty ? "" : " [\(ids.joined(separator: ", "))]"
        var login: Guidance = "run `\(.signIn(app.name, .plain))`"
        let isCode: Bool = { if case .authorizationCode = grant { return true } else { return false } }()
        let isDevice: Bool = { if case .deviceCode = grant { return true } else { return false } }()
        let isClientCredentials: Bool = { if case .clientCredentials = grant { return true } else { return false } }()
        if isClientCredentials { login = "check the app's credential with `\(.showApp(app.name))`" }

        if code == "AADSTS53003" {
            return FlowError(
                .failed, "access blocked by Conditional Access for app \"\(app.name)\": " + message + idText,
                hint:
                    "a Conditional Access policy refuses this sign-in (device, location or app); signing in again does not help: ask the tenant's administrator which policy applies"
            )
        }
        // A step-up challenge (MFA, an authentication context): a sign-in that satisfies the
        // claims fixes it; the refresh token itself is still good.
        if let claims, !isClientCredentials,
            ["invalid_grant", "interaction_required", "login_required"].contains(body.error)
        {
            let hint: Guidance
            if let word = ClaimsRequest.shellWord(claims) {
                hint =
                    "the provider asks for a step-up sign-in (multi-factor authentication or a Conditional Access authentication context): run `\(.signIn(app.name, .claims(word)))`"
            } else {
                hint =
                    "the provider asks for a step-up sign-in with a claims challenge tokvault does not print: " + login
            }
            return FlowError(
                .loginRequired, "sign-in required for app \"\(app.name)\": " + message + idText, hint: hint)
        }

        switch body.error {
        case "invalid_grant":
            switch code {
            case "AADSTS65001":
                return FlowError(
                    .loginRequired, message + idText,
                    hint:
                        "consent is missing: an administrator must grant consent for the app, or sign in with `\(.signIn(app.name, .consent))`"
                )
            case "AADSTS50076", "AADSTS50079", "AADSTS50158":
                return FlowError(
                    .loginRequired, message + idText,
                    hint: "multi-factor authentication is required: " + login)
            case "AADSTS700082", "AADSTS700084", "AADSTS70043", "AADSTS50173":
                return FlowError(
                    .loginRequired, message + idText,
                    hint: "the sign-in has expired (token lifetime or sign-in frequency policy): " + login)
            case "AADSTS50011":
                return FlowError(.failed, message + idText, hint: redirectHint(app))
            default:
                if isCode {
                    return FlowError(
                        .failed, message + idText,
                        hint:
                            "the authorization code expired, was already used, or does not match this login's PKCE verifier: "
                            + login
                            + " again"
                    )
                }
                return FlowError(
                    .loginRequired,
                    "login required for app \"\(app.name)\": " + message + idText,
                    hint: login)
            }
        case "interaction_required", "login_required", "consent_required":
            return FlowError(
                .loginRequired, "login required for app \"\(app.name)\": " + message + idText,
                hint: code == "AADSTS65001" || body.error == "consent_required"
                    ? "consent is missing: sign in with `\(.signIn(app.name, .consent))`" : login)
        case "authorization_declined", "access_denied":
            return FlowError(
                .failed, "the sign-in was declined: " + message + idText,
                hint: "run `\(.signIn(app.name, isDevice ? .device : .plain))` to try again")
        case "expired_token":
            return FlowError(
                .failed, "the device code expired before the sign-in was completed" + idText,
                hint: "run `\(.signIn(app.name, .device))` again and enter the new code sooner")
        case "bad_verification_code":
            return FlowError(
                .failed, message + idText,
                hint: "run `\(.signIn(app.name, .device))` again")
        case "invalid_client":
            return FlowError(
                .failed, message + idText,
                hint: invalidClientHint(code: code, app: app, isDevice: isDevice))
        case "unauthorized_client":
            return FlowError(
                .failed, message + idText,
                hint:
                    "the app registration does not allow this grant; check its platform settings (redirect URIs, public client flows)"
            )
        case "invalid_scope" where isClientCredentials:
            return FlowError(
                .failed, message + idText,
                hint:
                    "the client credentials flow takes one resource's RESOURCE/.default scope (e.g. api://…/.default or \(app.clientID)/.default), never offline_access or openid: `\(.changeApp(app.name, .scope))`"
            )
        case "invalid_scope":
            return FlowError(
                .failed, message + idText,
                hint: "check the scope of app \"\(app.name)\" (`\(.changeApp(app.name, .scope))`)")
        case "invalid_request":
            if code == "AADSTS50011" || code == "AADSTS500112" || code == "AADSTS50010" {
                return FlowError(.failed, message + idText, hint: redirectHint(app))
            }
            return FlowError(
                .failed, message + idText,
                hint: "check the app's configuration with `\(.showApp(app.name))`")
        case "temporarily_unavailable", "server_error":
            return FlowError(
                .unreachable, message + idText,
                hint: "the identity provider has a problem; try again later")
        case "unsupported_grant_type":
            return FlowError(
                .failed, message + idText,
                hint: "the server at \(host) does not support this grant; check the token endpoint")
        default:
            return FlowError(
                status >= 500 || status == 429 ? .unreachable : .failed,
                message + idText)
        }
    }

    /// Every invalid_client refusal is exit 1 with the provider's message; only the advice depends
    /// on the AADSTS code and on whether the app proves itself with a certificate or a secret.
    static func invalidClientHint(code: String?, app: App, isDevice: Bool) -> Guidance {
        if code == "AADSTS7000218" && isDevice { return publicFlowsHint }
        if app.usesFederatedCredential {
            switch code {
            case "AADSTS700024":
                let source =
                    app.federatedTokenFile.map {
                        "the platform should have replaced \(Display.printable($0)) before it expired (is the pod's token projection mounted?)"
                    }
                    ?? "GitHub issues a fresh one for each grant: check this machine's clock"
                return "the federated token has expired or is not valid yet: \(source)"
            default:
                return
                    "the provider refused the federated assertion: check the app registration's federated credentials (Certificates & secrets → Federated credentials) and the client id \(app.clientID) (`\(.showApp(app.name))`)"
            }
        }
        if app.usesCertificate {
            switch code {
            case "AADSTS700024":
                return
                    "the client assertion's time range was refused: check this machine's clock (assertions are valid for 5 minutes from now)"
            case "AADSTS700023":
                return
                    "the provider expects another audience than the token endpoint \(app.tokenEndpoint) that the assertion names: check the app's tenant and authority host (`\(.showApp(app.name))`)"
            case "AADSTS700021":
                return
                    "the client id \(app.clientID) is not the application the certificate is registered on: check it with `\(.showApp(app.name))`"
            default:
                return
                    "the certificate is not registered on the app, has expired there, or its key was replaced: upload the certificate of `\(.showApp(app.name))` (Certificates & secrets → Certificates) or store the current one with `\(.changeApp(app.name, .certificate))`"
            }
        }
        switch code {
        case "AADSTS7000222":
            return
                "the client secret has expired: create a new one in the app registration and store it with `\(.changeApp(app.name, .secret))`"
        case "AADSTS700025":
            return "the app is registered as a public client: `\(.changeApp(app.name, .publicClient))`"
        case "AADSTS7000218":
            return
                "the app needs a client secret: `\(.changeApp(app.name, .secret))`, or enable 'Allow public client flows' in the app registration"
        default:
            return
                "the client secret (or client id) is wrong: store the current secret with `\(.changeApp(app.name, .secret))`"
        }
    }

    /// No federated identity credential of the app registration matches `presented`, the
    /// assertion sent (`TokenClient.redeem`, which has it).
    static func federatedRecordHint(app: App, presented: FederatedAssertion.Claims) -> Guidance {
        "no federated credential of the app registration \(app.clientID) matches: the assertion presented \(presented.summary) (unverified); compare its issuer, subject and audience with the registration's (Certificates & secrets → Federated credentials)"
    }

    static let publicFlowsHint: Guidance =
        "the device code flow needs the app to be a public client: enable 'Allow public client flows' in the app registration (Authentication → Advanced settings), or store its client secret or certificate in tokvault"

    static func redirectHint(_ app: App) -> Guidance {
        "the redirect URI does not match the app registration: add \(app.redirectURI) under Authentication → Mobile and desktop applications (or Web), or change it with `\(.changeApp(app.name, .redirectURI))`"
    }
}
