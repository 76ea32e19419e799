import Crypto
import Foundation
import GRDB
import Testing
import _CryptoExtras

@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// Certificate credentials (client assertions), the client credentials app rules, the device
/// authorization answer, and migration 0003 — below the command line.
@Suite("certificate credentials and client credentials")
struct CertificateCredentialTests {
    static let tokenEndpoint = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"

    static func keyDER(_ certificate: TestCertificate = .shared) throws -> SecureBytes {
        try CertificateCredential.privateKeyDER(fromPEM: secure(certificate.privateKeyPEM), source: "test")
    }

    static func certificateApp(flow: App.Flow = .clientCredentials, alg: App.AssertionAlgorithm = .ps256) throws -> App
    {
        var fields = AppFields()
        fields.tenant = "contoso.onmicrosoft.com"
        fields.clientID = FlowFixture.clientID
        fields.flow = flow
        var app = try AppSpec.newApp(name: "deploy", fields: fields, isPublic: false)
        app.clientAuth = .privateKeyJWT
        app.certificate = Data(TestCertificate.shared.derBytes)
        app.assertionAlg = alg
        return app
    }

    struct DecodedJWT {
        var header: [String: Any]
        var claims: [String: Any]
        var signingInput: String
        var signature: [UInt8]
    }

    static func decode(_ jwt: String) throws -> DecodedJWT {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 3)
        func bytes(_ part: String) throws -> [UInt8] {
            var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while text.count % 4 != 0 { text += "=" }
            return try #require(Data(base64Encoded: text)).map { $0 }
        }
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes(parts[0]))) as? [String: Any])
        let claims = try #require(try JSONSerialization.jsonObject(with: Data(bytes(parts[1]))) as? [String: Any])
        return DecodedJWT(
            header: header, claims: claims, signingInput: parts[0] + "." + parts[1], signature: try bytes(parts[2]))
    }

    // MARK: - Client assertions

    @Test func ps256AssertionHasTheHeaderClaimsAndAValidPSSSignature() throws {
        let certificate = TestCertificate.shared
        let assertion = ClientAssertion(
            clientID: "client-1", audience: Self.tokenEndpoint,
            certificateDER: certificate.derBytes, algorithm: .ps256)
        let now: Int64 = 1_800_000_000
        let jwt = try Self.decode(plaintext(try assertion.signed(with: Self.keyDER(), now: now)))
        #expect(jwt.header["alg"] as? String == "PS256")
        #expect(jwt.header["typ"] as? String == "JWT")
        #expect(jwt.header["x5t#S256"] as? String == certificate.sha256Thumbprint)
        #expect(jwt.header["x5t"] == nil)
        #expect(jwt.claims["aud"] as? String == Self.tokenEndpoint)
        #expect(jwt.claims["iss"] as? String == "client-1")
        #expect(jwt.claims["sub"] as? String == "client-1")
        #expect((jwt.claims["nbf"] as? NSNumber)?.int64Value == now)
        #expect((jwt.claims["iat"] as? NSNumber)?.int64Value == now)
        #expect((jwt.claims["exp"] as? NSNumber)?.int64Value == now + 300)
        #expect(UUID(uuidString: try #require(jwt.claims["jti"] as? String)) != nil)

        let publicKey = try certificate.privateKey().publicKey
        let signature = _RSA.Signing.RSASignature(rawRepresentation: jwt.signature)
        let digest = SHA256.hash(data: Array(jwt.signingInput.utf8))
        #expect(publicKey.isValidSignature(signature, for: digest, padding: .PSS))
        #expect(!publicKey.isValidSignature(signature, for: digest, padding: .insecurePKCS1v1_5))
        // Another key's public half must not verify it.
        let other = try TestCertificate.make(commonName: "other").privateKey().publicKey
        #expect(!other.isValidSignature(signature, for: digest, padding: .PSS))
    }

    @Test func rs256AssertionUsesX5tAndPKCS1() throws {
        let certificate = TestCertificate.shared
        let assertion = ClientAssertion(
            clientID: "client-1", audience: Self.tokenEndpoint,
            certificateDER: certificate.derBytes, algorithm: .rs256)
        let jwt = try Self.decode(plaintext(try assertion.signed(with: Self.keyDER())))
        #expect(jwt.header["alg"] as? String == "RS256")
        #expect(jwt.header["x5t"] as? String == certificate.sha1Thumbprint)
        #expect(jwt.header["x5t#S256"] == nil)
        let publicKey = try certificate.privateKey().publicKey
        let digest = SHA256.hash(data: Array(jwt.signingInput.utf8))
        #expect(
            publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: jwt.signature), for: digest, padding: .insecurePKCS1v1_5))
    }

    @Test func everyAssertionHasAFreshJti() throws {
        let assertion = ClientAssertion(
            clientID: "c", audience: Self.tokenEndpoint,
            certificateDER: TestCertificate.shared.derBytes, algorithm: .ps256)
        let key = try Self.keyDER()
        let ids = try (0..<5).map { _ in
            try Self.decode(plaintext(try assertion.signed(with: key))).claims["jti"] as? String
        }
        #expect(Set(ids.compactMap { $0 }).count == 5)
    }

    @Test func certificateAppSendsAnAssertionAndNoSecret() throws {
        let app = try Self.certificateApp()
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .clientCredentials(scope: app.scope), credential: .privateKey(Self.keyDER()))
        #expect(basic == nil)
        let f = FlowFixture.fields(plaintext(body.encoded())[...])
        #expect(f["grant_type"] == ["client_credentials"])
        #expect(f["scope"] == ["\(FlowFixture.clientID)/.default"])
        #expect(f["client_id"] == [FlowFixture.clientID])
        #expect(f["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"])
        #expect(f["client_secret"] == nil)
        let jwt = try Self.decode(try #require(f["client_assertion"]?.first))
        #expect(jwt.claims["aud"] as? String == app.tokenEndpoint)
        // Without its key, a certificate app cannot authenticate.
        #expect(throws: FlowError.self) {
            try TokenClient.requestBody(app: app, grant: .clientCredentials(scope: app.scope), credential: .none)
        }
    }

    // MARK: - Reading certificates and keys

    @Test func pkcs1AndPkcs8KeysReadToTheSameKey() throws {
        let certificate = TestCertificate.shared
        let fromPKCS8 = try CertificateCredential.privateKeyDER(
            fromPEM: secure(certificate.privateKeyPEM), source: "k8")
        let fromPKCS1 = try CertificateCredential.privateKeyDER(
            fromPEM: secure(certificate.privateKeyPKCS1PEM), source: "k1")
        #expect(fromPKCS8.constantTimeEquals(fromPKCS1))
        try CertificateCredential.checkMatch(privateKeyDER: fromPKCS1, certificateDER: certificate.derBytes)
        // A combined file: the certificate is found past the key.
        let combined = certificate.privateKeyPEM + "\n" + certificate.certificatePEM
        #expect(try CertificateCredential.certificateDER(fromPEM: combined, source: "both") == certificate.derBytes)
    }

    @Test func badCertificateAndKeyInputGetUsageErrorsThatNameTheSource() throws {
        let certificate = TestCertificate.shared
        func usage(_ body: () throws -> Void) -> FlowError? {
            do {
                try body()
                return nil
            } catch let error as FlowError { return error } catch { return nil }
        }
        let notPEM = usage { _ = try CertificateCredential.certificateDER(fromPEM: "hello", source: "x.pem") }
        #expect(
            notPEM?.exitCode == 64 && notPEM?.message.contains("x.pem") == true
                && notPEM?.shownHint?.contains("openssl pkcs12") == true)
        let keyOnly = usage {
            _ = try CertificateCredential.certificateDER(fromPEM: certificate.privateKeyPEM, source: "key.pem")
        }
        #expect(keyOnly?.message.contains("no PEM certificate") == true)
        #expect(!(keyOnly?.message.contains("MII") ?? true), "the error quotes no file content")
        let damaged = usage {
            _ = try CertificateCredential.certificateDER(
                fromPEM: "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", source: "d.pem")
        }
        #expect(damaged?.exitCode == 64)
        let encrypted = usage {
            _ = try CertificateCredential.privateKeyDER(
                fromPEM: secure(
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBAA==\n-----END ENCRYPTED PRIVATE KEY-----\n"),
                source: "enc.pem")
        }
        #expect(
            encrypted?.message.contains("encrypted") == true && encrypted?.shownHint?.contains("openssl pkey") == true)
        let other = try TestCertificate.make(commonName: "other")
        let mismatch = usage {
            try CertificateCredential.checkMatch(
                privateKeyDER: CertificateCredential.privateKeyDER(fromPEM: secure(other.privateKeyPEM), source: "o"),
                certificateDER: certificate.derBytes)
        }
        #expect(mismatch?.message == "the private key does not belong to the certificate")
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let tooSmall = usage {
            _ = try CertificateCredential.privateKeyDER(fromPEM: secure(small.pemRepresentation), source: "s.pem")
        }
        #expect(tooSmall?.message.contains("2048") == true)
    }

    @Test func certificateInfoReportsThumbprintsAndExpiry() throws {
        let expired = try TestCertificate.make(
            key: TestCertificate.shared.privateKey(), commonName: "old",
            notValidBefore: Date() - 86400 * 40, notValidAfter: Date() - 86400 * 2)
        let info = try CertificateInfo(der: expired.derBytes)
        #expect(info.subject == "CN=old")
        #expect(info.x5t == expired.sha1Thumbprint && info.x5tS256 == expired.sha256Thumbprint)
        #expect(info.sha1Hex.count == 40 && info.sha1Hex == info.sha1Hex.uppercased())
        #expect(info.daysLeft() < 0)
        #expect(info.keyBits == 2048)
    }

    // MARK: - Client credentials apps

    @Test func clientCredentialsAppsGetTheDotDefaultScopeAndRefuseUserScopes() throws {
        var fields = AppFields()
        fields.tenant = "contoso.onmicrosoft.com"
        fields.clientID = FlowFixture.clientID
        fields.flow = .clientCredentials
        let app = try AppSpec.newApp(name: "svc", fields: fields, isPublic: false)
        #expect(app.scope == "\(FlowFixture.clientID)/.default")
        #expect(app.usesClientCredentialsFlow)
        for scope in ["openid", "api://x/.default offline_access", "User.Read", "https://graph.microsoft.com/User.Read"]
        {
            var bad = fields
            bad.scope = scope
            #expect(throws: UseCaseError.self, "scope \(scope)") {
                try AppSpec.newApp(name: "svc", fields: bad, isPublic: false)
            }
        }
        var good = fields
        good.scope = "https://management.azure.com/.default"
        #expect(
            try AppSpec.newApp(name: "svc", fields: good, isPublic: false).scope
                == "https://management.azure.com/.default")
        #expect(throws: UseCaseError.self) { try AppSpec.newApp(name: "svc", fields: fields, isPublic: true) }

        // Another server: a token endpoint alone is enough, but the scope must be named.
        var generic = AppFields()
        generic.clientID = "svc-client"
        generic.tokenEndpoint = "https://idp.example.com/token"
        generic.flow = .clientCredentials
        #expect(throws: UseCaseError.self) { try AppSpec.newApp(name: "svc", fields: generic, isPublic: false) }
        generic.scope = "api.read api.write"
        let named = try AppSpec.newApp(name: "svc", fields: generic, isPublic: false)
        #expect(named.authorizeEndpoint.isEmpty && named.scope == "api.read api.write")
        generic.flow = .authorizationCode
        #expect(throws: UseCaseError.self, "a user's sign-in needs an authorize endpoint") {
            try AppSpec.newApp(name: "svc", fields: generic, isPublic: false)
        }
    }

    @Test func switchingFlowsMovesADefaultScopeAlong() throws {
        var app = try FlowFixture.azureApp()
        #expect(app.scope.hasSuffix("offline_access"))
        var fields = AppFields()
        fields.flow = .clientCredentials
        try AppSpec.apply(fields, to: &app)
        #expect(app.scope == "\(FlowFixture.clientID)/.default")
        fields.flow = .authorizationCode
        try AppSpec.apply(fields, to: &app)
        #expect(app.scope == "\(FlowFixture.clientID)/.default openid profile offline_access")
    }

    // MARK: - Device authorization answers

    @Test func deviceAuthorizationAnswersAreParsedAndBounded() throws {
        let azure = try DeviceFlow.parse(
            Data(
                """
                {"user_code":"ABCD1234E","device_code":"dc-1","verification_uri":"https://microsoft.com/devicelogin",
                 "expires_in":900,"interval":5,"message":"To sign in, use a web browser…"}
                """.utf8), endpoint: "https://login.example/devicecode")
        #expect(azure.userCode == "ABCD1234E" && azure.verificationURI == "https://microsoft.com/devicelogin")
        #expect(plaintext(azure.deviceCode) == "dc-1")
        #expect(azure.expiresIn == 900 && azure.interval == 5)
        // v1 spelling, string numbers, no interval (RFC 8628: 5), a 0 interval clamped to 1.
        let v1 = try DeviceFlow.parse(
            Data(
                #"{"user_code":"X","device_code":"d","verification_url":"https://a.example/dev","expires_in":"600"}"#
                    .utf8), endpoint: "e")
        #expect(v1.verificationURI == "https://a.example/dev" && v1.expiresIn == 600 && v1.interval == 5)
        let fast = try DeviceFlow.parse(
            Data(#"{"user_code":"X","device_code":"d","verification_uri":"https://a.example","interval":0}"#.utf8),
            endpoint: "e")
        #expect(fast.interval == 1)
        // Control characters from the server never reach the terminal.
        let hostile = try DeviceFlow.parse(
            Data(#"{"user_code":"AB\u001b[2JCD","device_code":"d","verification_uri":"https://a.example"}"#.utf8),
            endpoint: "e")
        #expect(!hostile.userCode.contains("\u{1b}"))
        for body in [
            "", "<html>", #"{"user_code":"X","verification_uri":"https://a"}"#,
            #"{"user_code":"X","device_code":"d","verification_uri":"javascript:alert(1)"}"#
        ] {
            #expect(throws: FlowError.self, "body \(body)") {
                try DeviceFlow.parse(Data(body.utf8), endpoint: "https://login.example/devicecode")
            }
        }
    }

    // MARK: - The vault

    @Test func certificateKeysAreSealedRotatedAndSwitchedWithSecrets() throws {
        let (dir, vault, keyFile) = try newLibraryVault()
        _ = dir
        let key = try vault.unlock(UnlockMaterial(keyFiles: [("k", keyFile)]))
        let app = try Self.certificateApp()
        let der = try Self.keyDER()
        try vault.addApp(app, clientSecret: nil, privateKey: der, key: key)
        var stored = try vault.app(named: "deploy")
        #expect(stored.hasCredential && stored.clientSecret == nil)
        #expect(try vault.privateKey(of: stored, key: key)?.constantTimeEquals(der) == true)
        #expect(try vault.verifyAllSealedFields(key: key) == 1)

        // The sealed key is bound to its column: moved into client_secret, it does not open.
        var moved = stored
        moved.clientSecret = stored.privateKey
        #expect(throws: VaultError.self) { _ = try vault.clientSecret(of: moved, key: key) }

        // A new client id re-seals the key for the new binding.
        var renamed = stored
        renamed.clientID = "22222222-2222-3333-4444-555555555555"
        renamed.scope = "22222222-2222-3333-4444-555555555555/.default"
        try vault.updateApp(original: stored, updated: renamed, changes: .init(), key: key)
        stored = try vault.app(named: "deploy")
        #expect(try vault.privateKey(of: stored, key: key)?.constantTimeEquals(der) == true)

        // A client secret replaces the certificate, and a certificate the secret.
        try vault.updateApp(
            original: stored, updated: stored, changes: .init(newClientSecret: secure("s3cret")), key: key)
        stored = try vault.app(named: "deploy")
        #expect(
            stored.clientAuth == .post && stored.certificate == nil && stored.privateKey == nil
                && stored.assertionAlg == nil)
        var back = stored
        back.certificate = Data(TestCertificate.shared.derBytes)
        back.assertionAlg = .rs256
        try vault.updateApp(original: stored, updated: back, changes: .init(newPrivateKey: der), key: key)
        stored = try vault.app(named: "deploy")
        #expect(stored.clientAuth == .privateKeyJWT && stored.clientSecret == nil && stored.assertionAlg == .rs256)
        #expect(try vault.credential(of: stored, key: key).isPrivateKey)
    }

    @Test func migration0003KeepsAppsSessionsAndTokensOfAnOlderVault() throws {
        let dir = TempDir()
        let path = dir.file("old.db")
        let queue = try DatabaseQueue(path: path)
        try Vault.migrator.migrate(queue, upTo: "0002_add_app_issuer")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO vault VALUES (1, 'v-1', 1, 1, 0, NULL);
                    INSERT INTO app (id, name, provider, tenant, client_id, authorize_endpoint, token_endpoint, redirect_uri,
                                     scope, client_auth, client_secret, created_at, updated_at, issuer)
                        VALUES ('a-1', 'adme', 'azure', 't', 'c', 'https://x/authorize', 'https://x/token', 'http://localhost:8080',
                                's', 'client_secret_post', X'01', 1, 2, 'https://issuer');
                    INSERT INTO session (id, app_id, refresh_token, obtained_at) VALUES ('s-1', 'a-1', X'02', 3);
                    INSERT INTO access_token (id, app_id, scope_key, token, token_type, expires_at, obtained_at)
                        VALUES ('t-1', 'a-1', '', X'03', 'Bearer', 4, 3);
                    """)
        }
        try Vault.migrator.migrate(queue)
        try queue.read { db in
            let app = try #require(try App.fetchOne(db, sql: "SELECT * FROM app"))
            #expect(
                app.name == "adme" && app.clientSecret == Data([1]) && app.issuer == "https://issuer"
                    && app.updatedAt == 2)
            #expect(app.certificate == nil && app.assertionAlg == nil && app.flowKind == .authorizationCode)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM session WHERE app_id = 'a-1'") == 1)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM access_token WHERE app_id = 'a-1'") == 1)
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
        }
        try queue.write { db in
            // The new CHECKs hold, and deleting an app still cascades to its tokens.
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "UPDATE app SET client_auth = 'private_key_jwt' WHERE id = 'a-1'")
            }
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE app SET flow = 'implicit'") }
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "DELETE FROM app WHERE id = 'a-1'")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM session") == 0)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM access_token") == 0)
        }
    }
}

extension TokenClient.Credential {
    var isPrivateKey: Bool { if case .privateKey = self { return true } else { return false } }
}
