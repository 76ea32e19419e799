// Workload identity federation: the fake's one workload token issuer (the signing key behind
// `mintFederatedToken` and the GitHub Actions stand-in) and the check of a federated client
// assertion against a client's federated identity credentials. Pure functions: the core owns the
// clock and the statistics.
//
// Microsoft's codes where known: AADSTS7000272 (signing key not in the issuer's metadata),
// AADSTS50013 (signature does not verify), AADSTS700024 (time range), AADSTS70021 (no federated
// identity record for iss/sub/aud). A federated token carries no `jti` Entra would remember:
// Kubernetes and GitHub clients present the same token until it expires, so there is no replay check.

import Crypto
import Foundation

private let workloadFederationDoc = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"

/// The external OIDC issuer the fake stands in for: one ES256 key, made when the provider is
/// created. Every federated token the fake accepts was signed by it, whatever its `iss`.
struct WorkloadTokenIssuer: @unchecked Sendable {
    let key: P256.Signing.PrivateKey
    /// base64url of the first 16 bytes of SHA-256 of the public key (X9.63), the `kid` header.
    let keyID: String

    init() {
        key = P256.Signing.PrivateKey()
        keyID = base64URL(Array(SHA256.hash(data: key.publicKey.x963Representation)).prefix(16))
    }

    /// A compact JWS: header {alg: ES256, typ: JWT, kid}, payload {iss, sub, aud, iat, nbf, exp, jti}.
    func mint(issuer: String, subject: String, audience: String, issuedAt: Int, notBefore: Int, expires: Int)
        -> String
    {
        let header = JSON.object([("alg", .string("ES256")), ("typ", .string("JWT")), ("kid", .string(keyID))])
        let claims = JSON.object([
            ("iss", .string(issuer)),
            ("sub", .string(subject)),
            ("aud", .string(audience)),
            ("iat", .int(issuedAt)),
            ("nbf", .int(notBefore)),
            ("exp", .int(expires)),
            ("jti", .string(randomGUID()))
        ])
        let input = base64URL(Array(header.text.utf8)) + "." + base64URL(Array(claims.text.utf8))
        // Signing with a valid P-256 key cannot fail; an empty signature would be refused anyway.
        let signature = (try? key.signature(for: Array(input.utf8)).rawRepresentation) ?? Data()
        return input + "." + base64URL(signature)
    }

    /// Whether `signature` (JWS ES256: r || s, 64 bytes) signs `input` with this issuer's key.
    func verifies(_ signature: [UInt8], for input: [UInt8]) -> Bool {
        guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.publicKey.isValidSignature(ecdsa, for: input)
    }
}

enum FederatedAssertionVerifier {
    /// Whether `assertion` is to be checked as a certificate assertion rather than a federated one:
    /// it names a certificate thumbprint and its issuer is the client itself (RFC 7523 §3).
    static func isCertificateAssertion(_ assertion: DecodedAssertion, clientID: String) -> Bool {
        let header = assertion.headerStrings
        return (header["x5t"] != nil || header["x5t#S256"] != nil) && assertion.claims["iss"] as? String == clientID
    }

    /// Verifies the workload key's signature, the time range and the federated identity record of
    /// `assertion` for `clientID` at `now` (seconds since 1970, on the fake's clock); returns the
    /// matched subject.
    static func verify(
        _ assertion: DecodedAssertion, clientID: String, credentials: [FakeFederatedCredential],
        issuer: WorkloadTokenIssuer, now: Double
    ) -> Result<String, AssertionRejection> {
        let claims = assertion.claims
        let iss = claims["iss"] as? String ?? ""
        let sub = claims["sub"] as? String ?? ""
        let kid = assertion.headerStrings["kid"] ?? ""
        guard kid == issuer.keyID else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 7_000_272,
                    text:
                        "The certificate with identifier \(kid) used to sign the federated credential could not be found in the metadata of identity provider \(iss). Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.",
                    reason: "federated_unknown_key"))
        }
        guard assertion.alg == "ES256" else {
            return .failure(
                AssertionRejection(
                    status: 400, error: "invalid_request", code: 5_002_730,
                    text:
                        "Invalid JWT token. Unsupported key for the signing algorithm. The federated assertion 'alg' '\(assertion.alg)' does not match the ES256 key '\(kid)'.",
                    reason: "federated_alg"))
        }
        guard issuer.verifies(assertion.signature, for: assertion.signingInput) else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 50013,
                    text:
                        "Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '\(kid)', Identity provider: '\(iss)']",
                    reason: "federated_signature"))
        }

        let exp = ClientAssertionVerifier.number(claims["exp"])
        let nbf = ClientAssertionVerifier.number(claims["nbf"])
        let validFrom = nbf ?? ClientAssertionVerifier.number(claims["iat"]) ?? 0
        let inRange = exp.map { $0 > now } == true && (nbf ?? now) <= now + clientAssertionNotBeforeSkew
        guard inRange else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700024,
                    text:
                        "Client assertion is not within its valid time range. Current time: \(ClientAssertionVerifier.isoTime(now)), assertion valid from \(ClientAssertionVerifier.isoTime(validFrom)), expiry time of assertion \(ClientAssertionVerifier.isoTime(exp ?? 0)). Review the documentation at \(workloadFederationDoc) .",
                    reason: "federated_time"))
        }

        let audiences: [String] =
            if let single = claims["aud"] as? String { [single] } else { claims["aud"] as? [String] ?? [] }
        let matched = credentials.contains { credential in
            credential.issuer == iss && credential.subject == sub
                && audiences.contains { credential.audiences.contains($0) }
        }
        guard matched else {
            return .failure(
                AssertionRejection(
                    status: 400, error: "invalid_request", code: 70021,
                    text:
                        "No matching federated identity record found for presented assertion. Assertion Issuer: '\(iss)'. Assertion Subject: '\(sub)'. Assertion Audience: '\(audiences.joined(separator: ","))'. \(workloadFederationDoc)",
                    reason: "federated_no_match"))
        }
        return .success(sub)
    }

    /// Federated credentials authenticate only the client credentials grant in the fake (the
    /// other grants need a secret or a certificate); the code is the fake's own.
    static func wrongGrant(_ grantType: String) -> AssertionRejection {
        AssertionRejection(
            status: 400, error: "invalid_request", code: 9_002_313,
            text:
                "Invalid request. Request is malformed or invalid. A federated client assertion is accepted only with grant_type 'client_credentials', not '\(grantType)'.",
            reason: "federated_grant")
    }
}
