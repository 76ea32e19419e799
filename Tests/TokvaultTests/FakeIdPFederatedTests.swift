// Tests of the fake identity provider: federated identity credentials (workload identity
// federation, FederatedCredentials.swift) and the GitHub Actions OIDC stand-in
// (GitHubActionsEndpoint.swift). Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

/// A client that authenticates only with federated credentials: an AKS service account and a
/// GitHub Actions workflow on main.
private let federatedID = "66666666-5555-4444-3333-222222222222"
private let aksIssuer = "https://eastus.oic.prod-aks.azure.com/00000000-0000-0000-0000-0000000000aa/cluster/"
private let aksSubject = "system:serviceaccount:deploy:tokvault"
private let exchangeAudience = "api://AzureADTokenExchange"
private let githubIssuer = "https://token.actions.githubusercontent.com"
private let githubSubject = "repo:contoso/deploy:ref:refs/heads/main"
private let requestToken = "ghs-request-token-Zx81"

private func federatedIdP(
    githubActions: FakeGitHubActions? = nil, logger: (@Sendable (String) -> Void)? = nil
) throws -> IdP {
    try IdP { configuration in
        configuration.clients.append(
            FakeClient(
                clientID: federatedID, clientSecret: "also-a-secret", redirectURIs: ["http://localhost"],
                federatedCredentials: [
                    FakeFederatedCredential(issuer: aksIssuer, subject: aksSubject),
                    FakeFederatedCredential(issuer: githubIssuer, subject: githubSubject)
                ]))
        configuration.githubActions = githubActions
        configuration.requestLogger = logger
    }
}

/// The header and payload of a compact JWS.
private func jwtParts(_ token: String) throws -> (header: [String: Any], claims: [String: Any]) {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    try #require(parts.count == 3)
    let headerBytes = try #require(base64URLDecode(parts[0]))
    let claimBytes = try #require(base64URLDecode(parts[1]))
    let header = try #require(try JSONSerialization.jsonObject(with: headerBytes) as? [String: Any])
    let claims = try #require(try JSONSerialization.jsonObject(with: claimBytes) as? [String: Any])
    return (header, claims)
}

private final class LineBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var lines: [String] { lock.withLock { stored } }
}

@Suite struct FakeIdPFederatedTests {
    @Test func federatedAssertionGetsAnAppOnlyToken() throws {
        let idp = try federatedIdP()
        let token = idp.provider.mintFederatedToken(issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience)
        let (header, claims) = try jwtParts(token)
        #expect(header["alg"] as? String == "ES256" && header["typ"] as? String == "JWT")
        #expect((header["kid"] as? String)?.isEmpty == false)
        #expect(claims["iss"] as? String == aksIssuer)
        #expect(claims["sub"] as? String == aksSubject)
        #expect(claims["aud"] as? String == exchangeAudience)
        let iat = try #require(claims["iat"] as? Int)
        #expect(abs(iat - Int(Date().timeIntervalSince1970)) < 5)
        #expect(claims["nbf"] as? Int == iat && claims["exp"] as? Int == iat + 600)
        #expect((claims["jti"] as? String)?.isEmpty == false)

        let reply = idp.clientCredentials(client: federatedID, extra: assertionForm(token))
        #expect(reply.status == 200, "\(reply)")
        #expect(reply.json["token_type"] as? String == "Bearer")
        #expect(reply.json["refresh_token"] == nil)
        let info = try #require(idp.provider.accessTokenInfo(reply.json["access_token"] as? String ?? ""))
        #expect(info.clientID == federatedID && info.userOID == nil && info.scope == "api://tokvault-test/.default")
        // The same token again (a pod re-reads its projected token file until it rotates).
        #expect(idp.clientCredentials(client: federatedID, extra: assertionForm(token)).status == 200)

        let stats = idp.provider.stats
        #expect(stats.federatedGrants == 2)
        #expect(stats.lastFederatedSubject == aksSubject)
        #expect(stats.tokenLog.last?.clientAuth == .assertion)
        #expect(stats.assertionsRejected.isEmpty)
        // The client's secret still works without an assertion.
        let bySecret = idp.clientCredentials(client: federatedID, extra: [("client_secret", "also-a-secret")])
        #expect(bySecret.status == 200, "\(bySecret)")
        #expect(idp.provider.stats.federatedGrants == 2)
    }

    @Test func unmatchedRecordNamesIssuerSubjectAndAudience() throws {
        let idp = try federatedIdP()
        let wrongSubject = idp.clientCredentials(
            client: federatedID,
            extra: assertionForm(
                idp.provider.mintFederatedToken(
                    issuer: aksIssuer, subject: "system:serviceaccount:default:other", audience: exchangeAudience)))
        expectAzureError(wrongSubject, status: 400, error: "invalid_request", code: 70021)
        #expect(
            descriptionOf(wrongSubject).hasPrefix(
                "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '\(aksIssuer)'. Assertion Subject: 'system:serviceaccount:default:other'. Assertion Audience: '\(exchangeAudience)'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation\r\nTrace ID: "
            ))

        let wrongAudience = idp.clientCredentials(
            client: federatedID,
            extra: assertionForm(
                idp.provider.mintFederatedToken(issuer: aksIssuer, subject: aksSubject, audience: "api://other")))
        expectAzureError(wrongAudience, status: 400, error: "invalid_request", code: 70021)
        #expect(descriptionOf(wrongAudience).contains("Assertion Audience: 'api://other'."))

        // Issuers compare exactly: the GitHub issuer with a trailing slash is another issuer.
        let slashed = idp.clientCredentials(
            client: federatedID,
            extra: assertionForm(
                idp.provider.mintFederatedToken(
                    issuer: githubIssuer + "/", subject: githubSubject, audience: exchangeAudience)))
        expectAzureError(slashed, status: 400, error: "invalid_request", code: 70021)
        #expect(descriptionOf(slashed).contains("Assertion Issuer: '\(githubIssuer)/'."))

        // The AKS subject under the GitHub issuer: each record matches as a whole.
        let crossed = idp.clientCredentials(
            client: federatedID,
            extra: assertionForm(
                idp.provider.mintFederatedToken(issuer: githubIssuer, subject: aksSubject, audience: exchangeAudience)))
        expectAzureError(crossed, status: 400, error: "invalid_request", code: 70021)

        let stats = idp.provider.stats
        #expect(stats.assertionsRejected == ["federated_no_match": 4])
        #expect(stats.federatedGrants == 0 && stats.tokensIssued == 0)
        #expect(stats.lastFederatedSubject == nil)
    }

    @Test func assertionOutsideItsTimeRangeIsRefused() throws {
        let idp = try federatedIdP()
        func send(_ token: String) -> Reply { idp.clientCredentials(client: federatedID, extra: assertionForm(token)) }

        let expired = send(
            idp.provider.mintFederatedToken(
                issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience, lifetime: -60))
        expectAzureError(expired, status: 401, error: "invalid_client", code: 700024)
        #expect(
            descriptionOf(expired).hasPrefix(
                "AADSTS700024: Client assertion is not within its valid time range. Current time: "))
        #expect(descriptionOf(expired).contains(", assertion valid from "))
        #expect(descriptionOf(expired).contains(", expiry time of assertion "))

        let future = Int(Date().timeIntervalSince1970) + 3600
        expectAzureError(
            send(
                idp.provider.mintFederatedToken(
                    issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience, lifetime: 7200,
                    notBefore: future)),
            status: 401, error: "invalid_client", code: 700024)

        // A token valid now expires on the fake's clock.
        let token = idp.provider.mintFederatedToken(issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience)
        #expect(send(token).status == 200)
        idp.provider.advanceClock(seconds: 601)
        expectAzureError(send(token), status: 401, error: "invalid_client", code: 700024)

        #expect(idp.provider.stats.assertionsRejected == ["federated_time": 3])
        #expect(idp.provider.stats.federatedGrants == 1)
    }

    @Test func forgedAssertionsAreRefused() throws {
        let idp = try federatedIdP()
        func send(_ token: String) -> Reply { idp.clientCredentials(client: federatedID, extra: assertionForm(token)) }
        let good = idp.provider.mintFederatedToken(issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience)
        let parts = good.split(separator: ".")
        let (header, claims) = try jwtParts(good)
        let kid = try #require(header["kid"] as? String)

        // Claims swapped after signing (another subject that is registered too).
        var other = claims
        other["iss"] = githubIssuer
        other["sub"] = githubSubject
        let swapped = send("\(parts[0]).\(jsonSegment(other)).\(parts[2])")
        expectAzureError(swapped, status: 401, error: "invalid_client", code: 50013)
        #expect(descriptionOf(swapped).contains("Assertion failed signature validation."))
        // A signature that is not base64url of 64 bytes.
        expectAzureError(
            send("\(parts[0]).\(parts[1]).\(String(parts[2].dropLast(4)))"), status: 401, error: "invalid_client",
            code: 50013)

        // Another fake's workload key: its kid is not this issuer's.
        let stranger = try IdP()
        let foreign = stranger.provider.mintFederatedToken(
            issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience)
        let unknownKey = send(foreign)
        expectAzureError(unknownKey, status: 401, error: "invalid_client", code: 7_000_272)
        #expect(
            descriptionOf(unknownKey).contains("could not be found in the metadata of identity provider \(aksIssuer)"))
        // ... nor does relabelling it with this fake's kid make its signature verify.
        let foreignParts = foreign.split(separator: ".")
        let relabelled = jsonSegment(["alg": "ES256", "typ": "JWT", "kid": kid])
        expectAzureError(
            send("\(relabelled).\(foreignParts[1]).\(foreignParts[2])"), status: 401, error: "invalid_client",
            code: 50013)

        // An RSA-signed token without a certificate thumbprint is a federated one with an unknown key.
        var rsaClaims = assertionClaims(audience: exchangeAudience, client: federatedID)
        rsaClaims["iss"] = aksIssuer
        rsaClaims["sub"] = aksSubject
        expectAzureError(
            send(try makeAssertion(claims: rsaClaims, header: ["x5t#S256": nil])), status: 401,
            error: "invalid_client", code: 7_000_272)

        #expect(
            idp.provider.stats.assertionsRejected == ["federated_signature": 3, "federated_unknown_key": 2])
        #expect(idp.provider.stats.federatedGrants == 0 && idp.provider.stats.tokensIssued == 0)
        #expect(send(good).status == 200)
    }

    @Test func secretWithAssertionAndOtherGrantsAreRefused() throws {
        let idp = try federatedIdP()
        let token = idp.provider.mintFederatedToken(issuer: aksIssuer, subject: aksSubject, audience: exchangeAudience)
        let both = idp.clientCredentials(
            client: federatedID, extra: assertionForm(token) + [("client_secret", "also-a-secret")])
        expectAzureError(both, status: 400, error: "invalid_request", code: 9_002_313)
        #expect(descriptionOf(both).contains("A client secret and a client assertion were both sent"))
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .both)
        let basicToo = idp.clientCredentials(
            client: federatedID, extra: assertionForm(token), headers: [basicHeader(federatedID, "also-a-secret")])
        expectAzureError(basicToo, status: 400, error: "invalid_request", code: 9_002_313)

        // Only the client credentials grant takes a federated assertion.
        let refresh = http(
            "POST", idp.tokenURL,
            form: [
                ("grant_type", "refresh_token"), ("client_id", federatedID), ("refresh_token", "fake-rt-x"),
                ("scope", "openid offline_access")
            ] + assertionForm(token))
        expectAzureError(refresh, status: 400, error: "invalid_request", code: 9_002_313)
        #expect(descriptionOf(refresh).contains("only with grant_type 'client_credentials'"))
        // A client without federated credentials checks it as a certificate assertion: not RSA.
        expectAzureError(
            idp.clientCredentials(client: confidentialID, extra: assertionForm(token)), status: 400,
            error: "invalid_request", code: 5_002_730)

        #expect(idp.provider.stats.federatedGrants == 0 && idp.provider.stats.tokensIssued == 0)
        #expect(idp.provider.stats.assertionsRejected == ["federated_grant": 1, "alg": 1])
    }

    @Test func githubActionsStandInMintsExchangeableTokens() throws {
        let lines = LineBox()
        let idp = try federatedIdP(
            githubActions: FakeGitHubActions(requestToken: requestToken), logger: { lines.append($0) })
        let url = idp.provider.githubActionsRequestURL
        #expect(url == "\(idp.base)/github-actions/idtoken?api-version=2.0")

        let reply = http(
            "GET", url + "&audience=" + percentEncode(exchangeAudience),
            headers: ["Authorization: bearer \(requestToken)"])
        #expect(reply.status == 200, "\(reply)")
        #expect(reply.header("content-type")?.hasPrefix("application/json") == true)
        let value = try #require(reply.json["value"] as? String)
        #expect(reply.json["count"] as? Int == value.utf8.count)
        let (header, claims) = try jwtParts(value)
        #expect(header["alg"] as? String == "ES256" && header["kid"] is String)
        #expect(claims["iss"] as? String == githubIssuer)
        #expect(claims["sub"] as? String == githubSubject)
        #expect(claims["aud"] as? String == exchangeAudience)
        let iat = try #require(claims["iat"] as? Int)
        #expect(claims["exp"] as? Int == iat + 300)

        let exchanged = idp.clientCredentials(client: federatedID, extra: assertionForm(value))
        #expect(exchanged.status == 200, "\(exchanged)")
        #expect(idp.provider.stats.lastFederatedSubject == githubSubject)

        // The scheme is case-insensitive, as GitHub's toolkit sends "bearer".
        #expect(http("GET", url, headers: ["Authorization: Bearer \(requestToken)"]).status == 200)
        let stats = idp.provider.stats
        #expect(stats.githubTokenRequests == 2)
        #expect(stats.federatedGrants == 1)
        // The request token travels in a header only; the log has method, path and status.
        #expect(lines.lines.contains("GET /github-actions/idtoken 200"))
        #expect(!lines.lines.contains { $0.contains(requestToken) })
    }

    @Test func githubActionsStandInRefusesBadRequestTokens() throws {
        let idp = try federatedIdP(githubActions: FakeGitHubActions(requestToken: requestToken))
        let url = idp.provider.githubActionsRequestURL + "&audience=" + percentEncode(exchangeAudience)
        let missing = http("GET", url)
        #expect(missing.status == 401, "\(missing)")
        #expect(missing.json["message"] is String && missing.json["value"] == nil)
        let wrong = http("GET", url, headers: ["Authorization: bearer \(requestToken)x"])
        #expect(wrong.status == 401 && wrong.json["value"] == nil)
        #expect(http("GET", url, headers: ["Authorization: Basic \(requestToken)"]).status == 401)
        #expect(!wrong.body.contains(requestToken))
        #expect(idp.provider.stats.githubTokenRequests == 0)
        #expect(idp.provider.stats.lastGitHubAudience == nil)

        // Without a configured stand-in the path does not exist.
        let plain = try IdP()
        let absent = http(
            "GET", plain.provider.githubActionsRequestURL, headers: ["Authorization: bearer \(requestToken)"])
        #expect(absent.status == 404)
    }

    @Test func githubActionsDefaultAudienceIsTheOwnerURL() throws {
        let idp = try federatedIdP(
            githubActions: FakeGitHubActions(requestToken: requestToken, subject: "repo:fabrikam/site:environment:prod")
        )
        let reply = http(
            "GET", idp.provider.githubActionsRequestURL, headers: ["Authorization: bearer \(requestToken)"])
        #expect(reply.status == 200, "\(reply)")
        let value = try #require(reply.json["value"] as? String)
        let (_, claims) = try jwtParts(value)
        #expect(claims["aud"] as? String == "https://github.com/fabrikam")
        #expect(claims["sub"] as? String == "repo:fabrikam/site:environment:prod")
        #expect(idp.provider.stats.lastGitHubAudience == "https://github.com/fabrikam")
        // An empty audience parameter is no audience.
        let empty = http(
            "GET", idp.provider.githubActionsRequestURL + "&audience=",
            headers: ["Authorization: bearer \(requestToken)"])
        let emptyValue = try #require(empty.json["value"] as? String)
        let (_, emptyClaims) = try jwtParts(emptyValue)
        #expect(emptyClaims["aud"] as? String == "https://github.com/fabrikam")
    }

    @Test func federatedTokensOverTheControlEndpoint() throws {
        let idp = try federatedIdP()
        let minted = http(
            "POST", "\(idp.base)/_fake/federated-token", form: [("issuer", aksIssuer), ("subject", aksSubject)])
        #expect(minted.status == 200, "\(minted)")
        let token = try #require(minted.json["token"] as? String)
        let (_, claims) = try jwtParts(token)
        #expect(claims["aud"] as? String == exchangeAudience)
        #expect(idp.clientCredentials(client: federatedID, extra: assertionForm(token)).status == 200)
        #expect(http("POST", "\(idp.base)/_fake/federated-token", form: [("issuer", aksIssuer)]).status == 400)
        let stats = http("GET", "\(idp.base)/_fake/stats").json
        #expect(stats["federated_grants"] as? Int == 1)
        #expect(stats["last_federated_subject"] as? String == aksSubject)
    }
}
