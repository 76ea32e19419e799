import Foundation

extension KeyFile {
    /// Reads a key file to unlock with, or to add as a key slot. A regular file with any group
    /// or other permission bit is refused, as ssh refuses such a private key: other users can
    /// read it (and unlock any vault file they can copy), or replace it (and have their own key
    /// added by `keyfile add`). A pipe, a FIFO or a `/dev/fd/N` that is one is not a file others
    /// can open later, and stays allowed (`--key-file <(…)`).
    package static func loadPrivate(path: String) throws -> KeyFile {
        var st = stat()
        // stat follows symlinks (a Kubernetes Secret volume links each key to its data);
        // when it fails, `load` reports why.
        if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_mode & 0o077 != 0 {
            throw VaultError.unlock(
                "key file \(path) is accessible to other users (mode \(String(st.st_mode & 0o777, radix: 8))); refusing to use it",
                hint:
                    "run `chmod 600 \(path)` (and consider replacing the key: `\(.createKeyFile)`, then `\(.removeKeyFile(path))`); "
                    + "for a Kubernetes Secret volume, set `defaultMode: 0400`")
        }
        return try load(path: path)
    }
}
