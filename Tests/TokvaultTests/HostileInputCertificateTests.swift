import Crypto
import Foundation
import Testing
import X509
import _CryptoExtras

@Suite("hostile input: certificates and keys")
struct HostileInputCertificateTests {
    /// `add-app deploy --flow client-credentials --certificate CERT (--private-key-file KEY | --private-key-stdin)`.
    func addApp(_ f: Fixture, certificate: String, key: String?, stdin: String? = nil) -> CLI.Result {
        var args = [
            "add-app", "deploy", "--tenant", "t", "--client-id", Fixture.clientID, "--flow", "client-credentials",
            "--certificate", certificate
        ]
        if let key { args += ["--private-key-file", key] } else if stdin != nil { args += ["--private-key-stdin"] }
        return f.cli.run(args + ["--key-file", f.keyFile], stdin: stdin)
    }

    func write(_ dir: TempDir, _ name: String, _ bytes: [UInt8]) -> String {
        let path = dir.file(name)
        FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        return path
    }

    func expectRefused(
        _ f: Fixture, _ result: CLI.Result, status: Int32 = 64, _ needle: String, before: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(needle), "\(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        Hostile.expectClean(
            result, secrets: [TestCertificate.keyCanary(TestCertificate.shared.privateKeyPEM)],
            sourceLocation: sourceLocation)
        #expect(try Hostile.snapshot(f.cli.vaultPath) == before, "nothing was added", sourceLocation: sourceLocation)
    }

    @Test func binaryCertificateFormatsAreRefusedWithTheConversion() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let key = f.dir.write("key.pem", shared.privateKeyPEM)
        let der = write(f.dir, "cert.der", shared.derBytes)
        try expectRefused(f, addApp(f, certificate: der, key: key), "\(der) is not PEM text", before: before)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        let derKey = write(f.dir, "key.der", [UInt8](try shared.privateKey().derRepresentation))
        try expectRefused(f, addApp(f, certificate: pem, key: derKey), "\(derKey) is not PEM text", before: before)
    }

    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    func openssl(_ arguments: [String]) throws {
        let result = CLI.exec(["/usr/bin/openssl"] + arguments, environment: ["PATH": "/usr/bin:/bin"])
        try #require(result.status == 0, "openssl \(arguments): \(result)")
    }

    /// Real PKCS#12, encrypted and SEC 1 files as openssl writes them.
    @Test(.enabled(if: HostileInputCertificateTests.hasOpenSSL))
    func opensslFormatsThatAreNotUnencryptedRSAPEMAreRefused() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        let key = f.dir.write("key.pem", shared.privateKeyPEM)
        let p12 = f.dir.file("cert.pfx")
        try openssl(["pkcs12", "-export", "-in", pem, "-inkey", key, "-out", p12, "-passout", "pass:x"])
        for (certificate, keyFile) in [(p12, key), (pem, p12)] {
            let result = addApp(f, certificate: certificate, key: keyFile)
            try expectRefused(f, result, "\(p12) is not PEM text", before: before)
            #expect(result.stderr.contains("openssl pkcs12"), "\(result)")
        }
        let encrypted = f.dir.file("enc.pem")
        try openssl(["pkey", "-in", key, "-aes256", "-passout", "pass:x", "-out", encrypted])
        let pkcs8 = addApp(f, certificate: pem, key: encrypted)
        try expectRefused(f, pkcs8, "the private key in \(encrypted) is encrypted", before: before)
        #expect(pkcs8.stderr.contains("openssl pkey"), "\(pkcs8)")
        let legacy = f.dir.file("legacy.pem")
        try openssl(["rsa", "-in", key, "-aes128", "-traditional", "-passout", "pass:x", "-out", legacy])
        try expectRefused(
            f, addApp(f, certificate: pem, key: legacy), "the private key in \(legacy) is encrypted", before: before)
        let sec1 = f.dir.file("ec.pem")
        try openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1])
        try expectRefused(f, addApp(f, certificate: pem, key: sec1), "\(sec1) holds no PEM private key", before: before)
    }

    @Test func unusableKeysAreRefused() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        // An EC key in PKCS#8 (SEC 1 files are in the openssl test).
        let ec = P256.Signing.PrivateKey()
        let ecPKCS8 = f.dir.write("ec8.pem", ec.pemRepresentation)
        try expectRefused(
            f, addApp(f, certificate: pem, key: ecPKCS8),
            "the private key in \(ecPKCS8) is not an RSA key of 2048 bits or more", before: before)
        // 1024-bit RSA: the key, and a certificate made for it (which X.509 parsing refuses).
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let smallKey = f.dir.write("small-key.pem", small.pkcs8PEMRepresentation)
        try expectRefused(
            f, addApp(f, certificate: pem, key: smallKey),
            "the private key in \(smallKey) is not an RSA key of 2048 bits or more", before: before)
        let smallCertificate = try TestCertificate.make(key: small)
        let smallPEM = f.dir.write("small.pem", smallCertificate.certificatePEM)
        try expectRefused(
            f, addApp(f, certificate: smallPEM, key: smallKey), "the certificate could not be read", before: before)
    }

    @Test func ecCertificateIsRefused() throws {
        let f = Fixture()
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("ec") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(),
            issuerPrivateKey: Certificate.PrivateKey(key))
        let pem = f.dir.write("ec-cert.pem", try certificate.serializeAsPEM().pemString)
        let keyFile = f.dir.write("ec-key.pem", key.pemRepresentation)
        try expectRefused(
            f, addApp(f, certificate: pem, key: keyFile), "the certificate's key is not an RSA key", before: before)
    }

    @Test func emptyHugeAndMissingInputsAreRefused() throws {
        let f = Fixture()
        let shared = TestCertificate.shared
        let before = try Hostile.snapshot(f.cli.vaultPath)
        let pem = f.dir.write("cert.pem", shared.certificatePEM)
        let key = f.dir.write("key.pem", shared.privateKeyPEM)
        let empty = f.dir.write("empty.pem", "")
        try expectRefused(f, addApp(f, certificate: empty, key: key), "the certificate file is empty", before: before)
        try expectRefused(f, addApp(f, certificate: pem, key: empty), "the private key file is empty", before: before)
        try expectRefused(
            f, addApp(f, certificate: pem, key: nil, stdin: ""), "the private key on standard input is empty",
            before: before)
        // 10 MB of a repeated certificate: refused by size before any parsing.
        var big = shared.certificatePEM
        while big.utf8.count < 10 * 1024 * 1024 { big += big }
        let huge = f.dir.write("huge.pem", big)
        try expectRefused(
            f, addApp(f, certificate: huge, key: key), "the certificate file is longer than 256 KiB", before: before)
        try expectRefused(
            f, addApp(f, certificate: pem, key: huge), "the private key file is longer than 256 KiB", before: before)
        // Through a file rather than a pipe, so that the test never writes into a closed pipe.
        let started = Date()
        let piped = CLI.exec(
            [
                "/bin/sh", "-c",
                "exec \"$0\" add-app deploy --tenant t --client-id \"$1\" --flow client-credentials --certificate \"$2\" --private-key-stdin --key-file \"$3\" < \"$4\"",
                CLI.binary, Fixture.clientID, pem, f.keyFile, huge
            ], environment: f.cli.environment, cwd: f.dir.path)
        try expectRefused(f, piped, "the private key on standard input is longer than 256 KiB", before: before)
        #expect(Date().timeIntervalSince(started) < 5)
        // Not a file at all.
        try expectRefused(
            f, addApp(f, certificate: pem, key: f.dir.file("missing.pem")), status: 1,
            "cannot read \(f.dir.file("missing.pem")): No such file or directory", before: before)
        mkdir(f.dir.file("keydir"), 0o700)
        try expectRefused(
            f, addApp(f, certificate: pem, key: f.dir.file("keydir")), status: 1, "Is a directory", before: before)
    }
}
