import ArgumentParser
import Foundation
import TokvaultVault

/// Where the vault is and how to unlock it. Shared by every command that touches a vault.
struct VaultOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Vault file (default: $TOKVAULT_VAULT, else $XDG_DATA_HOME/tokvault/vault.db).", valueName: "path"),
        completion: .file())
    var vault: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Unlock with this key file (repeatable for rotate-key). Overrides $TOKVAULT_KEY_FILE.", valueName: "file"),
        completion: .file())
    var keyFile: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Unlock with the passphrase in this file (first line). Overrides $TOKVAULT_PASSPHRASE_FILE and $TOKVAULT_PASSPHRASE.",
            valueName: "file"),
        completion: .file())
    var passphraseFile: String?

    var path: String { Self.resolvePath(vault) }

    /// The variables that unlock the vault: never passed on to a browser or an exec'd command.
    static let unlockVariables: Set<String> = [
        "TOKVAULT_PASSPHRASE", "TOKVAULT_PASSPHRASE_FILE", "TOKVAULT_NEW_PASSPHRASE", "TOKVAULT_KEY_FILE"
    ]

    /// The environment minus the unlock variables.
    static var environmentWithoutUnlockVariables: [String: String] {
        ProcessInfo.processInfo.environment.filter { !unlockVariables.contains($0.key) }
    }

    /// PATH lookup as execvp(3) does it; a name with a slash is used as it is.
    static func executable(named name: String) -> String? {
        if name.contains("/") { return name }
        for dir in (VaultFile.environment("PATH") ?? "/usr/bin:/bin").split(
            separator: ":", omittingEmptySubsequences: false)
        {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// `--vault`, else `$TOKVAULT_VAULT`, else the XDG default.
    static func resolvePath(_ vault: String?) -> String {
        if let vault, !vault.isEmpty { return vault }
        if let env = VaultFile.environment("TOKVAULT_VAULT"), !env.isEmpty { return env }
        return VaultFile.defaultPath()
    }

    func open() throws -> Vault { try Vault.open(path: path) }

    /// Whether a command takes the key `unlock` left in the keyring.
    enum KeyringUse {
        case accepted
        /// Commands that add or change a way in, and `unlock` itself (which unlocks the usual way).
        case refused
    }

    /// The unlock material, in the documented order: flags, then environment, then the key in
    /// the keyring (unless `keyring` is refused), then a prompt. With `everything`, all supplied
    /// sources are gathered (rotate-key must cover every slot; the keyring covers none).
    func material(for vault: Vault, everything: Bool = false, keyring: KeyringUse = .accepted) throws
        -> UnlockMaterial
    {
        var material = try flagsAndEnvironment(everything: everything)
        if !material.isEmpty && !everything { return material }
        // 3. The session key, once it has proved to be this vault's.
        if !everything && keyring == .accepted, let found = try Self.sessionKey(of: vault) {
            material.sessionKey = found.key
            return material
        }
        // 4. A prompt, when the vault has a passphrase slot and the passphrase is still missing.
        let slots = try vault.keySlots()
        let hasPassphraseSlot = slots.contains { $0.kind == .passphrase }
        if material.passphrase == nil && hasPassphraseSlot {
            if let typed = try Terminal.readSecret(prompt: "Passphrase for \(vault.path): ") {
                material.passphrase = typed
            }
        }
        if material.isEmpty {
            let keyringNote =
                keyring == .refused || everything
                ? " (this command does not take the key `tokvault unlock` leaves in the keyring)" : ""
            if !hasPassphraseSlot {
                throw CommandError.unlock(
                    "vault \(vault.path) unlocks only with a key file" + keyringNote,
                    hint: "pass --key-file FILE or set TOKVAULT_KEY_FILE")
            }
            throw CommandError.unlock(
                "no way to unlock vault \(vault.path): no terminal to ask for the passphrase" + keyringNote,
                hint:
                    "pass --key-file/--passphrase-file, or set TOKVAULT_KEY_FILE, TOKVAULT_PASSPHRASE_FILE or TOKVAULT_PASSPHRASE"
                    + (keyringNote.isEmpty ? "; or run `tokvault unlock` once in this session" : "")
            )
        }
        return material
    }

    /// Steps 1 and 2 of `material(for:)`: what the flags, else the environment, give. Without
    /// `everything`, the first source that gives anything is all there is.
    private func flagsAndEnvironment(everything: Bool) throws -> UnlockMaterial {
        var material = UnlockMaterial()
        // 1. Command-line flags.
        for path in keyFile { material.keyFiles.append((path, try KeyFile.loadPrivate(path: path))) }
        if let passphraseFile { material.passphrase = try Self.readPassphraseFile(passphraseFile) }
        if !material.isEmpty && !everything { return material }
        // 2. Environment.
        if let path = VaultFile.environment("TOKVAULT_KEY_FILE"), !path.isEmpty,
            material.keyFiles.isEmpty || everything,
            !material.keyFiles.contains(where: { $0.path == path })
        {
            material.keyFiles.append((path, try KeyFile.loadPrivate(path: path)))
            if !everything { return material }
        }
        if material.passphrase == nil {
            if let path = VaultFile.environment("TOKVAULT_PASSPHRASE_FILE"), !path.isEmpty {
                material.passphrase = try Self.readPassphraseFile(path)
            } else if let text = VaultFile.environment("TOKVAULT_PASSPHRASE"), !text.isEmpty {
                material.passphrase = Self.passphrase(fromEnvironment: text)
            }
        }
        return material
    }

    /// The material `material(for:)` returns when the flags or the environment name it, read
    /// without the vault; nil when it would go on to the keyring or a prompt.
    func materialWithoutVault() throws -> UnlockMaterial? {
        let material = try flagsAndEnvironment(everything: false)
        return material.isEmpty ? nil : material
    }

    /// The vault's key from the keyring, if `unlock` left one there that proves itself; keys
    /// that do not are removed, with a warning each.
    static func sessionKey(of vault: Vault) throws -> FoundSessionKey? {
        let lookup = try vault.findSessionKey(now: Clock.now())
        for discarded in lookup.discarded {
            Diagnostics.warning(
                "ignored a key for vault \(vault.path) in the \(discarded.ring): \(discarded.why)"
                    + (discarded.removed ? "; removed it" : "; could not remove it"))
        }
        return lookup.found
    }

    /// Unlocks for reading (e.g. `show --verify`).
    func unlock(_ vault: Vault) throws -> DataKey {
        try vault.unlock(material(for: vault))
    }

    /// Runs a write: any prompt first, then, under the vault lock (so no rotation can slip in
    /// between unlocking and sealing), `body` with the key.
    func writing<T>(_ vault: Vault, keyring: KeyringUse = .accepted, _ body: (DataKey) throws -> T) throws -> T {
        try vault.withUnlocked(material(for: vault, keyring: keyring), body)
    }

    /// The same first-line rule as files and the prompt, so that every way of giving a
    /// passphrase gives the same bytes.
    static func passphrase(fromEnvironment text: String) -> SecureBytes {
        var bytes = Array(text.utf8)
        return firstLine(of: SecureBytes(consuming: &bytes))
    }

    static func readPassphraseFile(_ path: String) throws -> SecureBytes {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CommandError.unlock("cannot read passphrase file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard let contents = try SecureBytes.read(fileDescriptor: fd, limit: 64 * 1024) else {
            throw CommandError.unlock("passphrase file \(path) is larger than 64 KiB")
        }
        return firstLine(of: contents)
    }

    /// Up to the first line break, so files written by `echo` or editors work.
    static func firstLine(of contents: SecureBytes) -> SecureBytes {
        contents.withUnsafeBytes { bytes in
            let end = bytes.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) ?? bytes.count
            return contents.prefix(end)
        }
    }
}

/// Argon2id cost for new passphrase slots.
struct KDFOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Argon2id passes for the new passphrase slot (1–16, default 3).", valueName: "n"))
    var kdfOps: UInt64?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Argon2id memory in MiB for the new passphrase slot (8–1024, default 128).", valueName: "mib"))
    var kdfMemMib: Int?

    var parameters: KDFParameters? {
        guard kdfOps != nil || kdfMemMib != nil else { return nil }
        if let mib = kdfMemMib, !(8...1024).contains(mib) { return KDFParameters(opsLimit: 0, memLimit: 0) }
        return KDFParameters(
            opsLimit: kdfOps ?? KDFParameters.default.opsLimit,
            memLimit: (kdfMemMib ?? (KDFParameters.default.memLimit >> 20)) << 20)
    }

    func validate() throws {
        if let p = parameters, !p.isWithinBounds {
            throw ValidationError("--kdf-ops must be 1–16 and --kdf-mem-mib 8–1024")
        }
    }
}

/// Reading a new passphrase for init/passwd.
enum NewPassphrase {
    static func read(file: String?, purpose: String) throws -> SecureBytes {
        if let file { return try check(VaultOptions.readPassphraseFile(file)) }
        if let text = VaultFile.environment("TOKVAULT_NEW_PASSPHRASE"), !text.isEmpty {
            return try check(VaultOptions.passphrase(fromEnvironment: text))
        }
        guard let first = try Terminal.readSecret(prompt: "New passphrase for \(purpose): ") else {
            throw CommandError.unlock(
                "no terminal to ask for the new passphrase",
                hint: "pass --new-passphrase-file FILE or set TOKVAULT_NEW_PASSPHRASE")
        }
        _ = try check(first)
        guard let second = try Terminal.readSecret(prompt: "Repeat the new passphrase: "),
            first.constantTimeEquals(second)
        else {
            throw CommandError.usage("the passphrases did not match; nothing was changed")
        }
        return first
    }

    private static func check(_ passphrase: SecureBytes) throws -> SecureBytes {
        guard passphrase.count > 0 else { throw CommandError.usage("the new passphrase is empty") }
        guard passphrase.isValidUTF8 else { throw CommandError.usage("the new passphrase is not valid UTF-8 text") }
        guard !passphrase.withUnsafeBytes({ $0.contains { $0 < 0x20 || $0 == 0x7F } }) else {
            throw CommandError.usage(
                "the new passphrase contains control characters", hint: "a passphrase is one line of text")
        }
        if passphrase.count < 12 {
            Diagnostics.warning(
                "the new passphrase is shorter than 12 characters; consider a longer one (or a key file)")
        }
        return passphrase
    }
}

extension DiscardedSessionKey {
    /// Why the key was not used, in words.
    var why: String {
        switch reason {
        case .foreign(let type, let uid):
            "it is a \(type) key of uid \(uid), not of uid \(geteuid()) (planted?)"
        case .unreadable(let refusal):
            "it cannot be read (\(refusal))"
        case .refused(.malformed):
            "it is not a tokvault session key (planted, or of another version)"
        case .refused(.checkFailed):
            "its check value does not match (edited, or not this vault's)"
        case .refused(.expired):
            "it has expired"
        case .refused(.notThisVaultsKey):
            "it does not open this vault (planted, from another copy of the vault, or the vault's oldest app was edited)"
        case .refused(.unverifiable):
            "the vault has no app to check it against"
        }
    }
}

extension FoundSessionKey {
    /// "2026-12-02T23:14:05Z (in 42m), in the session keyring"
    var untilText: String { "\(Output.isoTime(expiresAt)) (\(Output.relative(expiresAt))), in the \(ring)" }
}
