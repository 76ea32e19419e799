@testable import TokvaultVault

/// `text` as the secret bytes the vault and the flow take.
func secure(_ text: String) -> SecureBytes {
    var bytes = Array(text.utf8)
    return SecureBytes(consuming: &bytes)
}

/// A secret's bytes read back as UTF-8 text.
func plaintext(_ bytes: SecureBytes) -> String {
    bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
}
