// GET /github-actions/idtoken: a stand-in for the OIDC token service a GitHub Actions job reaches
// through ACTIONS_ID_TOKEN_REQUEST_URL (which already carries "?api-version=2.0"; the client adds
// "&audience=...") with "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN". The token is signed
// by the fake's workload key, so a client registered with a matching federated credential can
// exchange it at the token endpoint. The request token is a secret: it is compared, never recorded.

import Foundation

/// Seconds a minted GitHub Actions token stays valid (GitHub: about five minutes).
let githubActionsTokenLifetime = 300

extension FakeIdPCore {
    func githubActionsToken(_ request: FakeRequest) -> FakeResponse {
        guard let github = config.githubActions else { return notFound(request.path) }
        guard request.method == "GET" else {
            return .json(405, .object([("message", .string("Method \(request.method) is not allowed; use GET."))]))
        }
        let authorization = request.header("authorization") ?? ""
        let scheme = "bearer "
        guard authorization.lowercased().hasPrefix(scheme),
            constantTimeEqual(String(authorization.dropFirst(scheme.count)), github.requestToken)
        else {
            return .json(
                401,
                .object([("message", .string("Unauthorized: the bearer token is missing, malformed or not valid."))]))
        }
        let p: [String: String]
        do { p = try parseForm(request.query) } catch {
            return .json(400, .object([("message", .string("The query string is malformed."))]))
        }
        let audience = p["audience"].flatMap { $0.isEmpty ? nil : $0 } ?? github.defaultAudience
        let issuedAt = Int(now())
        let token = workloadIssuer.mint(
            issuer: github.issuer, subject: github.subject, audience: audience, issuedAt: issuedAt,
            notBefore: issuedAt, expires: issuedAt + githubActionsTokenLifetime)
        stats.githubTokenRequests += 1
        stats.lastGitHubAudience = audience
        return .json(200, .object([("count", .int(token.utf8.count)), ("value", .string(token))]))
    }
}
