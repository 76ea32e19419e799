// Self-signed RSA certificates made in-process (swift-certificates), for certificate client
// credentials in tests. RSA key generation is slow, so `shared` is made once per process;
// `make()` gives a distinct certificate when a test needs a second key.

import Foundation
import X509
import _CryptoExtras

struct TestCertificate {
    let certificatePEM: String  // "-----BEGIN CERTIFICATE-----"
    let privateKeyPEM: String  // PKCS#8 "-----BEGIN PRIVATE KEY-----"
    let privateKeyPKCS1PEM: String  // "-----BEGIN RSA PRIVATE KEY-----"
    let derBytes: [UInt8]  // certificate DER
    let sha256Thumbprint: String  // base64url, no padding (x5t#S256)
    let sha1Thumbprint: String  // base64url, no padding (x5t)

    /// One certificate valid from an hour ago for a year, made on first use.
    static let shared: TestCertificate = {
        do { return try make() } catch { fatalError("cannot make the shared test certificate: \(error)") }
    }()

    static func make(
        commonName: String = "tokvault-test", notValidBefore: Date = Date() - 3600,
        notValidAfter: Date = Date() + 86400 * 365, keyBits: Int = 2048
    ) throws -> TestCertificate {
        let key = try _RSA.Signing.PrivateKey(keySize: .init(bitCount: keyBits))
        return try make(key: key, commonName: commonName, notValidBefore: notValidBefore, notValidAfter: notValidAfter)
    }

    /// A certificate for an existing key (e.g. a renewed certificate for the same key, or an
    /// expired one without paying for another key generation).
    static func make(
        key: _RSA.Signing.PrivateKey, commonName: String = "tokvault-test", notValidBefore: Date = Date() - 3600,
        notValidAfter: Date = Date() + 86400 * 365
    ) throws -> TestCertificate {
        let name = try DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notValidBefore, notValidAfter: notValidAfter, issuer: name, subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions(),
            issuerPrivateKey: Certificate.PrivateKey(key))
        let pem = try certificate.serializeAsPEM()
        let der = pem.derBytes
        return TestCertificate(
            certificatePEM: pem.pemString,
            privateKeyPEM: key.pkcs8PEMRepresentation,
            // BoringSSL writes the traditional (PKCS#1) form for `pemRepresentation`.
            privateKeyPKCS1PEM: key.pemRepresentation,
            derBytes: der,
            sha256Thumbprint: testBase64URL(Array(SHA256.hash(data: der))),
            sha1Thumbprint: testBase64URL(Array(Insecure.SHA1.hash(data: der))))
    }

    /// The private key, parsed back from PEM (either form).
    func privateKey() throws -> _RSA.Signing.PrivateKey {
        try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
    }

    /// One line from the middle of a PEM private key: present only where the key is.
    static func keyCanary(_ pem: String) -> String {
        let lines = pem.split(separator: "\n").map(String.init)
        return lines[lines.count / 2]
    }
}

private func testBase64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
