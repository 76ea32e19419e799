// Tests of the fake identity provider: certificate client assertions, RFC 7523 (ClientAssertionVerifier.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP
import _CryptoExtras

@Suite struct FakeIdPClientAssertionTests {
    @Test func certificateAssertionPS256AndRS256() throws {
        let certificate = TestCertificate.shared
        // The fake's own thumbprint computation agrees with the helper's.
        #expect(FakeClient.certificateThumbprints(pem: certificate.certificatePEM) == [certificate.sha256Thumbprint])
        #expect(certificate.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(certificate.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(certificate.privateKeyPKCS1PEM.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(certificate.sha1Thumbprint.count == 27 && certificate.sha256Thumbprint.count == 43)

        let idp = try IdP(certificatePEMs: [certificate.certificatePEM])
        let ps256 = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL))
        let first = idp.clientCredentials(extra: assertionForm(ps256))
        #expect(first.status == 200, "\(first)")
        #expect(
            idp.provider.stats.lastAssertionHeader
                == ["alg": "PS256", "typ": "JWT", "x5t#S256": certificate.sha256Thumbprint])
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .assertion)
        let info = try #require(idp.provider.accessTokenInfo(first.json["access_token"] as? String ?? ""))
        #expect(info.clientID == certificateID && info.userOID == nil)

        let rs256 = try makeAssertion(
            claims: assertionClaims(audience: idp.tokenURL),
            header: ["alg": "RS256", "x5t#S256": nil, "x5t": certificate.sha1Thumbprint])
        #expect(idp.clientCredentials(extra: assertionForm(rs256)).status == 200)
        #expect(
            idp.provider.stats.lastAssertionHeader
                == ["alg": "RS256", "typ": "JWT", "x5t": certificate.sha1Thumbprint])

        // RFC 7523 §3: without client_id the client is the assertion's iss/sub; typ is optional.
        let bare = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL), header: ["typ": nil])
        #expect(idp.clientCredentials(client: nil, extra: assertionForm(bare)).status == 200)

        // The audience is the token endpoint the request was sent to, alias included.
        let organizations = "\(idp.base)/organizations/oauth2/v2.0/token"
        let viaAlias = try makeAssertion(claims: assertionClaims(audience: organizations))
        #expect(idp.clientCredentials(extra: assertionForm(viaAlias), tenant: "organizations").status == 200)
        let tenantAudience = try makeAssertion(claims: assertionClaims(audience: idp.tokenURL))
        expectAzureError(
            idp.clientCredentials(extra: assertionForm(tenantAudience), tenant: "organizations"),
            status: 401, error: "invalid_client", code: 700023)

        let stats = idp.provider.stats
        #expect(stats.assertionsAccepted == 4)
        #expect(stats.assertionsRejected == ["audience": 1])
        #expect(stats.tokenRequests == ["client_credentials": 5])
    }

    @Test func certificateAssertionRejections() throws {
        let idp = try IdP(certificatePEMs: [TestCertificate.shared.certificatePEM])
        let aud = idp.tokenURL
        func send(_ assertion: String, client: String? = certificateID) -> Reply {
            idp.clientCredentials(client: client, extra: assertionForm(assertion))
        }

        // Signed by a key other than the certificate's.
        let wrongKey = send(try makeAssertion(claims: assertionClaims(audience: aud), key: otherCertificate.key))
        expectAzureError(wrongKey, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(wrongKey).contains("Client assertion failed signature validation."))
        // A payload swapped after signing (same claims, other jti).
        let good = try makeAssertion(claims: assertionClaims(audience: aud))
        let parts = good.split(separator: ".")
        let tampered = "\(parts[0]).\(jsonSegment(assertionClaims(audience: aud))).\(parts[2])"
        expectAzureError(send(tampered), status: 401, error: "invalid_client", code: 700027)
        // A PS256 signature announced as RS256.
        let rsHeader = jsonSegment(["alg": "RS256", "typ": "JWT", "x5t#S256": TestCertificate.shared.sha256Thumbprint])
        expectAzureError(
            send("\(rsHeader).\(parts[1]).\(parts[2])"), status: 401, error: "invalid_client", code: 700027)
        // Certificates that are not registered, by either thumbprint.
        let unknownS256 = send(
            try makeAssertion(
                claims: assertionClaims(audience: aud),
                header: ["x5t#S256": otherCertificate.certificate.sha256Thumbprint],
                key: otherCertificate.key))
        expectAzureError(unknownS256, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(unknownS256).contains("is not registered on application"))
        let unknownSHA1 = send(
            try makeAssertion(
                claims: assertionClaims(audience: aud),
                header: ["alg": "RS256", "x5t#S256": nil, "x5t": otherCertificate.certificate.sha1Thumbprint],
                key: otherCertificate.key))
        expectAzureError(unknownSHA1, status: 401, error: "invalid_client", code: 700027)
        expectAzureError(
            send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["x5t#S256": nil])),
            status: 401, error: "invalid_client", code: 700027)

        // Claims.
        let wrongAudience = send(
            try makeAssertion(
                claims: assertionClaims(audience: "https://login.microsoftonline.com/\(tid)/oauth2/v2.0/token")))
        expectAzureError(wrongAudience, status: 401, error: "invalid_client", code: 700023)
        let expired = send(try makeAssertion(claims: assertionClaims(audience: aud, now: Date() - 1200)))
        expectAzureError(expired, status: 401, error: "invalid_client", code: 700024)
        #expect(descriptionOf(expired).contains("not within its valid time range"))
        expectAzureError(
            send(try makeAssertion(claims: assertionClaims(audience: aud, now: Date() + 600))),
            status: 401, error: "invalid_client", code: 700024)
        expectAzureError(
            send(try makeAssertion(claims: assertionClaims(audience: aud, lifetime: 7200))),
            status: 401, error: "invalid_client", code: 700024)
        var otherIssuer = assertionClaims(audience: aud)
        otherIssuer["iss"] = confidentialID
        expectAzureError(
            send(try makeAssertion(claims: otherIssuer)), status: 401, error: "invalid_client", code: 700021)
        var otherSubject = assertionClaims(audience: aud)
        otherSubject["sub"] = publicID
        expectAzureError(
            send(try makeAssertion(claims: otherSubject)), status: 401, error: "invalid_client", code: 700021)
        // client_id in the form and the assertion's iss/sub disagree.
        var forOther = assertionClaims(audience: aud, client: confidentialID)
        forOther["jti"] = "x"
        expectAzureError(send(try makeAssertion(claims: forOther)), status: 401, error: "invalid_client", code: 700021)
        var noJTI = assertionClaims(audience: aud)
        noJTI["jti"] = nil
        expectAzureError(send(try makeAssertion(claims: noJTI)), status: 400, error: "invalid_request", code: 50027)

        // Replay: the same assertion twice.
        #expect(send(good).status == 200)
        let replay = send(good)
        expectAzureError(replay, status: 401, error: "invalid_client", code: 7_000_274)
        #expect(descriptionOf(replay).contains("already used"))

        // Form and header.
        expectAzureError(
            send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["alg": "HS256"])),
            status: 400, error: "invalid_request", code: 5_002_730)
        expectAzureError(
            send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["alg": "none"])),
            status: 400, error: "invalid_request", code: 5_002_730)
        expectAzureError(
            send(try makeAssertion(claims: assertionClaims(audience: aud), header: ["typ": "JWS"])),
            status: 400, error: "invalid_request", code: 50027)
        expectAzureError(send("abc.def"), status: 400, error: "invalid_request", code: 50027)
        // "not json" as the header.
        expectAzureError(
            send("bm90IGpzb24.\(parts[1]).\(parts[2])"), status: 400, error: "invalid_request", code: 50027)
        let fresh = try makeAssertion(claims: assertionClaims(audience: aud))
        expectAzureError(
            idp.clientCredentials(extra: [("client_assertion_type", "urn:x"), ("client_assertion", fresh)]),
            status: 400, error: "invalid_request", code: 9_002_313)
        expectAzureError(
            idp.clientCredentials(extra: [("client_assertion", fresh)]), status: 400,
            error: "invalid_request", code: 900144)
        // A secret and an assertion together.
        let both = idp.clientCredentials(
            client: confidentialID,
            extra: assertionForm(fresh) + [("client_secret", confidentialSecret)])
        expectAzureError(both, status: 400, error: "invalid_request", code: 9_002_313)
        #expect(idp.provider.stats.tokenLog.last?.clientAuth == .both)
        // Clients without registered certificates.
        var forConfidential = assertionClaims(audience: aud, client: confidentialID)
        forConfidential["jti"] = UUID().uuidString
        expectAzureError(
            idp.clientCredentials(
                client: confidentialID, extra: assertionForm(try makeAssertion(claims: forConfidential))),
            status: 401, error: "invalid_client", code: 700027)
        expectAzureError(
            idp.clientCredentials(client: publicID, extra: assertionForm(fresh)), status: 401,
            error: "invalid_client", code: 700025)
        // The rejected `fresh` assertions did not spend its jti.
        #expect(send(fresh).status == 200)

        let stats = idp.provider.stats
        #expect(stats.assertionsAccepted == 2)
        #expect(
            stats.assertionsRejected == [
                "signature": 3, "unknown_key": 4, "audience": 1, "time": 3, "issuer": 3, "jti": 1, "replay": 1,
                "alg": 2, "malformed": 3, "assertion_type": 2
            ])
        #expect(stats.tokensIssued == 2)
    }

    @Test func expiredCertificateIsRefused() throws {
        let expired = try TestCertificate.make(
            key: sharedKey, notValidBefore: Date() - 86400 * 30,
            notValidAfter: Date() - 86400)
        let idp = try IdP(certificatePEMs: [expired.certificatePEM])
        let reply = idp.clientCredentials(
            extra: assertionForm(
                try makeAssertion(
                    claims: assertionClaims(audience: idp.tokenURL), header: ["x5t#S256": expired.sha256Thumbprint])))
        expectAzureError(reply, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(reply).contains("The key used is expired."))
        #expect(idp.provider.stats.assertionsRejected == ["expired_key": 1])

        // The fake's clock decides: a valid certificate expires when the clock passes notValidAfter.
        let current = try IdP(certificatePEMs: [TestCertificate.shared.certificatePEM])
        #expect(
            current.clientCredentials(
                extra: assertionForm(
                    try makeAssertion(
                        claims: assertionClaims(audience: current.tokenURL)))
            ).status == 200)
        current.provider.advanceClock(seconds: 366 * 86400)
        let later = current.clientCredentials(
            extra: assertionForm(
                try makeAssertion(
                    claims: assertionClaims(audience: current.tokenURL, now: Date() + 366 * 86400))))
        expectAzureError(later, status: 401, error: "invalid_client", code: 700027)
        #expect(descriptionOf(later).contains("expired"))
    }

    @Test func assertionAuthenticatesEveryGrant() throws {
        let idp = try IdP(certificatePEMs: [TestCertificate.shared.certificatePEM])
        func fresh() throws -> [(String, String)] {
            assertionForm(try makeAssertion(claims: assertionClaims(audience: idp.tokenURL)))
        }
        let code = try #require(idp.code(client: certificateID))
        expectAzureError(idp.redeem(code, client: certificateID), status: 401, error: "invalid_client", code: 7_000_218)
        // A certificate-only client has no secret to match.
        expectAzureError(
            idp.redeem(code, client: certificateID, extra: [("client_secret", "guess")]), status: 401,
            error: "invalid_client", code: 7_000_215)
        let redeemed = idp.redeem(code, client: certificateID, extra: try fresh())
        #expect(redeemed.status == 200, "\(redeemed)")
        let rt = try #require(redeemed.json["refresh_token"] as? String)
        expectAzureError(idp.refresh(rt, client: certificateID), status: 401, error: "invalid_client", code: 7_000_218)
        let refreshed = idp.refresh(rt, client: certificateID, extra: try fresh())
        #expect(refreshed.status == 200, "\(refreshed)")

        let device = idp.deviceCode(client: certificateID)
        let deviceCode = try #require(device["device_code"] as? String)
        expectAzureError(
            idp.pollDevice(deviceCode, client: certificateID), status: 401, error: "invalid_client",
            code: 7_000_218)
        idp.provider.approveDevice()
        let polled = idp.pollDevice(deviceCode, client: certificateID, extra: try fresh())
        #expect(polled.status == 200, "\(polled)")
        #expect(idp.provider.stats.assertionsAccepted == 3)
        #expect(
            idp.provider.stats.tokenRequests
                == ["authorization_code": 3, "refresh_token": 2, deviceGrant: 2])
    }
}
