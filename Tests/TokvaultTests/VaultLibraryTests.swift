import Foundation
import Testing

@testable import TokvaultUseCases
@testable import TokvaultVault

@Suite("vault library")
struct VaultLibraryTests {
    static func azureApp(_ name: String) throws -> App {
        var fields = AppFields()
        fields.tenant = "contoso.onmicrosoft.com"
        fields.clientID = Fixture.clientID
        return try AppSpec.newApp(name: name, fields: fields, isPublic: false)
    }

    @Test func secretTypesPrintRedacted() {
        let secret = secure("hunter2-canary")
        #expect(String(describing: secret) == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect("\(secret)" == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(Mirror(reflecting: secret).children.isEmpty)
        let keyFile = KeyFile.generate()
        #expect("\(keyFile)" == "<redacted>")
        let material = UnlockMaterial(passphrase: secret)
        var materialDump = ""
        dump(material, to: &materialDump)
        #expect(!materialDump.contains("hunter2"))
    }

    @Test func sealOpenRoundTripAndPlaceBinding() throws {
        let key = DataKey(bytes: .random(count: 32), generation: 1, vaultID: "v")
        let place = SealedFieldPlace(
            table: "app", column: "client_secret", row: "r1", app: "r1", clientID: "c", tokenEndpoint: "https://t")
        let sealed = SealedField.seal(secure("value"), key: key, place: place)
        #expect(sealed.count == 1 + 24 + 5 + 16)
        #expect(sealed[0] == 1)
        let opened = try SealedField.open(sealed, key: key, place: place, what: "x")
        #expect(opened.withUnsafeBytes { Array($0) } == Array("value".utf8))
        // Fresh nonce every time.
        #expect(SealedField.seal(secure("value"), key: key, place: place) != sealed)
        var moved = place
        moved.row = "r2"
        #expect(throws: VaultError.self) { try SealedField.open(sealed, key: key, place: moved, what: "x") }
        let otherGeneration = DataKey(bytes: key.bytes, generation: 2, vaultID: "v")
        #expect(throws: VaultError.self) { try SealedField.open(sealed, key: otherGeneration, place: place, what: "x") }
    }

    @Test func associatedDataIsUnambiguous() {
        // Without length prefixes these two would encode identically.
        let a = AssociatedData.encode([("client_id", "a\nb"), ("token_endpoint", "c")])
        let b = AssociatedData.encode([("client_id", "a"), ("token_endpoint", "b\nc")])
        #expect(a != b)
        #expect(String(decoding: AssociatedData.encode([("k", "héllo")]), as: UTF8.self) == "k:6:héllo\n")
    }

    @Test func kdfBoundsAreEnforced() {
        #expect(KDFParameters.default.isWithinBounds)
        #expect(KDFParameters.default.memLimit >= 64 << 20)
        #expect(!KDFParameters(opsLimit: 0, memLimit: 64 << 20).isWithinBounds)
        #expect(!KDFParameters(opsLimit: 3, memLimit: 2 << 30).isWithinBounds)
        #expect(!KDFParameters(opsLimit: 3, memLimit: 1 << 20).isWithinBounds)
    }

    @Test func keyFileTextAndRawForms() throws {
        let keyFile = KeyFile.generate()
        let text = keyFile.rendered()
        let parsed = try #require(KeyFile.parse(text))
        #expect(parsed.fingerprint == keyFile.fingerprint)
        #expect(keyFile.fingerprint.count == 32)
        let raw = try #require(KeyFile.parse(keyFile.key))
        #expect(raw.fingerprint == keyFile.fingerprint)
        #expect(KeyFile.parse(secure("tokvault-keyfile-v1:!!!")) == nil)
        #expect(KeyFile.parse(secure("hello")) == nil)
    }

    @Test func unlockWithEachSlotAndWrongPassphrase() throws {
        let (dir, vault, keyFile) = try newLibraryVault()
        defer { withExtendedLifetime(dir) {} }
        let byFile = try vault.unlock(UnlockMaterial(keyFiles: [("k", keyFile)]))
        let byPass = try vault.unlock(UnlockMaterial(passphrase: secure("pass phrase")))
        #expect(byFile.bytes.constantTimeEquals(byPass.bytes))
        do {
            _ = try vault.unlock(UnlockMaterial(passphrase: secure("pass phrasf")))
            Issue.record("wrong passphrase accepted")
        } catch let error as VaultError {
            #expect(error.exitCode == 4)
            #expect(error.message.hasPrefix("wrong passphrase for vault"))
        }
    }

    @Test func staleKeyCannotCommitAfterRotation() throws {
        let (dir, vault, keyFile) = try newLibraryVault()
        defer { withExtendedLifetime(dir) {} }
        let material = UnlockMaterial(keyFiles: [("k", keyFile)], passphrase: secure("pass phrase"))
        let stale = try vault.unlock(material)
        // Another process rotates the key meanwhile.
        let other = try Vault.open(path: vault.path)
        _ = try other.rotateKey(material: material, dropOtherSlots: false)
        do {
            try vault.addApp(try Self.azureApp("late"), clientSecret: secure("x"), key: stale)
            Issue.record("a value sealed under the old key was committed")
        } catch let error as VaultError {
            #expect(error.message.contains("rotated while this command ran"))
        }
        #expect(try vault.apps().isEmpty)
        let fresh = try vault.unlock(material)
        #expect(fresh.generation == 2)
        try vault.addApp(try Self.azureApp("late"), clientSecret: secure("x"), key: fresh)
        #expect(try vault.verifyAllSealedFields(key: fresh) == 1)
    }

    @Test func refreshTokenRotationKeepsOldOneOnlyWhenNoneReturned() throws {
        let (dir, vault, keyFile) = try newLibraryVault()
        defer { withExtendedLifetime(dir) {} }
        let key = try vault.unlock(UnlockMaterial(keyFiles: [("k", keyFile)]))
        try vault.addApp(try Self.azureApp("adme"), clientSecret: secure("s"), key: key)
        let app = try vault.app(named: "adme")
        try vault.storeTokens(
            TokenSet(accessToken: secure("a1"), tokenType: "Bearer", expiresAt: 100, refreshToken: secure("r1")),
            for: app, key: key)
        try vault.storeTokens(
            TokenSet(accessToken: secure("a2"), tokenType: "Bearer", expiresAt: 200), for: app, key: key)
        #expect(try vault.refreshToken(of: app, key: key)?.withUnsafeBytes { Array($0) } == Array("r1".utf8))
        try vault.storeTokens(
            TokenSet(accessToken: secure("a3"), tokenType: "Bearer", expiresAt: 300, refreshToken: secure("r2")),
            for: app, key: key)
        #expect(try vault.refreshToken(of: app, key: key)?.withUnsafeBytes { Array($0) } == Array("r2".utf8))
        let access = try #require(try vault.accessToken(of: app, key: key))
        #expect(access.token.withUnsafeBytes { Array($0) } == Array("a3".utf8))
        #expect(access.record.expiresAt == 300)
        #expect(try vault.accessTokens(appID: app.id).count == 1)
    }

    /// A vault with app "adme" signed in (refresh token r1), as a refresh reads it.
    static func signedIn() throws -> (TempDir, Vault, DataKey, App) {
        let (dir, vault, keyFile) = try newLibraryVault()
        let key = try vault.unlock(UnlockMaterial(keyFiles: [("k", keyFile)]))
        try vault.addApp(try azureApp("adme"), clientSecret: secure("s"), key: key)
        let app = try vault.app(named: "adme")
        try vault.storeTokens(
            TokenSet(accessToken: secure("a1"), tokenType: "Bearer", expiresAt: 100, refreshToken: secure("r1")),
            for: app, key: key)
        return (dir, vault, key, app)
    }

    /// A refresh that started before a `set --scope` (or a new secret, or a rename) committed:
    /// the server has rotated the refresh token and the old one is spent, so the new one must be
    /// stored. Only the access token, issued for the old scope, is not cached as the app's own.
    @Test func aRotatedRefreshTokenSurvivesAnEditThatKeepsTheSignIn() throws {
        let (dir, vault, key, before) = try Self.signedIn()
        defer { withExtendedLifetime(dir) {} }
        // The refresh reads the app and redeems r1; meanwhile the scope changes and the app is renamed.
        var edited = before
        edited.scope = Fixture.clientID + "/.default offline_access"
        edited.name = "adme2"
        let report = try vault.updateApp(
            original: before, updated: edited, changes: Vault.AppChanges(), key: key)
        #expect(!report.droppedTokens)
        let stored = try vault.storeTokens(
            TokenSet(accessToken: secure("a2"), tokenType: "Bearer", expiresAt: 200, refreshToken: secure("r2")),
            for: before, key: key, action: "refresh")
        let now = try vault.app(named: "adme2")
        #expect(stored.app == now)
        #expect(!stored.accessTokenSaved)
        #expect(try vault.refreshToken(of: now, key: key)?.withUnsafeBytes { Array($0) } == Array("r2".utf8))
        #expect(try vault.accessTokens(appID: now.id).isEmpty, "an access token for the old scope was cached")
        // Another scope's token is keyed by that scope, so it is cached whatever the app's own is.
        let other = try vault.storeTokens(
            TokenSet(accessToken: secure("a3"), tokenType: "Bearer", expiresAt: 300), for: before,
            scopeKey: "api://other/.default", key: key)
        #expect(other.accessTokenSaved)
        #expect(try vault.accessToken(of: now, scopeKey: "api://other/.default", key: key) != nil)
    }

    /// Tokens obtained for a client that the app no longer uses (or a flow it no longer has)
    /// are not stored: `set` dropped that sign-in, and it must not come back.
    @Test func tokensOfAnotherClientEndpointOrFlowAreNotStored() throws {
        for change in ["client", "endpoint", "flow", "public"] {
            let (dir, vault, key, before) = try Self.signedIn()
            defer { withExtendedLifetime(dir) {} }
            var edited = before
            var changes = Vault.AppChanges()
            switch change {
            case "client": edited.clientID = "11111111-2222-3333-4444-555555555555"
            case "endpoint": edited.tokenEndpoint = "https://login.example.org/t/oauth2/v2.0/token"
            case "flow": edited.flow = App.Flow.clientCredentials.rawValue
            default: changes.makePublic = true
            }
            let report = try vault.updateApp(original: before, updated: edited, changes: changes, key: key)
            #expect(report.droppedTokens, "\(change)")
            #expect(throws: VaultError.self, "\(change)") {
                try vault.storeTokens(
                    TokenSet(
                        accessToken: secure("a2"), tokenType: "Bearer", expiresAt: 200, refreshToken: secure("r2")),
                    for: before, key: key, action: "refresh")
            }
            let now = try vault.app(named: "adme")
            #expect(try vault.refreshToken(of: now, key: key) == nil, "\(change)")
            #expect(try vault.accessTokens(appID: now.id).isEmpty, "\(change)")
        }
    }

    @Test func embeddedMigrationsAreNumberedAndApplied() throws {
        #expect(Vault.knownMigrations.first == "0001_create_vault")
        let (dir, vault, _) = try newLibraryVault()
        defer { withExtendedLifetime(dir) {} }
        #expect(try vault.summary().appliedMigrations == Vault.knownMigrations)
    }

    @Test func removingTheLastSlotIsRefused() throws {
        let dir = TempDir()
        let keyFile = KeyFile.generate()
        let vault = try Vault.create(path: dir.file("vault.db"), passphrase: nil, keyFile: keyFile)
        #expect(throws: VaultError.self) { try vault.removeKeyFileSlot(fingerprintPrefix: keyFile.fingerprint) }
        #expect(try vault.keySlots().count == 1)
    }
}
