import TokvaultExport

/// The command lines scripts, kubectl and the managed-identity endpoint run most often,
/// recognised without ArgumentParser: building its command tree and checking for a
/// completion request costs more than the work of a cached `token` call.
///
/// Only plain, complete forms are taken here. Anything else — help, an unknown or repeated
/// option, a value that looks like an option, `--`, `--claims`, a value `validate()` refuses —
/// returns nil and goes to ArgumentParser, so that its help, errors and completions stay the
/// only ones. What is taken builds the same `Token` command ArgumentParser would build and runs
/// it the same way (PreDispatchTests compare the two for every accepted form).
enum PreDispatch {
    /// `tokvault --version`.
    static func isVersion(_ arguments: [String]) -> Bool {
        arguments.count == 1 && arguments[0] == "--version"
    }

    /// `token NAME` with any of --vault, --key-file (repeatable), --passphrase-file,
    /// --min-valid, --scope and --format, as `--opt value` or `--opt=value`, in any order.
    static func token(_ arguments: [String]) -> Token? {
        guard arguments.count >= 2, arguments[0] == "token" else { return nil }
        var name: String?
        var vault: String?
        var keyFiles: [String] = []
        var passphraseFile: String?
        var minValid: Int64?
        var scope: String?
        var format: String?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-") else {
                // `help` is ArgumentParser's word wherever it stands.
                guard name == nil, !argument.isEmpty, argument != "help" else { return nil }
                name = argument
                continue
            }
            let option: Substring
            let value: String
            if let equals = argument.firstIndex(of: "=") {
                option = argument[..<equals]
                value = String(argument[argument.index(after: equals)...])
            } else {
                guard index < arguments.count else { return nil }
                option = Substring(argument)
                value = arguments[index]
                index += 1
            }
            // A value ArgumentParser could read as an option, or an empty one, is its to judge.
            guard !value.isEmpty, !value.hasPrefix("-") else { return nil }
            switch option {
            case "--vault":
                guard vault == nil else { return nil }
                vault = value
            case "--key-file":
                keyFiles.append(value)
            case "--passphrase-file":
                guard passphraseFile == nil else { return nil }
                passphraseFile = value
            case "--min-valid":
                guard minValid == nil, let seconds = Int64(value) else { return nil }
                minValid = seconds
            case "--scope":
                guard scope == nil else { return nil }
                scope = value
            case "--format":
                guard format == nil, TokenFormat(rawValue: value) != nil else { return nil }
                format = value
            default:
                return nil
            }
        }
        guard let name else { return nil }
        // Each property set whole: a parsable property that was neither parsed nor set traps
        // when read (so does a group's, which rules out setting a group's fields in place).
        var tokenOptions = TokenOptions()
        tokenOptions.scope = scope
        tokenOptions.minValid = minValid
        var vaultOptions = VaultOptions()
        vaultOptions.vault = vault
        vaultOptions.keyFile = keyFiles
        vaultOptions.passphraseFile = passphraseFile
        var command = Token()
        command.name = name
        command.format = format
        command.claims = nil
        command.tokenOptions = tokenOptions
        command.vaultOptions = vaultOptions
        do {
            try command.tokenOptions.validate()
            try command.validate()
        } catch {
            return nil
        }
        return command
    }
}
