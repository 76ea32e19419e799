import Foundation

/// Checks on the vault path made before SQLite ever sees the file, so that a directory, a
/// device, an empty or foreign file, or a file other users can read gets a clear error.
public enum VaultFile {
    /// `$XDG_DATA_HOME/tokvault/vault.db`, else `~/.local/share/tokvault/vault.db`.
    public static func defaultPath() -> String {
        if let xdg = environment("XDG_DATA_HOME"), xdg.hasPrefix("/") {
            return xdg + "/tokvault/vault.db"
        }
        let home = environment("HOME").flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/tokvault/vault.db"
    }

    /// One environment variable. getenv(3) instead of ProcessInfo, whose first use copies the
    /// whole environment into a dictionary (a measurable share of a `show`).
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The file's mode bits, following symlinks; nil when it does not exist.
    public static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    /// The directory part of a path ("." for a bare file name), without Foundation's NSString.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// The last path component.
    public static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static let sqliteMagic = Array("SQLite format 3\u{0}".utf8)

    /// Everything that must hold before opening `path` as a vault.
    static func checkOpenable(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT {
                throw VaultError.failure(
                    "no vault at \(path)",
                    hint: "create one with `tokvault init`, or point at yours with --vault PATH or TOKVAULT_VAULT")
            }
            throw VaultError.failure("cannot access \(path): \(String(cString: strerror(errno)))")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            let what = type == S_IFDIR ? "a directory" : "not a regular file"
            throw VaultError.damaged("\(path) is \(what), not a tokvault vault")
        }
        if st.st_mode & 0o077 != 0 {
            throw VaultError.failure(
                "vault \(path) is accessible to other users (mode \(String(st.st_mode & 0o777, radix: 8)))",
                hint: "run `chmod 600 \(path)` (and check who could have copied it)")
        }
        guard st.st_size > 0 else {
            throw VaultError.damaged("\(path) is empty (0 bytes): not a tokvault vault", hint: "restore it from a backup, or remove it and run `tokvault init`")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VaultError.failure("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 16)
        let n = read(fd, &header, 16)
        guard n == 16, header == sqliteMagic else {
            throw VaultError.damaged("\(path) is not a tokvault vault (not an SQLite database)")
        }
    }

    /// Creates the vault's directory (0700) when missing.
    static func ensureDirectory(for path: String) throws {
        let dir = directory(of: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw VaultError.failure("\(dir) is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VaultError.failure("cannot create directory \(dir): \(error.localizedDescription)")
        }
    }

    /// Removes what an interrupted `init` or file write left beside `path` (`NAME.init-*`,
    /// `.NAME.tokvault-tmp-*`) once it is more than a minute old.
    static func sweepStaleTemporaries(beside path: String) {
        let dir = directory(of: path)
        let name = fileName(of: path)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for entry in entries where entry.hasPrefix(name + ".init-") || entry.hasPrefix("." + name + ".tokvault-tmp-") {
            var st = stat()
            let full = dir + "/" + entry
            if lstat(full, &st) == 0, st.st_mode & S_IFMT == S_IFREG, time(nil) - st.st_mtim.tv_sec > 60 {
                unlink(full)
            }
        }
    }

    /// fsync a file or directory by path (best effort for directories).
    static func sync(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

/// An advisory `flock(2)` on `VAULT.lock`: writers that seal hold it shared, `rotate-key` and
/// `restore` hold it exclusive, so no write sealed under an old key races a rotation.
public final class VaultLock: @unchecked Sendable {
    enum Kind { case shared, exclusive }
    private let path: String
    private var fd: Int32 = -1
    private(set) var held: Kind?

    /// Called once when a lock is not granted within a second (the CLI prints it).
    nonisolated(unsafe) public static var waitingNotice: ((String) -> Void)?
    /// How long to wait for another tokvault process before giving up.
    nonisolated(unsafe) public static var timeoutSeconds: Double = 120

    init(vaultPath: String) { path = vaultPath + ".lock" }

    /// A lock of its own, beside the vault (`VAULT.lock-NAME`).
    init(vaultPath: String, name: String) { path = vaultPath + ".lock-" + name }

    func acquire(_ kind: Kind, timeout: Double? = nil) throws {
        let limit = timeout ?? Self.timeoutSeconds
        if held == .exclusive || held == kind { return }
        if fd < 0 {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else {
                throw VaultError.failure("cannot open lock file \(path): \(String(cString: strerror(errno)))")
            }
        }
        let start = Date()
        var noticed = false
        while flock(fd, (kind == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw VaultError.failure("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            let waited = Date().timeIntervalSince(start)
            if waited > limit {
                throw VaultError.failure(
                    "gave up after \(Int(limit)) s waiting for another tokvault process to release \(path)",
                    hint: "is a tokvault command waiting for input somewhere? nothing was changed")
            }
            if waited > 1 && !noticed {
                noticed = true
                Self.waitingNotice?("waiting for another tokvault process to finish with the vault…")
            }
            usleep(20_000)
        }
        held = kind
    }

    func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        held = nil
    }

    deinit { release() }
}
