import Foundation
import TokvaultVault

/// The authorization request (RFC 6749 §4.1.1 + PKCE + OIDC nonce).
package struct AuthorizeRequest: Sendable {
    package enum ResponseMode: String, Sendable {
        case query
        case formPost = "form_post"
    }

    package var app: App
    package var redirectURI: String
    package var secrets: LoginSecrets
    package var responseMode: ResponseMode = .query
    package var prompt: String?
    package var loginHint: String?
    package var domainHint: String?
    /// A claims request (JSON, `ClaimsRequest`): a step-up challenge and client capabilities.
    package var claims: String?

    package init(app: App, redirectURI: String, secrets: LoginSecrets) {
        self.app = app
        self.redirectURI = redirectURI
        self.secrets = secrets
    }

    package var wantsIDToken: Bool { app.scope.split(separator: " ").contains("openid") }

    /// The URL the browser opens. It holds no secret: the PKCE challenge is a hash, and
    /// `state`/`nonce` are single-use values that are worthless without the verifier.
    package var url: String {
        var fields: [(String, String)] = [
            ("client_id", app.clientID),
            ("response_type", "code"),
            ("redirect_uri", redirectURI),
            ("scope", app.scope),
            ("state", secrets.state),
            ("code_challenge", secrets.codeChallenge),
            ("code_challenge_method", "S256"),
            ("response_mode", responseMode.rawValue)
        ]
        if wantsIDToken { fields.append(("nonce", secrets.nonce)) }
        if let prompt { fields.append(("prompt", prompt)) }
        if let loginHint { fields.append(("login_hint", loginHint)) }
        if let domainHint { fields.append(("domain_hint", domainHint)) }
        if let claims { fields.append(("claims", claims)) }
        let query = fields.map { "\($0.0)=\(FormEncoding.encode($0.1))" }.joined(separator: "&")
        return app.authorizeEndpoint + (app.authorizeEndpoint.contains("?") ? "&" : "?") + query
    }
}

/// What came back to the redirect URI.
package enum AuthorizationResponse: Equatable, Sendable {
    /// A code and the state it came with.
    case code(String, state: String?)
    /// `error=…&error_description=…` from the authorization server.
    case error(String, description: String?, state: String?)
}

package enum RedirectParser {
    /// Parses redirect parameters (a query string or a form_post body). Duplicated
    /// `code`/`state`/`error` parameters are refused: which one is real cannot be told.
    package static func parse(parameters: Substring) throws -> AuthorizationResponse {
        guard let fields = FormEncoding.parse(parameters) else {
            throw FlowError.failure("the redirect carried malformed parameters")
        }
        for key in ["code", "state", "error"] where fields.filter({ $0.name == key }).count > 1 {
            throw FlowError.failure("the redirect carried more than one \"\(key)\" parameter; refusing it")
        }
        func value(_ key: String) -> String? { fields.first { $0.name == key }?.value }
        if let error = value("error") {
            return .error(error, description: value("error_description"), state: value("state"))
        }
        guard let code = value("code"), !code.isEmpty else {
            throw FlowError.failure("the redirect carried neither a code nor an error")
        }
        return .code(code, state: value("state"))
    }

    /// What a user pasted: the whole redirect URL from the address bar, or the bare code.
    package static func parsePasted(_ text: String) throws -> AuthorizationResponse {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw FlowError.usage("nothing was pasted") }
        if let q = trimmed.firstIndex(of: "?"), trimmed.contains("://") || trimmed.hasPrefix("/") {
            var query = trimmed[trimmed.index(after: q)...]
            if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
            return try parse(parameters: query)
        }
        if trimmed.contains("code=") {
            return try parse(parameters: trimmed[...])
        }
        // A bare code: printable ASCII without separators. PKCE still binds it to this login.
        guard
            trimmed.unicodeScalars.allSatisfy({
                $0.value > 0x20 && $0.value < 0x7F && $0 != "&" && $0 != "?" && $0 != "="
            })
        else {
            throw FlowError.usage("that is neither a redirect URL nor an authorization code")
        }
        return .code(trimmed, state: nil)
    }

    /// A URL fit for error messages: `code`, `state`, `code_verifier`, `client_secret`,
    /// `password` and tokens removed from the query.
    package static func redacted(_ url: String) -> String {
        guard let q = url.firstIndex(of: "?") else { return url }
        let sensitive: Set<String> = [
            "code", "state", "code_verifier", "client_secret", "password", "access_token",
            "refresh_token", "id_token", "assertion", "client_assertion"
        ]
        let base = url[..<q]
        let kept = url[url.index(after: q)...].split(separator: "&").map { part -> String in
            let name = part.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return sensitive.contains(name.lowercased()) ? "\(name)=REDACTED" : String(part)
        }
        return base + "?" + kept.joined(separator: "&")
    }
}
