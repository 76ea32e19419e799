import Foundation
import TokvaultVault

/// The OIDC `claims` request parameter (OIDC Core §5.5) as Entra ID uses it: a step-up claims
/// challenge (Conditional Access, MFA) and client capabilities (`xms_cc`, e.g. `cp1` for
/// continuous access evaluation). Sent on the authorize and the token requests.
package enum ClaimsRequest {
    /// Longest claims text accepted (Entra's challenges are a few hundred bytes).
    static let maxBytes = 16 * 1024

    /// The JSON object text of `--claims`, given as JSON or base64 (as a `WWW-Authenticate`
    /// header's `claims="…"` carries it). Returned as given (JSON) or decoded, trimmed.
    package static func parse(_ given: String, option: String = "--claims") throws -> String {
        let text = given.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.utf8.count <= maxBytes else {
            throw FlowError.usage(
                "\(option) is \(text.isEmpty ? "empty" : "longer than \(maxBytes / 1024) KiB")",
                hint:
                    "give the claims challenge as JSON, e.g. '{\"access_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}}}'"
            )
        }
        if isJSONObject(text) { return text }
        // base64 or base64url, with or without padding.
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        if let data = Data(base64Encoded: standard), let decoded = String(data: data, encoding: .utf8) {
            let json = decoded.trimmingCharacters(in: .whitespacesAndNewlines)
            if isJSONObject(json) { return json }
        }
        throw FlowError.usage(
            "\(option) is neither a JSON object nor base64 of one",
            hint: "copy the claims value of the error or of the API's WWW-Authenticate header as it is")
    }

    static func isJSONObject(_ text: String) -> Bool {
        guard text.hasPrefix("{"), let data = text.data(using: .utf8) else { return false }
        return (try? JSONSerialization.jsonObject(with: data)) is [String: Any]
    }

    /// What to send: the challenge `claims` (if any) with the app's client capabilities merged
    /// in as `access_token.xms_cc.values`, as MSAL does; nil when there is neither.
    package static func merged(_ claims: String?, capabilities: [String]) -> String? {
        guard !capabilities.isEmpty else { return claims }
        var object: [String: Any] = [:]
        if let claims, let data = claims.data(using: .utf8),
            let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            object = parsed
        }
        var accessToken = object["access_token"] as? [String: Any] ?? [:]
        accessToken["xms_cc"] = ["values": capabilities]
        object["access_token"] = accessToken
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return claims }
        return text
    }

    /// The challenge as one shell word for a hint (`'…'`), or nil when it is not a JSON object
    /// of printable ASCII (a server's value is never echoed into a command line otherwise).
    package static func shellWord(_ claims: String) -> String? {
        guard isJSONObject(claims) else { return nil }
        // In valid JSON, control characters can only be whitespace between tokens.
        let flat = String(
            claims.unicodeScalars.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : Character($0) })
        guard flat.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
        return "'" + flat.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
