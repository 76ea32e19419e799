import Crypto
import Foundation
import SwiftASN1
import TokvaultVault
import X509
import _CryptoExtras

/// Public facts about an app's certificate, for `show`, `doctor` and the assertion header.
package struct CertificateInfo: Sendable, Equatable {
    package var subject: String
    package var notValidBefore: Date
    package var notValidAfter: Date
    /// Hex SHA-1 of the DER, upper case: what the Azure portal lists as the thumbprint.
    package var sha1Hex: String
    package var sha256Hex: String
    /// base64url thumbprints for the JWS header (`x5t`, `x5t#S256`).
    package var x5t: String
    package var x5tS256: String
    package var keyBits: Int

    package init(der: [UInt8]) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw FlowError.usage("the certificate could not be read: not an X.509 certificate")
        }
        guard let publicKey = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw FlowError.usage(
                "the certificate's key is not an RSA key",
                hint: "Microsoft's certificate credentials use RSA keys (2048 bits or more)")
        }
        subject = certificate.subject.description
        notValidBefore = certificate.notValidBefore
        notValidAfter = certificate.notValidAfter
        keyBits = publicKey.keySizeInBits
        let sha1 = Array(Insecure.SHA1.hash(data: der))
        let sha256 = Array(SHA256.hash(data: der))
        sha1Hex = Sodium.hex(sha1).uppercased()
        sha256Hex = Sodium.hex(sha256).uppercased()
        x5t = Sodium.base64URL(sha1)
        x5tS256 = Sodium.base64URL(sha256)
    }

    /// Whole days from `now` until the certificate expires (negative once expired).
    package func daysLeft(now: Date = Date()) -> Int {
        Int((notValidAfter.timeIntervalSince(now) / 86400).rounded(.down))
    }
}

/// Reading a certificate and its private key from PEM text, and checking that they belong
/// together. Everything here fails with a message that names the file, never its content.
package enum CertificateCredential {
    /// The first `CERTIFICATE` block of `pem` (a file may hold the key too, as
    /// `openssl pkcs12 -nodes` writes it), as DER.
    package static func certificateDER(fromPEM text: String, source: String) throws -> [UInt8] {
        let documents = try pemDocuments(text, source: source)
        guard let document = documents.first(where: { $0.discriminator == "CERTIFICATE" }) else {
            throw FlowError.usage(
                "\(source) holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                hint:
                    "convert a .pfx/.p12 with `openssl pkcs12 -in cert.pfx -clcerts -nokeys -out cert.pem`, a .cer/.der with `openssl x509 -inform der -in cert.cer -out cert.pem`"
            )
        }
        _ = try CertificateInfo(der: document.derBytes)
        return document.derBytes
    }

    /// The private key in `pem` (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) as DER.
    package static func privateKeyDER(fromPEM secret: SecureBytes, source: String) throws -> SecureBytes {
        let text = secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        // Checked before parsing: the PEM parser refuses the Proc-Type headers of legacy
        // encrypted keys as damage, which would hide the real problem.
        let legacyEncrypted = text.contains("Proc-Type: 4,ENCRYPTED")
        let documents = legacyEncrypted ? [] : try pemDocuments(text, source: source)
        if legacyEncrypted || documents.contains(where: { $0.discriminator == "ENCRYPTED PRIVATE KEY" }) {
            throw FlowError.usage(
                "the private key in \(source) is encrypted",
                hint:
                    "tokvault seals the key itself; give it unencrypted through a pipe, e.g. `openssl pkey -in key.pem | \(.option(.privateKeyFromStdin))`"
            )
        }
        guard
            let document = documents.first(where: {
                $0.discriminator == "PRIVATE KEY" || $0.discriminator == "RSA PRIVATE KEY"
            })
        else {
            throw FlowError.usage(
                "\(source) holds no PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)",
                hint: "extract it from a .pfx/.p12 with `openssl pkcs12 -in cert.pfx -nocerts -nodes | openssl pkey`")
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(derRepresentation: document.derBytes)
        } catch {
            throw FlowError.usage(
                "the private key in \(source) is not an RSA key of 2048 bits or more",
                hint: "Microsoft's certificate credentials use RSA keys")
        }
        var der = [UInt8](key.pkcs8DERRepresentation)
        return SecureBytes(consuming: &der)
    }

    /// Refuses a key that does not belong to the certificate: every assertion would fail.
    package static func checkMatch(privateKeyDER: SecureBytes, certificateDER: [UInt8]) throws {
        let key = try signingKey(privateKeyDER)
        let certificate = try Certificate(derEncoded: certificateDER)
        guard let certificateKey = _RSA.Signing.PublicKey(certificate.publicKey),
            certificateKey.derRepresentation == key.publicKey.derRepresentation
        else {
            throw FlowError.usage(
                "the private key does not belong to the certificate",
                hint:
                    "give the key the certificate was issued for (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`)"
            )
        }
    }

    static func signingKey(_ der: SecureBytes) throws -> _RSA.Signing.PrivateKey {
        do {
            return try der.withUnsafeBytes { try _RSA.Signing.PrivateKey(derRepresentation: $0) }
        } catch {
            throw FlowError.damaged("the stored private key cannot be read")
        }
    }

    private static func pemDocuments(_ text: String, source: String) throws -> [PEMDocument] {
        if !text.contains("-----BEGIN ") {
            throw FlowError.usage(
                "\(source) is not PEM text",
                hint:
                    "convert a .pfx/.p12 with `openssl pkcs12 -in cert.pfx -nodes -out both.pem` (certificate and unencrypted key)"
            )
        }
        do {
            return try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw FlowError.usage("\(source) is not valid PEM (a block is damaged or not base64)")
        }
    }
}

/// A client assertion (RFC 7523, Microsoft "certificate credentials"): a JWT signed with the
/// certificate's key that stands in for a client secret on one token request.
package struct ClientAssertion: Sendable {
    package var clientID: String
    package var audience: String
    package var certificateDER: [UInt8]
    package var algorithm: App.AssertionAlgorithm
    package static let type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Lifetime of an assertion: long enough for clock skew, short enough to be useless later.
    package static let lifetime: Int64 = 300

    package init(clientID: String, audience: String, certificateDER: [UInt8], algorithm: App.AssertionAlgorithm) {
        self.clientID = clientID
        self.audience = audience
        self.certificateDER = certificateDER
        self.algorithm = algorithm
    }

    private struct Header: Encodable {
        var alg: String
        var typ = "JWT"
        var x5t: String?
        var x5tS256: String?
        enum CodingKeys: String, CodingKey {
            case alg, typ, x5t
            case x5tS256 = "x5t#S256"
        }
    }

    private struct Claims: Encodable {
        var aud: String
        var iss: String
        var sub: String
        var jti: String
        var nbf: Int64
        var iat: Int64
        var exp: Int64
    }

    /// A freshly signed assertion; `jti` is a new random UUID each time (servers reject reuse).
    package func signed(with privateKeyDER: SecureBytes, now: Int64 = Int64(Date().timeIntervalSince1970)) throws
        -> SecureBytes
    {
        let key = try CertificateCredential.signingKey(privateKeyDER)
        let info = try CertificateInfo(der: certificateDER)
        let header = Header(
            alg: algorithm.rawValue,
            x5t: algorithm == .rs256 ? info.x5t : nil,
            x5tS256: algorithm == .ps256 ? info.x5tS256 : nil)
        let claims = Claims(
            aud: audience, iss: clientID, sub: clientID, jti: UUID().uuidString.lowercased(),
            nbf: now, iat: now, exp: now + Self.lifetime)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let signingInput =
            Sodium.base64URL([UInt8](try encoder.encode(header))) + "."
            + Sodium.base64URL([UInt8](try encoder.encode(claims)))
        let padding: _RSA.Signing.Padding = algorithm == .ps256 ? .PSS : .insecurePKCS1v1_5
        let signature = try key.signature(for: SHA256.hash(data: Array(signingInput.utf8)), padding: padding)
        var jwt = Array((signingInput + "." + Sodium.base64URL([UInt8](signature.rawRepresentation))).utf8)
        return SecureBytes(consuming: &jwt)
    }
}
