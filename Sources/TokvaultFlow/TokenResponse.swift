import Foundation
import TokvaultVault

/// A successful token endpoint answer (RFC 6749 §5.1). Token strings are moved into guarded
/// memory as soon as they are decoded.
package struct TokenResponse: Sendable {
    package var tokenSet: TokenSet
    package var expiresIn: Int64
    package var idTokenClaims: IDTokenClaims?
    /// Why the answer's `id_token` could not be read (not a JWT, claims not JSON); the token
    /// set then carries no ID token and no account. `login` refuses such an answer, a refresh
    /// keeps its new access and refresh tokens (`validateIDToken`).
    package var idTokenProblem: FlowError?

    /// The ID token's checks (OIDC Core 3.1.3.7): throws when it could not be read or fails
    /// `IDTokenClaims.validate`. An answer without an ID token passes.
    package func validateIDToken(clientID: String, expectedIssuer: String?, nonce: String?, now: Int64) throws {
        if let idTokenProblem { throw idTokenProblem }
        try idTokenClaims?.validate(clientID: clientID, expectedIssuer: expectedIssuer, nonce: nonce, now: now)
    }

    /// Why the ID token cannot be trusted, in words that fit after "the ID token …", or nil
    /// when it passes (or there is none).
    package func idTokenFailure(clientID: String, expectedIssuer: String?, nonce: String?, now: Int64) -> String? {
        if let idTokenProblem { return idTokenProblem.message }
        return idTokenClaims?.failure(clientID: clientID, expectedIssuer: expectedIssuer, nonce: nonce, now: now)
            .map { "the ID token failed validation: " + $0 }
    }
}

/// An error answer (RFC 6749 §5.2), with Microsoft's extra fields when present.
package struct OAuthErrorBody: Decodable, Sendable, Equatable {
    package var error: String
    package var errorDescription: String?
    package var errorCodes: [Int]?
    package var traceID: String?
    package var correlationID: String?
    package var suberror: String?
    /// Entra's claims challenge (JSON text) of an `interaction_required`-kind refusal.
    package var claims: String?

    enum CodingKeys: String, CodingKey {
        case error, suberror, claims
        case errorDescription = "error_description"
        case errorCodes = "error_codes"
        case traceID = "trace_id"
        case correlationID = "correlation_id"
    }

    /// `AADSTS70008` from the description or the first of `error_codes`.
    package var aadstsCode: String? {
        if let description = errorDescription,
            let range = description.range(of: #"AADSTS[0-9]+"#, options: .regularExpression)
        {
            return String(description[range])
        }
        return errorCodes?.first.map { "AADSTS\($0)" }
    }

    /// The first line of the description (Azure appends trace and correlation ids on new lines).
    package var summary: String? {
        errorDescription?.split(whereSeparator: \.isNewline).first.map {
            String($0).trimmingCharacters(in: .whitespaces)
        }
    }
}

enum TokenResponseParser {
    private struct Body: Decodable {
        var accessToken: String?
        var tokenType: String?
        var expiresIn: FlexibleInt?
        var refreshToken: String?
        var idToken: String?
        var scope: String?
        var refreshExpiresIn: LenientInt?

        enum CodingKeys: String, CodingKey {
            case scope
            case refreshExpiresIn = "refresh_expires_in"
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case refreshToken = "refresh_token"
            case idToken = "id_token"
        }
    }

    /// `expires_in` as a number or a numeric string (both are seen in the wild).
    struct FlexibleInt: Decodable {
        var value: Int64
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let n = try? container.decode(Int64.self) {
                value = n
                return
            }
            if let d = try? container.decode(Double.self), d.isFinite {
                // Saturated: Int64(d) traps beyond ±2^63 (e.g. 1e300); callers clamp the value anyway.
                value = d >= 0x1p63 ? .max : d < -0x1p63 ? .min : Int64(d)
                return
            }
            let s = try container.decode(String.self)
            guard let n = Int64(s.trimmingCharacters(in: .whitespaces)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expires_in is not a number")
            }
            value = n
        }
    }

    /// An optional number that never fails the answer: a value that is not one reads as absent
    /// (`refresh_expires_in` is informational; the tokens must not be lost over it).
    struct LenientInt: Decodable {
        var value: Int64?
        init(from decoder: Decoder) throws { value = (try? FlexibleInt(from: decoder))?.value }
    }

    /// Parses a 200 answer; `now` is when the response arrived (expiry is counted from then).
    static func parseSuccess(_ data: Data, now: Int64, endpoint: String) throws -> TokenResponse {
        guard let body = try? JSONDecoder().decode(Body.self, from: data) else {
            throw FlowError.failure(
                "the token endpoint \(endpoint) answered 200 with a body that is not a token response")
        }
        guard var access = body.accessToken, !access.isEmpty else {
            throw FlowError.failure("the token endpoint \(endpoint) answered without an access_token")
        }
        let tokenType = body.tokenType ?? "Bearer"
        guard tokenType.lowercased() == "bearer" || tokenType.lowercased() == "pop" else {
            throw FlowError.failure(
                "the token endpoint answered token_type \"\(Display.printable(tokenType))\"; tokvault handles Bearer tokens"
            )
        }
        // Without expires_in, assume one hour (RFC 6749 leaves it optional; Azure always sends it).
        let expiresIn = max(0, min(body.expiresIn?.value ?? 3600, 366 * 86400))
        var accessBytes = Array(access.utf8)
        access = ""
        func secure(_ text: String?) -> SecureBytes? {
            guard var bytes = text.map({ Array($0.utf8) }), !bytes.isEmpty else { return nil }
            return SecureBytes(consuming: &bytes)
        }
        // An unreadable ID token is reported, not thrown: the access and refresh tokens of the
        // same answer must not be lost with it (a refresh token may just have been rotated).
        var claims: IDTokenClaims?
        var problem: FlowError?
        if let idToken = body.idToken {
            do { claims = try IDTokenClaims.decode(idToken) } catch let error as FlowError { problem = error }
        }
        let set = TokenSet(
            accessToken: SecureBytes(consuming: &accessBytes), tokenType: "Bearer", expiresAt: now + expiresIn,
            grantedScope: body.scope, refreshToken: secure(body.refreshToken),
            idToken: problem == nil ? secure(body.idToken) : nil, account: claims?.account,
            // Keycloak and others: 0 means "does not expire" (offline tokens).
            refreshExpiresAt: body.refreshToken == nil
                ? nil : body.refreshExpiresIn?.value.flatMap { $0 > 0 ? now + min($0, 10 * 366 * 86400) : nil })
        return TokenResponse(tokenSet: set, expiresIn: expiresIn, idTokenClaims: claims, idTokenProblem: problem)
    }
}

/// The claims tokvault reads from an ID token. The signature is not checked: the token came
/// straight from the token endpoint over TLS (OIDC Core 3.1.3.7, point 6).
package struct IDTokenClaims: Decodable, Sendable, Equatable {
    package var iss: String?
    package var aud: Audience?
    package var exp: Int64?
    package var nonce: String?
    package var tid: String?
    package var preferredUsername: String?
    package var upn: String?
    package var email: String?
    package var name: String?

    enum CodingKeys: String, CodingKey {
        case iss, aud, exp, nonce, tid, upn, email, name
        case preferredUsername = "preferred_username"
    }

    /// `aud` is a string or an array of strings.
    package struct Audience: Decodable, Sendable, Equatable {
        package var values: [String]
        package init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
        }
    }

    package var account: String? { preferredUsername ?? upn ?? email ?? name }

    static func decode(_ jwt: String) throws -> IDTokenClaims {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let payload = Sodium.decodeBase64URL(
                String(parts[1]).replacingOccurrences(of: "=", with: ""), into: parts[1].utf8.count)
        else {
            throw FlowError.failure("the token endpoint returned an id_token that is not a JWT")
        }
        let data = payload.withUnsafeBytes { Data($0) }
        guard let claims = try? JSONDecoder().decode(IDTokenClaims.self, from: data) else {
            throw FlowError.failure("the token endpoint returned an id_token whose claims are not JSON")
        }
        return claims
    }

    /// OIDC Core 3.1.3.7: issuer, audience, expiry and nonce. `expectedIssuer` may contain
    /// Azure's `{tenantid}` template, filled from the `tid` claim.
    package func validate(clientID: String, expectedIssuer: String?, nonce expectedNonce: String?, now: Int64) throws {
        if let why = failure(clientID: clientID, expectedIssuer: expectedIssuer, nonce: expectedNonce, now: now) {
            throw FlowError.failure(
                "the ID token failed validation: \(why); the tokens were not stored",
                hint: "this points at a misconfigured app or a tampered response; try `\(.signIn(nil, .plain))` again")
        }
    }

    /// The first check `validate` fails, as "its audience is not …", or nil.
    package func failure(clientID: String, expectedIssuer: String?, nonce expectedNonce: String?, now: Int64) -> String?
    {
        guard aud?.values.contains(clientID) == true else { return "its audience is not client id \(clientID)" }
        // `exp` is the server's number: compared without arithmetic on it (exp + 300 traps
        // for an exp near Int64.max); `now` is this machine's clock.
        if let exp, exp < now - 300 { return "it expired at \(exp)" }
        if let expectedNonce {
            guard let nonce, Sodium.constantTimeEquals(Array(nonce.utf8), Array(expectedNonce.utf8)) else {
                return "its nonce does not match this login"
            }
        }
        if var issuer = expectedIssuer {
            if issuer.contains("{tenantid}") {
                guard let tid else { return "it has no tid to check the issuer against" }
                issuer = issuer.replacingOccurrences(of: "{tenantid}", with: tid)
            }
            guard iss == issuer else {
                return "its issuer \(Display.printable(iss ?? "(none)")) is not \(Display.printable(issuer))"
            }
        }
        return nil
    }
}
