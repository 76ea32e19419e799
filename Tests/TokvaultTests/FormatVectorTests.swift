import Foundation
import Testing

@testable import TokvaultVault

/// Checks the Swift implementation against the format test vectors in `Vectors/`, which
/// `scripts/gen-vectors.py` produces from a separate Python implementation of the formats.
///
/// `good_*.txt` must open to the expected plaintext; `fail_*.txt` must be rejected at the
/// stage named by their `reject_at` line. Unknown kinds, stages or lines fail the test.
@Suite struct FormatVectorTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")

    static let kinds = ["sealed-field", "passphrase-slot", "keyfile-slot", "app-binding"]
    /// How many vectors scripts/gen-vectors.py writes.
    static let expectedCount = 111

    @Test func formatVectors() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
            .filter { $0.hasSuffix(".txt") }
            .sorted()
        let vectors = try names.map { try FormatVector(path: Self.directory.appendingPathComponent($0).path) }

        // The set itself: every kind has both outcomes, and nothing is unclassified.
        for kind in Self.kinds {
            #expect(vectors.contains { $0.kind == kind && $0.isGood }, "no good_ vector of kind \(kind)")
            #expect(vectors.contains { $0.kind == kind && !$0.isGood }, "no fail_ vector of kind \(kind)")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.directory.path) where !names.contains(name)
        {
            Issue.record("unexpected file \(name) in Vectors/")
        }

        var checked = 0
        for vector in vectors {
            do {
                switch vector.kind {
                case "sealed-field": try checkSealedField(vector)
                case "passphrase-slot": try checkPassphraseSlot(vector)
                case "keyfile-slot": try checkKeyFileSlot(vector)
                case "app-binding": try checkAppBinding(vector)
                default: Issue.record("\(vector.name): unknown kind \"\(vector.kind)\"")
                }
            } catch {
                Issue.record("\(vector.name): \(error)")
            }
            #expect(vector.unusedFields.isEmpty, "\(vector.name): lines not checked: \(vector.unusedFields.sorted())")
            checked += 1
        }
        // Every file was read and dispatched (a vector that failed to parse would be missing
        // here), and the set has the size the generator writes.
        #expect(vectors.count == names.count && checked == vectors.count)
        #expect(
            checked == Self.expectedCount,
            "scripts/gen-vectors.py writes \(Self.expectedCount) vectors; found \(checked)")
    }

    // MARK: - Sealed fields

    private func checkSealedField(_ v: FormatVector) throws {
        let format = Int(try v.optional("format") ?? "1") ?? 0
        let key = DataKey(
            bytes: SecureBytes(bytes: try v.hex("data_key")), generation: try v.int64("generation"),
            vaultID: try v.text("vault"),
            formatVersion: format)
        let place: SealedFieldPlace
        if format >= 2 {
            place = SealedFieldPlace(
                table: try v.text("table"), column: try v.text("column"), row: try v.text("row"),
                app: try v.text("app"),
                clientID: "", tokenEndpoint: "", binding: try v.hex("binding"), scopeKey: try v.text("scope_key"))
        } else {
            place = SealedFieldPlace(
                table: try v.text("table"), column: try v.text("column"), row: try v.text("row"),
                app: try v.text("app"), clientID: try v.text("client_id"), tokenEndpoint: try v.text("token_endpoint"))
        }
        let aad = SealedField.associatedData(
            vaultID: key.vaultID, generation: key.generation, place: place, format: format)
        #expect(Sodium.hex(aad) == Sodium.hex(try v.hex("aad")), "\(v.name): associated data differs")

        let sealed = try v.hex("sealed")
        if v.isGood {
            let plaintext = try SealedField.open(sealed, key: key, place: place, what: v.name)
            #expect(plaintext.array == (try v.hex("plaintext")), "\(v.name): wrong plaintext")
        } else {
            try v.expectStage(in: ["open"])
            #expect(throws: VaultError.tampered(v.name), "\(v.name): opened") {
                _ = try SealedField.open(sealed, key: key, place: place, what: v.name)
            }
        }
    }

    // MARK: - App bindings (format 2)

    private func checkAppBinding(_ v: FormatVector) throws {
        let format = Int(try v.optional("format") ?? "2") ?? 0
        let key = DataKey(
            bytes: SecureBytes(bytes: try v.hex("data_key")), generation: try v.int64("generation"),
            vaultID: try v.text("vault"), formatVersion: format)
        var app = App(
            id: try v.text("id"), name: try v.text("name"),
            provider: try #require(App.Provider(rawValue: try v.text("provider")), "\(v.name): provider"),
            tenant: try v.optional("tenant"), cloud: try v.optional("cloud"),
            authorityHost: try v.optional("authority_host"),
            clientID: try v.text("client_id"), authorizeEndpoint: try v.text("authorize_endpoint"),
            tokenEndpoint: try v.text("token_endpoint"), deviceEndpoint: try v.optional("device_endpoint"),
            redirectURI: try v.text("redirect_uri"), scope: try v.text("scope"), flow: try v.text("flow"),
            clientAuth: try #require(App.ClientAuth(rawValue: try v.text("client_auth")), "\(v.name): client_auth"),
            clientSecret: nil, createdAt: 0, updatedAt: 0, issuer: try v.optional("issuer"))
        if let certificate = try v.optional("certificate") {
            app.certificate = Data(try FormatVector.hexBytes(certificate, name: v.name, key: "certificate"))
        }
        app.assertionAlg = try v.optional("assertion_alg").map { try #require(App.AssertionAlgorithm(rawValue: $0)) }
        app.apiBase = try v.optional("api_base")
        app.requestHeaders = try v.optional("request_headers").map {
            String(decoding: try FormatVector.hexBytes($0, name: v.name, key: "request_headers"), as: UTF8.self)
        }
        app.federatedSource = try v.optional("federated_source").map {
            try #require(App.FederatedSource(rawValue: $0), "\(v.name): federated_source")
        }
        app.federatedTokenFile = try v.optional("federated_token_file")
        app.federatedAudience = try v.optional("federated_audience")
        app.clientCapabilities = try v.optional("client_capabilities")
        app.binding = Data(try v.hex("binding"))
        let message = AssociatedData.encode(
            AppBinding.fields(of: app, vaultID: key.vaultID, generation: key.generation, format: key.formatVersion))
        #expect(Sodium.hex(message) == Sodium.hex(try v.hex("message")), "\(v.name): binding message differs")
        if v.isGood {
            #expect(AppBinding.mac(of: app, key: key) == [UInt8](app.binding!), "\(v.name): MAC differs")
            #expect(AppBinding.holds(for: app, key: key), "\(v.name): binding refused")
        } else {
            try v.expectStage(in: ["verify"])
            #expect(!AppBinding.holds(for: app, key: key), "\(v.name): binding accepted")
        }
    }

    // MARK: - Passphrase slots

    private func checkPassphraseSlot(_ v: FormatVector) throws {
        let slot = KeySlot(
            id: try v.text("slot"), kind: .passphrase, keyGeneration: try v.int64("generation"),
            kdfSalt: Data(try v.hex("kdf_salt")), kdfOpslimit: try v.int64("kdf_opslimit"),
            kdfMemlimit: try v.int64("kdf_memlimit"), keyfileFingerprint: nil,
            wrappedKey: Data(try v.hex("wrapped_key")), createdAt: 0)
        let vaultID = try v.text("vault")
        try checkSlotAssociatedData(slot, vaultID: vaultID, v)
        let passphrase = SecureBytes(bytes: try v.hex("passphrase"))

        let stage = v.isGood ? "open" : try v.expectStage(in: ["kdf-bounds", "kdf-params", "unwrap"])
        switch stage {
        case "kdf-bounds":
            // Refused with an error before Argon2id runs: the parameters are not trusted.
            #expect(slot.kdfParameters?.isWithinBounds == false, "\(v.name): parameters considered in bounds")
            #expect(throws: VaultError.self, "\(v.name): out-of-bounds parameters accepted") {
                _ = try slot.passphraseKEK(passphrase, path: v.name)
            }
        case "kdf-params":
            // Not a usable parameter set at all: no key-encryption key comes out.
            let kek = try? slot.passphraseKEK(passphrase, path: v.name)
            #expect(kek == nil, "\(v.name): derived a key from unusable parameters")
        default:
            let kek = try #require(try slot.passphraseKEK(passphrase, path: v.name), "\(v.name): no key-encryption key")
            #expect(kek.array == (try v.hex("kek")), "\(v.name): Argon2id output differs")
            try checkUnwrap(slot, kek: kek, vaultID: vaultID, v)
        }
    }

    // MARK: - Key-file slots

    private func checkKeyFileSlot(_ v: FormatVector) throws {
        let slot = KeySlot(
            id: try v.text("slot"), kind: .keyfile, keyGeneration: try v.int64("generation"),
            kdfSalt: nil, kdfOpslimit: nil, kdfMemlimit: nil,
            keyfileFingerprint: try v.text("keyfile_fingerprint"),
            wrappedKey: Data(try v.hex("wrapped_key")), createdAt: 0)
        let vaultID = try v.text("vault")
        try checkSlotAssociatedData(slot, vaultID: vaultID, v)
        let contents = SecureBytes(bytes: try v.hex("keyfile"))

        let stage = v.isGood ? "open" : try v.expectStage(in: ["parse", "unwrap"])
        if stage == "parse" {
            #expect(KeyFile.parse(contents) == nil, "\(v.name): malformed key file accepted")
            return
        }
        let keyFile = try #require(KeyFile.parse(contents), "\(v.name): key file not parsed")
        #expect(keyFile.key.array == (try v.hex("keyfile_key")), "\(v.name): parsed key differs")
        #expect(keyFile.fingerprint == (try v.text("file_fingerprint")), "\(v.name): fingerprint differs")
        #expect(keyFile.keyEncryptionKey.array == (try v.hex("file_kek")), "\(v.name): key-encryption key differs")
        if v.isGood {
            #expect(keyFile.fingerprint == slot.keyfileFingerprint, "\(v.name): key file does not match its slot")
            // What the vault writes back must parse to the same key.
            let reparsed = try #require(KeyFile.parse(keyFile.rendered()), "\(v.name): rendered key file not parsed")
            #expect(reparsed.key.array == keyFile.key.array)
        }
        try checkUnwrap(slot, kek: keyFile.keyEncryptionKey, vaultID: vaultID, v)
    }

    // MARK: - Shared slot checks

    private func checkSlotAssociatedData(_ slot: KeySlot, vaultID: String, _ v: FormatVector) throws {
        #expect(slot.associatedDetail == (try v.text("detail")), "\(v.name): AAD detail differs")
        let aad = KeySlot.associatedData(
            vaultID: vaultID, slotID: slot.id, kind: slot.kind, generation: slot.keyGeneration,
            detail: slot.associatedDetail)
        #expect(Sodium.hex(aad) == Sodium.hex(try v.hex("aad")), "\(v.name): associated data differs")
    }

    private func checkUnwrap(_ slot: KeySlot, kek: SecureBytes, vaultID: String, _ v: FormatVector) throws {
        let key = slot.unwrap(with: kek, vaultID: vaultID)
        if v.isGood {
            let key = try #require(key, "\(v.name): slot did not unwrap")
            #expect(key.bytes.array == (try v.hex("data_key")), "\(v.name): wrong data key")
            #expect(key.vaultID == vaultID && key.generation == slot.keyGeneration)
        } else {
            #expect(key == nil, "\(v.name): slot unwrapped")
        }
    }
}

/// One vector file: `name: value` lines under a `#` comment header.
private final class FormatVector {
    let name: String
    let isGood: Bool
    let kind: String
    private var fields: [String: String] = [:]
    private var used: Set<String> = []

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    init(path: String) throws {
        let file = URL(fileURLWithPath: path).lastPathComponent
        name = String(file.dropLast(4))
        if name.hasPrefix("good_") {
            isGood = true
        } else if name.hasPrefix("fail_") {
            isGood = false
        } else {
            throw Malformed(description: "\(file): name must start with good_ or fail_")
        }

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard String(data: data, encoding: .utf8) != nil else { throw Malformed(description: "\(file): not UTF-8") }
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        guard lines.last == "" else { throw Malformed(description: "\(file): no final newline") }
        lines.removeLast()
        guard let header = lines.first, header.hasPrefix("# "), header.count > 2 else {
            throw Malformed(description: "\(file): first line must be a `# ` comment saying what the vector checks")
        }
        for line in lines where !line.hasPrefix("#") {
            let key: String
            let value: String
            if let range = line.range(of: ": ") {
                key = String(line[..<range.lowerBound])
                value = String(line[range.upperBound...])
            } else if line.hasSuffix(":") {
                key = String(line.dropLast())
                value = ""
            } else {
                throw Malformed(description: "\(file): malformed line \(line.debugDescription)")
            }
            guard !key.isEmpty, fields.updateValue(value, forKey: key) == nil else {
                throw Malformed(description: "\(file): empty or repeated name \(key.debugDescription)")
            }
        }
        guard let kind = fields["kind"] else { throw Malformed(description: "\(file): no kind") }
        self.kind = kind
        used.insert("kind")
    }

    var unusedFields: Set<String> { Set(fields.keys).subtracting(used) }

    func text(_ key: String) throws -> String {
        guard let value = fields[key] else { throw Malformed(description: "\(name): missing \(key)") }
        used.insert(key)
        return value
    }

    func int64(_ key: String) throws -> Int64 {
        guard let value = Int64(try text(key)) else {
            throw Malformed(description: "\(name): \(key) is not an integer")
        }
        return value
    }

    /// A line that may be absent (a NULL column).
    func optional(_ key: String) throws -> String? {
        guard fields[key] != nil else { return nil }
        return try text(key)
    }

    func hex(_ key: String) throws -> [UInt8] {
        try Self.hexBytes(try text(key), name: name, key: key)
    }

    static func hexBytes(_ text: String, name: String, key: String) throws -> [UInt8] {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else {
            throw Malformed(description: "\(name): \(key) has an odd number of hex digits")
        }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: throw Malformed(description: "\(name): \(key) is not lowercase hex")
            }
        }
        return try stride(from: 0, to: digits.count, by: 2).map { try nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    /// The stage a fail vector must be rejected at; unknown stages are an error.
    @discardableResult
    func expectStage(in stages: Set<String>) throws -> String {
        let stage = try text("reject_at")
        guard stages.contains(stage) else {
            throw Malformed(description: "\(name): unknown reject_at \(stage.debugDescription) for kind \(kind)")
        }
        return stage
    }
}

extension SecureBytes {
    fileprivate convenience init(bytes: [UInt8]) {
        var copy = bytes
        self.init(consuming: &copy)
    }

    fileprivate var array: [UInt8] { withUnsafeBytes { Array($0) } }
}
