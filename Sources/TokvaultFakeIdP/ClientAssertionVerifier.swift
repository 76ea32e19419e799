// JWT client assertions (RFC 7523 §2.2, Microsoft's "certificate credentials"): decoding, the
// certificate lookup by thumbprint, the RSA signature and the claims. Pure functions: the core
// owns the clock and the register of used `jti` values.
//
// Microsoft's documented codes are used where known: AADSTS700027 (key not registered, key
// expired, bad signature), AADSTS700023 (audience), AADSTS700021 (iss/sub vs client_id),
// AADSTS700024 (time range), AADSTS5002730 (unsupported signing algorithm), AADSTS50027
// (malformed JWT). Azure documents no code for a replayed jti (see `replayed`).

import Crypto
import Foundation
import X509
import _CryptoExtras

let jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

private let certificateCredentialsDoc = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"

/// Assertions may be valid for at most this long. Azure sets no limit on `exp` (its docs only advise
/// 5–10 minutes); the fake is stricter so a client minting long-lived, replayable assertions is caught.
let maxClientAssertionLifetime: Double = 3600
/// Tolerated clock difference for `nbf` (and a future `iat`); none for `exp`.
let clientAssertionNotBeforeSkew: Double = 60

/// A certificate registered for a client, parsed once when the provider is created.
struct RegisteredCertificate: @unchecked Sendable {
    /// base64url(SHA-256(DER)), the `x5t#S256` header value.
    let sha256Thumbprint: String
    /// base64url(SHA-1(DER)), the `x5t` header value.
    let sha1Thumbprint: String
    /// Upper-case hex SHA-1, the way Azure quotes thumbprints in error descriptions.
    let sha1Hex: String
    let notValidBefore: Date
    let notValidAfter: Date
    /// nil when the certificate does not carry an RSA key (it then verifies nothing).
    let publicKey: _RSA.Signing.PublicKey?

    init(der: [UInt8]) throws {
        let certificate = try Certificate(derEncoded: der)
        sha256Thumbprint = base64URL(Array(SHA256.hash(data: der)))
        let sha1 = Array(Insecure.SHA1.hash(data: der))
        sha1Thumbprint = base64URL(sha1)
        sha1Hex = sha1.map { String(format: "%02X", $0) }.joined()
        notValidBefore = certificate.notValidBefore
        notValidAfter = certificate.notValidAfter
        publicKey = _RSA.Signing.PublicKey(certificate.publicKey)
    }

    /// Every CERTIFICATE block of `pem` that parses; the rest is ignored.
    static func parseAll(pem: String) -> [RegisteredCertificate] {
        pemBlocks(pem, label: "CERTIFICATE").compactMap { try? RegisteredCertificate(der: $0) }
    }
}

/// The DER contents of every `-----BEGIN label-----` block of `text`.
func pemBlocks(_ text: String, label: String) -> [[UInt8]] {
    let begin = "-----BEGIN \(label)-----"
    let end = "-----END \(label)-----"
    var blocks: [[UInt8]] = []
    var rest = Substring(text)
    while let start = rest.range(of: begin), let stop = rest[start.upperBound...].range(of: end) {
        let body = rest[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        if let data = Data(base64Encoded: String(body)) { blocks.append(Array(data)) }
        rest = rest[stop.upperBound...]
    }
    return blocks
}

extension FakeClient {
    /// The `x5t#S256` thumbprints of the certificates in `pem` the fake can use (empty when none
    /// parses), for checking a certificate file before registering it.
    package static func certificateThumbprints(pem: String) -> [String] {
        RegisteredCertificate.parseAll(pem: pem).map(\.sha256Thumbprint)
    }
}

/// Why an assertion was refused: the Azure-shaped answer plus a short label for the statistics.
struct AssertionRejection: Error {
    var status: Int
    var error: String
    var code: Int
    var text: String
    var reason: String

    static func malformed(_ detail: String) -> AssertionRejection {
        AssertionRejection(
            status: 400, error: "invalid_request", code: 50027, text: "JWT token is invalid or malformed. \(detail)",
            reason: "malformed")
    }

    static func unsupportedAlgorithm(_ alg: String) -> AssertionRejection {
        AssertionRejection(
            status: 400, error: "invalid_request", code: 5_002_730,
            text:
                "Invalid JWT token. Unsupported key for the signing algorithm. The client assertion 'alg' '\(alg)' is not PS256 or RS256.",
            reason: "alg")
    }

    /// No Azure code is documented for a reused `jti`; 7000274 sits with the other 70002xx
    /// client-credential codes and is the fake's own.
    static func replayed(jti: String, clientID: String) -> AssertionRejection {
        AssertionRejection(
            status: 401, error: "invalid_client", code: 7_000_274,
            text:
                "Client assertion replay detected: the jti '\(jti)' was already used by application '\(clientID)'. Every client assertion must carry a new jti.",
            reason: "replay")
    }
}

/// A client assertion split into its parts (nothing verified yet).
struct DecodedAssertion {
    var alg: String
    /// The string members of the header, for the statistics.
    var headerStrings: [String: String]
    var claims: [String: Any]
    var signingInput: [UInt8]
    var signature: [UInt8]

    /// `iss`, then `sub`: who the assertion says the client is (used when the form has no client_id).
    var claimedClientID: String? { claims["iss"] as? String ?? claims["sub"] as? String }
}

enum ClientAssertionVerifier {
    /// Splits and decodes a compact JWS; checks only the form and the header's `alg` and `typ`.
    /// The header members are returned even when `alg`/`typ` are refused, for the statistics.
    static func decode(_ jwt: String) -> (
        header: [String: String]?, result: Result<DecodedAssertion, AssertionRejection>
    ) {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return (nil, .failure(.malformed("The client assertion must have three dot-separated parts.")))
        }
        guard let headerBytes = base64URLDecode(parts[0]),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any]
        else {
            return (nil, .failure(.malformed("The client assertion header is not base64url-encoded JSON.")))
        }
        var strings: [String: String] = [:]
        for (key, value) in header { if let value = value as? String { strings[key] = value } }
        guard let claimBytes = base64URLDecode(parts[1]),
            let claims = (try? JSONSerialization.jsonObject(with: Data(claimBytes))) as? [String: Any]
        else {
            return (strings, .failure(.malformed("The client assertion payload is not base64url-encoded JSON.")))
        }
        guard let signature = base64URLDecode(parts[2]), !signature.isEmpty else {
            return (strings, .failure(.malformed("The client assertion signature is not base64url-encoded.")))
        }
        let alg = strings["alg"] ?? ""
        // ES256 passes here for federated assertions (the fake's workload key); `verify` refuses
        // it for certificates, which carry RSA keys.
        guard alg == "PS256" || alg == "RS256" || alg == "ES256" else {
            return (strings, .failure(.unsupportedAlgorithm(alg)))
        }
        if let typ = header["typ"] {
            guard (typ as? String)?.uppercased() == "JWT" else {
                return (strings, .failure(.malformed("The client assertion 'typ' header must be 'JWT'.")))
            }
        }
        let input = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        return (
            strings,
            .success(
                DecodedAssertion(
                    alg: alg, headerStrings: strings, claims: claims, signingInput: input, signature: signature))
        )
    }

    /// Verifies the key, the signature and the claims of `assertion` for `clientID` at time `now`
    /// (seconds since 1970, on the fake's clock); returns the `jti` to register.
    static func verify(
        _ assertion: DecodedAssertion, clientID: String, audience: String, certificates: [RegisteredCertificate],
        now: Double
    ) -> Result<String, AssertionRejection> {
        guard assertion.alg == "PS256" || assertion.alg == "RS256" else {
            return .failure(.unsupportedAlgorithm(assertion.alg))
        }
        let header = assertion.headerStrings
        let certificate: RegisteredCertificate?
        let presented: String
        // When both thumbprints are sent, x5t#S256 alone selects the key (no fallback to x5t).
        if let s256 = header["x5t#S256"] {
            certificate = certificates.first { $0.sha256Thumbprint == s256 }
            presented = hexThumbprint(s256)
        } else if let x5t = header["x5t"] {
            certificate = certificates.first { $0.sha1Thumbprint == x5t }
            presented = hexThumbprint(x5t)
        } else {
            certificate = nil
            presented = ""
        }
        guard let certificate else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700027,
                    text:
                        "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '\(presented)', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '\(clientID)'.]",
                    reason: "unknown_key"))
        }
        let found =
            "Found key 'Start=\(keyDate(certificate.notValidBefore)), End=\(keyDate(certificate.notValidAfter))'"
        if certificate.notValidAfter.timeIntervalSince1970 < now {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700027,
                    text:
                        "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '\(certificate.sha1Hex)', \(found)]",
                    reason: "expired_key"))
        }
        if certificate.notValidBefore.timeIntervalSince1970 > now {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700027,
                    text:
                        "Client assertion contains an invalid signature. [Reason - The key is not yet valid., Thumbprint of key used by client: '\(certificate.sha1Hex)', \(found)]",
                    reason: "key_not_yet_valid"))
        }
        let digest = SHA256.hash(data: assertion.signingInput)
        let padding: _RSA.Signing.Padding = assertion.alg == "PS256" ? .PSS : .insecurePKCS1v1_5
        guard let key = certificate.publicKey,
            key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: assertion.signature), for: digest, padding: padding)
        else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700027,
                    text:
                        "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '\(certificate.sha1Hex)', \(found)]",
                    reason: "signature"))
        }

        let claims = assertion.claims
        let audiences: [String] =
            if let single = claims["aud"] as? String { [single] } else { claims["aud"] as? [String] ?? [] }
        guard audiences.contains(audience) else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700023,
                    text:
                        "Client assertion audience claim does not match Realm issuer. Review the documentation at \(certificateCredentialsDoc) .",
                    reason: "audience"))
        }
        guard claims["iss"] as? String == clientID, claims["sub"] as? String == clientID else {
            return .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700021,
                    text:
                        "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at \(certificateCredentialsDoc) .",
                    reason: "issuer"))
        }

        let exp = number(claims["exp"])
        let nbf = number(claims["nbf"])
        let iat = number(claims["iat"])
        let validFrom = nbf ?? iat
        func outOfRange(_ extra: String = "") -> Result<String, AssertionRejection> {
            .failure(
                AssertionRejection(
                    status: 401, error: "invalid_client", code: 700024,
                    text:
                        "Client assertion is not within its valid time range. Current time: \(isoTime(now)), assertion valid from \(isoTime(validFrom ?? 0)), expiry time of assertion \(isoTime(exp ?? 0)).\(extra) Review the documentation at \(certificateCredentialsDoc) .",
                    reason: "time"))
        }
        guard let exp, exp > now else { return outOfRange() }
        if let nbf, nbf > now + clientAssertionNotBeforeSkew { return outOfRange() }
        if let iat, iat > now + clientAssertionNotBeforeSkew { return outOfRange() }
        if exp - (validFrom ?? now) > maxClientAssertionLifetime {
            return outOfRange(" The assertion may be valid for at most \(Int(maxClientAssertionLifetime)) seconds.")
        }

        guard let jti = claims["jti"] as? String, !jti.isEmpty else {
            var rejection = AssertionRejection.malformed("The client assertion has no 'jti' claim.")
            rejection.reason = "jti"
            return .failure(rejection)
        }
        return .success(jti)
    }

    static func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

    private static func hexThumbprint(_ base64url: String) -> String {
        guard let bytes = base64URLDecode(Substring(base64url)) else { return base64url }
        return bytes.map { String(format: "%02X", $0) }.joined()
    }

    /// "2024-10-02T22:05:03.0000000Z", as Azure writes times in AADSTS700024.
    static func isoTime(_ seconds: Double) -> String {
        azureTimestamp(seconds).replacingOccurrences(of: " ", with: "T").replacingOccurrences(
            of: "Z", with: ".0000000Z")
    }

    /// "08/18/2024 19:33:23", as Azure writes key validity in AADSTS700027.
    private static func keyDate(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(parts.tm_mon + 1))/\(two(parts.tm_mday))/\(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}

func base64URLDecode(_ text: Substring) -> [UInt8]? {
    guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
    var b = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while b.count % 4 != 0 { b += "=" }
    return Data(base64Encoded: b).map(Array.init)
}
