import Foundation
import TokvaultFlow
import TokvaultVault

/// What `tokvault curl` says after an API refused the token: the last response head curl
/// dumped (-D) is a 401 whose `WWW-Authenticate` names an RFC 6750 error. No retry: the user
/// decides whether to refresh or sign in again.
package enum ResponseHint {
    package static func after(headerDump: [UInt8], appName: String) -> String? {
        let text = String(decoding: headerDump, as: UTF8.self)
        // Each response (a redirect, a 100 Continue, the final one) starts with its status line.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard let start = lines.lastIndex(where: { $0.hasPrefix("HTTP/") }) else { return nil }
        let status = lines[start].split(separator: " ").dropFirst().first.flatMap { Int($0) }
        guard status == 401 else { return nil }
        let challenges = lines[(start + 1)...].compactMap { line -> String? in
            guard let colon = line.firstIndex(of: ":"),
                line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "www-authenticate"
            else { return nil }
            return String(line[line.index(after: colon)...])
        }
        let joined = challenges.joined(separator: ", ").lowercased().replacingOccurrences(of: " ", with: "")
        if joined.contains("insufficient_claims") {
            let command =
                claimsParameter(challenges.joined(separator: ", ")).map { "tokvault login \(appName) --claims '\($0)'" }
                ?? "tokvault login \(appName)"
            return
                "the API asks for a token with more claims (insufficient_claims: a Conditional Access or MFA step-up); "
                + "sign in again with `\(command)`"
        }
        if joined.contains("error=\"invalid_token\"") || joined.contains("error=invalid_token") {
            return "the API refused the token (invalid_token: expired, revoked, or for another audience); "
                + "check the app's scope (`tokvault show \(appName)`), or get a new one with `tokvault refresh \(appName)`"
        }
        return nil
    }

    /// The `claims="…"` of a challenge (base64 of a JSON object, as Entra-protected APIs send
    /// it), when it is one: only base64 characters are echoed into the command.
    static func claimsParameter(_ challenges: String) -> String? {
        guard let key = challenges.range(of: "claims=\"", options: .caseInsensitive) else { return nil }
        let value = challenges[key.upperBound...].prefix { $0 != "\"" }
        guard !value.isEmpty, value.count <= 8192,
            value.unicodeScalars.allSatisfy({
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || "+/=-_".unicodeScalars.contains($0)
            }),
            (try? ClaimsRequest.parse(String(value))) != nil
        else { return nil }
        return String(value)
    }
}
