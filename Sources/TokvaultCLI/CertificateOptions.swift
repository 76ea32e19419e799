import ArgumentParser
import Foundation
import TokvaultFlow
import TokvaultVault

/// A certificate credential: the certificate (public) and its private key (sealed). The key
/// comes from a file or standard input, never from argv.
struct CertificateOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "PEM certificate registered on the app (Certificates & secrets); the client then authenticates with signed assertions instead of a secret. The file may hold the unencrypted key too.",
            valueName: "file"))
    var certificate: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Read the certificate's unencrypted PEM private key from this file.", valueName: "file"))
    var privateKeyFile: String?

    @Flag(name: .long, help: "Read the certificate's unencrypted PEM private key from standard input.")
    var privateKeyStdin = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Client assertion signature: ps256 (default; x5t#S256 header) or rs256 (x5t header, for older tenants).",
            valueName: "alg"))
    var assertionAlg: String?

    var isGiven: Bool { certificate != nil }
    var givesKey: Bool { privateKeyFile != nil || privateKeyStdin }

    func validate() throws {
        if privateKeyFile != nil && privateKeyStdin {
            throw ValidationError("give the private key once: --private-key-file or --private-key-stdin")
        }
        if givesKey && certificate == nil {
            throw ValidationError("--private-key-file/--private-key-stdin go with --certificate FILE")
        }
        if assertionAlg != nil { _ = try algorithm() }
    }

    func algorithm() throws -> App.AssertionAlgorithm? {
        guard let assertionAlg else { return nil }
        switch assertionAlg.lowercased() {
        case "ps256": return .ps256
        case "rs256": return .rs256
        default: throw ValidationError("--assertion-alg must be ps256 or rs256")
        }
    }

    struct Loaded {
        var certificateDER: [UInt8]
        var info: CertificateInfo
        var privateKeyDER: SecureBytes
        var algorithm: App.AssertionAlgorithm
    }

    /// The certificate and its key, checked to belong together.
    func load() throws -> Loaded? {
        guard let certificate else { return nil }
        let certificateText = try Self.readPEM(path: certificate, what: "certificate file")
        let der = try certificateText.withUnsafeBytes {
            try CertificateCredential.certificateDER(fromPEM: String(decoding: $0, as: UTF8.self), source: certificate)
        }
        let keySource: String
        let keyPEM: SecureBytes
        if privateKeyStdin {
            keySource = "standard input"
            keyPEM = try Self.readPEM(fd: STDIN_FILENO, what: "private key on standard input")
        } else if let privateKeyFile {
            keySource = privateKeyFile
            keyPEM = try Self.readPEM(path: privateKeyFile, what: "private key file")
        } else {
            // A combined PEM (as `openssl pkcs12 -nodes` writes it) carries the key itself.
            let hasKey = certificateText.withUnsafeBytes {
                String(decoding: $0, as: UTF8.self).contains("PRIVATE KEY-----")
            }
            guard hasKey else {
                throw CommandError.usage(
                    "no private key for the certificate \(certificate)",
                    hint: "give it with --private-key-file KEY.pem or --private-key-stdin (unencrypted PEM)")
            }
            keySource = certificate
            keyPEM = certificateText
        }
        let keyDER = try CertificateCredential.privateKeyDER(fromPEM: keyPEM, source: keySource)
        try CertificateCredential.checkMatch(privateKeyDER: keyDER, certificateDER: der)
        return Loaded(
            certificateDER: der, info: try CertificateInfo(der: der), privateKeyDER: keyDER,
            algorithm: try algorithm() ?? .ps256)
    }

    static func readPEM(path: String, what: String) throws -> SecureBytes {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError.failure("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try readPEM(fd: fd, what: what)
    }

    static func readPEM(fd: Int32, what: String) throws -> SecureBytes {
        guard let bytes = try SecureBytes.read(fileDescriptor: fd, limit: 256 * 1024) else {
            throw CommandError.usage("the \(what) is longer than 256 KiB: not a PEM certificate or key")
        }
        guard bytes.count > 0 else { throw CommandError.usage("the \(what) is empty") }
        return bytes
    }

    /// Warnings about a certificate that will not work for long (or at all).
    static func expiryWarning(_ info: CertificateInfo, appName: String) -> String? {
        let days = info.daysLeft()
        if info.notValidAfter < Date() {
            return
                "the certificate of app \"\(appName)\" expired on \(Output.isoTime(Int64(info.notValidAfter.timeIntervalSince1970))); the identity provider will refuse it"
        }
        if days < 30 {
            return
                "the certificate of app \"\(appName)\" expires in \(days) day\(days == 1 ? "" : "s") (\(Output.isoTime(Int64(info.notValidAfter.timeIntervalSince1970))))"
        }
        return nil
    }
}
