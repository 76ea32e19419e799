// Conditional Access at the token endpoint: a policy that blocks token issuance (AADSTS53003) and
// a claims challenge (AADSTS50076 with `claims`, what authentication context and continuous access
// evaluation produce) that the refresh_token and authorization_code grants must satisfy. Both are
// checked after the grant itself is found valid and before it is spent: a refused refresh token or
// code stays usable, as Azure keeps the refresh token of an interaction-required refusal.

import Foundation

/// Microsoft Graph's application id, the resource Azure names for scopes without one ("User.Read").
private let graphResourceID = "00000003-0000-0000-c000-000000000000"

extension FakeIdPCore {
    /// nil when the grant may issue tokens; otherwise Azure's refusal. `claims` are the `claims`
    /// parameters that count for this grant (the token request's and, for a code, its authorize
    /// request's); any one of them satisfying the challenge is enough.
    func conditionalAccessRefusal(
        scope: String, claims: [String?],
        detailedError: (Int, String, Int, String, [(String, JSON)]) -> FakeResponse
    ) -> FakeResponse? {
        if conditionalAccessBlock {
            return detailedError(
                400, "invalid_grant", 53003,
                "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
                [])
        }
        guard let challenge = claimsChallenge else { return nil }
        if claims.contains(where: { claimsSatisfy($0, challenge: challenge) }) { return nil }
        stats.claimsChallengesSent += 1
        return detailedError(
            400, "invalid_grant", 50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '\(resource(of: scope))'.",
            [("suberror", .string("basic_action")), ("claims", .string(challenge))])
    }

    /// The resource Azure names in AADSTS50076: the first scope's resource ("api://x" for
    /// "api://x/.default"), Microsoft Graph for bare scope names and the OpenID Connect ones.
    private func resource(of scope: String) -> String {
        let oidc: Set<String> = ["openid", "profile", "email", "offline_access"]
        guard let first = scope.split(separator: " ").first(where: { !oidc.contains($0.lowercased()) }),
            let slash = first.lastIndex(of: "/"), slash != first.startIndex
        else { return graphResourceID }
        return String(first[..<slash])
    }
}

/// Whether the `claims` request parameter `requested` (JSON text) satisfies the claims challenge
/// `challenge` (JSON text): every member of the challenge's "access_token" object is in the
/// request's "access_token" object with the same value (objects compared member by member, so the
/// request may add its own, such as MSAL's `xms_cc` client capabilities). A challenge that is
/// not a JSON object with an "access_token" object is satisfied by a request containing every
/// top-level member of it in the same way.
func claimsSatisfy(_ requested: String?, challenge: String) -> Bool {
    guard let requested, let request = jsonObject(requested), let required = jsonObject(challenge) else {
        return false
    }
    if let requiredAccess = required["access_token"] as? [String: Any] {
        guard let access = request["access_token"] as? [String: Any] else { return false }
        return contains(access, requiredAccess)
    }
    return contains(request, required)
}

private func jsonObject(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

private func contains(_ actual: Any, _ required: Any) -> Bool {
    if let required = required as? [String: Any] {
        guard let actual = actual as? [String: Any] else { return false }
        return required.allSatisfy { key, value in actual[key].map { contains($0, value) } ?? false }
    }
    // Strings, numbers, booleans, arrays: equal when they serialize alike.
    return canonical(actual) != nil && canonical(actual) == canonical(required)
}

private func canonical(_ value: Any) -> Data? {
    try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
}
