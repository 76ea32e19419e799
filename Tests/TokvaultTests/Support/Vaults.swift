import Foundation
import GRDB
import Testing

@testable import TokvaultVault

/// Edits the vault file directly, the way an attacker would.
func editVault(_ path: String, _ body: (Database) throws -> Void) throws {
    let db = try DatabaseQueue(path: path)
    try db.write(body)
    try db.close()
}

/// A vault with two apps, each with every sealed column filled.
func populatedVault() throws -> (Fixture, Vault, DataKey) {
    let f = Fixture()
    #expect(f.addApp("alpha", secret: "alpha-client-secret").status == 0)
    #expect(
        f.addApp("beta", secret: "beta-client-secret", clientID: "2b6a2f1e-1111-4c4c-9a9a-123456789abc").status == 0)
    let vault = try Vault.open(path: f.cli.vaultPath)
    let key = try vault.unlock(UnlockMaterial(keyFiles: [(f.keyFile, try KeyFile.load(path: f.keyFile))]))
    for name in ["alpha", "beta"] {
        let app = try vault.app(named: name)
        try vault.storeTokens(
            TokenSet(
                accessToken: secure("\(name)-access"), tokenType: "Bearer",
                expiresAt: Int64(Date().timeIntervalSince1970) + 3600,
                grantedScope: app.scope, refreshToken: secure("\(name)-refresh"), idToken: secure("\(name)-id"),
                account: "\(name)@example.com"),
            for: app, key: key)
    }
    #expect(try vault.verifyAllSealedFields(key: key) == 8)
    return (f, vault, key)
}

/// A vault made through the library alone: a passphrase (cheap KDF) and a key file.
func newLibraryVault() throws -> (TempDir, Vault, KeyFile) {
    let dir = TempDir()
    let keyFile = KeyFile.generate()
    let vault = try Vault.create(
        path: dir.file("v/vault.db"), passphrase: secure("pass phrase"),
        kdf: KDFParameters(opsLimit: 1, memLimit: 8 << 20), keyFile: keyFile)
    return (dir, vault, keyFile)
}
