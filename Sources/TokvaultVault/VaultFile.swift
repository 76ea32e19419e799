import Foundation

/// Checks on the vault path made before SQLite ever sees the file, so that a directory, a
/// device, an empty or foreign file, or a file other users can read gets a clear error.
package enum VaultFile {
    /// `$XDG_DATA_HOME/tokvault/vault.db`, else `~/.local/share/tokvault/vault.db`.
    package static func defaultPath() -> String {
        if let xdg = environment("XDG_DATA_HOME"), xdg.hasPrefix("/") {
            return xdg + "/tokvault/vault.db"
        }
        let home = environment("HOME").flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/tokvault/vault.db"
    }

    /// One environment variable. getenv(3) instead of ProcessInfo, whose first use copies the
    /// whole environment into a dictionary (a measurable share of a `show`).
    package static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    package static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The file's mode bits, following symlinks; nil when it does not exist.
    package static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    /// The directory part of a path ("." for a bare file name), without Foundation's NSString.
    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// The last path component.
    package static func fileName(of path: String) -> String {
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
                    hint: "create one with `\(.createVault)`, or point at yours with \(.option(.vaultPath))")
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
        if st.st_uid != geteuid() {
            throw VaultError.failure(
                "vault \(path) belongs to another user (uid \(st.st_uid)); tokvault opens only the vaults of the user running it",
                hint: "run tokvault as the user who owns it, or, if the file is yours to keep, `chown` it to yourself")
        }
        guard st.st_size > 0 else {
            throw VaultError.damaged(
                "\(path) is empty (0 bytes): not a tokvault vault",
                hint: "restore it from a backup, or remove it and run `\(.createVault)`")
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

    /// The files SQLite opens beside a database: its write-ahead log, the log's shared-memory
    /// index, and a rollback journal (replayed into the database when it is "hot").
    static let sideFileSuffixes = ["-wal", "-shm", "-journal"]

    /// Why a file tokvault or SQLite keeps beside the vault (a side file, a lock file, a
    /// temporary) cannot be trusted: anything but a regular file (a symlink, a FIFO, a
    /// directory), a file of another user, or one with any group or other permission bit.
    /// nil when it is fine. `refusing` ends the message ("refusing to open the vault").
    static func sideFileProblem(_ st: stat, path: String, refusing: String) -> VaultError? {
        let type = st.st_mode & S_IFMT
        if type != S_IFREG {
            let what =
                type == S_IFLNK
                ? "a symbolic link"
                : type == S_IFDIR
                    ? "a directory"
                    : type == S_IFIFO ? "a named pipe" : "not a regular file"
            return VaultError.failure(
                "\(path) is \(what), not a file tokvault or SQLite made; \(refusing)",
                hint:
                    "move it aside (`mv \(path) \(path).suspect`), find out who put it there, then run the command again"
            )
        }
        if st.st_uid != geteuid() {
            return VaultError.failure(
                "\(path) belongs to another user (uid \(st.st_uid)); \(refusing)",
                hint:
                    "if it is yours to keep, `chown` it to yourself; otherwise move it aside (`mv \(path) \(path).suspect`) and find out who put it there"
            )
        }
        if st.st_mode & 0o077 != 0 {
            return VaultError.failure(
                "\(path) is accessible to other users (mode \(String(st.st_mode & 0o777, radix: 8))); \(refusing)",
                hint: "run `chmod 600 \(path)` (and check who could have read or changed it)")
        }
        return nil
    }

    /// The side files of the database at `path` (canonical: the names SQLite will open), by
    /// lstat: each one that exists must be a regular file of the user's, mode 0600 or
    /// narrower. One lstat per file; absent files are fine (SQLite creates them with the
    /// database's owner and mode).
    static func checkSideFiles(of path: String) throws {
        for suffix in sideFileSuffixes {
            var st = stat()
            let side = path + suffix
            if lstat(side, &st) == 0 {
                if let problem = sideFileProblem(st, path: side, refusing: "refusing to open the vault") {
                    throw problem
                }
            } else if errno != ENOENT {
                throw VaultError.failure("cannot access \(side): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The directory holding the vault at `path` (resolved, so no component is a symlink)
    /// must be the user's and writable by nobody else; each directory above it must belong
    /// to the user or to root and be writable by nobody else unless it is sticky (as /tmp
    /// is, so a vault under `mktemp -d` is fine). OpenSSH's StrictModes rule, with the
    /// sticky exception: whoever can write a directory on the way can swap the vault, or
    /// plant a `-wal` that SQLite would replay into it.
    /// `resolved`: `path` came from realpath(3) already (its directory needs no resolving).
    static func checkDirectory(holding path: String, resolved: Bool = false) throws {
        let user = geteuid()
        var dir = resolved ? directory(of: path) : Vault.canonical(directory(of: path))
        var holding = true
        while true {
            var st = stat()
            guard dir.hasPrefix("/"), stat(dir, &st) == 0 else {
                throw VaultError.failure("cannot access \(dir): \(String(cString: strerror(errno)))")
            }
            // Built only for a message: this runs on every command's path.
            func named() -> String {
                holding ? "\(dir), the directory holding vault \(path)," : "\(dir), a directory above vault \(path),"
            }
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw VaultError.failure("\(dir) is not a directory")
            }
            if st.st_uid != user && (holding || st.st_uid != 0) {
                throw VaultError.failure(
                    "\(named()) belongs to another user (uid \(st.st_uid)), who could replace the vault",
                    hint: holding
                        ? "keep the vault in a directory of your own (mode 700), e.g. the default ~/.local/share/tokvault"
                        : "keep the vault where every directory above it belongs to you or to root")
            }
            if st.st_mode & 0o022 != 0 && (holding || st.st_mode & S_ISVTX == 0) {
                throw VaultError.failure(
                    "\(named()) is writable by other users (mode \(String(st.st_mode & 0o7777, radix: 8))), who could replace the vault",
                    hint: "run `chmod go-w \(dir)`, or keep the vault in a directory of your own (mode 700)")
            }
            if dir == "/" { return }
            dir = directory(of: dir)
            holding = false
        }
    }

    /// An empty file for SQLite to open as a new database: created `O_CREAT|O_EXCL|O_NOFOLLOW`,
    /// mode 0600, so a name that is already taken (a file, a planted symlink) is never used.
    static func createEmpty(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw VaultError.failure("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        close(fd)
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

    /// A fresh temporary name beside `path`: `.NAME.tokvault-tmp-PID-HEX`. The creator's process
    /// id lets the next writer remove what a killed one left at once rather than after a minute.
    static func temporaryName(beside path: String) -> String {
        directory(of: path) + "/.\(fileName(of: path)).tokvault-tmp-\(getpid())-\(Sodium.hex(Sodium.randomBytes(6)))"
    }

    /// The creator's process id in a temporary's name (`PID-HEX`, optionally `-journal` and so
    /// on after it), or nil for a name without one (written before names carried it).
    static func creatorPID(ofTemporarySuffix suffix: Substring) -> pid_t? {
        let parts = suffix.split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, (1...10).contains(parts[0].count), parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            parts[1].count == 12, parts[1].allSatisfy({ $0.isHexDigit }), let pid = pid_t(parts[0]), pid > 0
        else { return nil }
        return pid
    }

    /// Removes what an interrupted `init` or file write left beside `path` (`NAME.init-*`,
    /// `.NAME.tokvault-tmp-*`): a temporary whose creating process is gone at once, any other
    /// once it is more than a minute old (a live writer's is never touched before then).
    static func sweepStaleTemporaries(beside path: String) {
        let dir = directory(of: path)
        let name = fileName(of: path)
        let temporaryPrefix = "." + name + ".tokvault-tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for entry in entries where entry.hasPrefix(name + ".init-") || entry.hasPrefix(temporaryPrefix) {
            var st = stat()
            let full = dir + "/" + entry
            guard lstat(full, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            var creatorGone = false
            if entry.hasPrefix(temporaryPrefix),
                let pid = creatorPID(ofTemporarySuffix: entry.dropFirst(temporaryPrefix.count)), pid != getpid()
            {
                creatorGone = kill(pid, 0) == -1 && errno == ESRCH
            }
            if creatorGone || time(nil) - st.st_mtim.tv_sec > 60 {
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
///
/// The vault lock prefers exclusive waiters: flock alone would let new shared holders in while
/// an exclusive one waits, and a stream of writers would starve it. So beside it is a gate,
/// `VAULT.lock-gate`: an exclusive acquirer takes the gate exclusively first and keeps it until
/// it releases the vault lock; a shared acquirer takes the gate shared only for as long as it
/// takes to try the vault lock. Once an exclusive acquirer holds the gate, no new shared holder
/// gets in; those already in finish, and it is served next. A process that dies releases both
/// (flock), so no lock file ever needs cleaning up. Lock order (docs/vault-format.md §6): the
/// key-slot lock, then an app's refresh lock, then the gate, then the vault lock; nothing waits
/// for a refresh lock while holding the vault lock.
package final class VaultLock: @unchecked Sendable {
    enum Kind { case shared, exclusive }
    private let path: String
    private var fd: Int32 = -1
    /// The gate's path; nil for locks of their own (an app's refresh lock), which have no gate.
    private let gatePath: String?
    private var gateFD: Int32 = -1
    private var holdsGate = false
    private(set) var held: Kind?

    /// Called once when a lock is not granted within a second (the CLI prints it).
    nonisolated(unsafe) package static var waitingNotice: ((String) -> Void)?
    /// Called on every grant with how long it took, when `TOKVAULT_TRACE_LOCKS` is set (the
    /// CLI prints it; scripts/soak measures the exclusive operations' waits with it).
    nonisolated(unsafe) package static var grantedNotice: ((String) -> Void)?
    /// How long to wait for another tokvault process before giving up.
    nonisolated(unsafe) package static var timeoutSeconds: Double = 120

    init(vaultPath: String) {
        path = vaultPath + ".lock"
        gatePath = vaultPath + ".lock-gate"
    }

    /// A lock of its own, beside the vault (`VAULT.lock-NAME`).
    init(vaultPath: String, name: String) {
        path = vaultPath + ".lock-" + name
        gatePath = nil
    }

    func acquire(_ kind: Kind, timeout: Double? = nil) throws {
        let limit = timeout ?? Self.timeoutSeconds
        if held == .exclusive || held == kind { return }
        if fd < 0 { fd = try Self.openLockFile(path) }
        if let gatePath, gateFD < 0 { gateFD = try Self.openLockFile(gatePath) }
        let start = Date()
        var noticed = false
        while !(try attempt(kind)) {
            let waited = Date().timeIntervalSince(start)
            if waited > limit {
                releaseGate()
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
        if let notice = Self.grantedNotice {
            let waited = Date().timeIntervalSince(start)
            let name = (path as NSString).lastPathComponent
            notice(
                "lock: \(name) \(kind == .shared ? "shared" : "exclusive") after \(String(format: "%.3f", waited)) s")
        }
    }

    /// One try, without blocking: true when the lock is held.
    private func attempt(_ kind: Kind) throws -> Bool {
        guard gateFD >= 0 else { return try tryFlock(fd, kind == .shared ? LOCK_SH : LOCK_EX, path) }
        switch kind {
        case .shared:
            // Through the gate: closed while an exclusive acquirer holds it.
            guard try tryFlock(gateFD, LOCK_SH, gatePath!) else { return false }
            defer { flock(gateFD, LOCK_UN) }
            return try tryFlock(fd, LOCK_SH, path)
        case .exclusive:
            if !holdsGate { holdsGate = try tryFlock(gateFD, LOCK_EX, gatePath!) }
            return try holdsGate && tryFlock(fd, LOCK_EX, path)
        }
    }

    /// flock(LOCK_NB): false when another process holds it, an error for anything else.
    private func tryFlock(_ descriptor: Int32, _ operation: Int32, _ file: String) throws -> Bool {
        if flock(descriptor, operation | LOCK_NB) == 0 { return true }
        guard errno == EWOULDBLOCK || errno == EINTR else {
            let reason = String(cString: strerror(errno))
            releaseGate()
            throw VaultError.failure("cannot lock \(file): \(reason)")
        }
        return false
    }

    private func releaseGate() {
        if holdsGate { flock(gateFD, LOCK_UN) }
        holdsGate = false
    }

    /// Opens a lock file without following a symlink: one that exists must be a regular file
    /// of the user's with no group or other permission bits (checked on the open descriptor,
    /// so nothing can be swapped in between); a missing one is created `O_EXCL`, mode 0600.
    static func openLockFile(_ path: String) throws -> Int32 {
        for _ in 0..<3 {
            let fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 {
                var st = stat()
                guard fstat(fd, &st) == 0 else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw VaultError.failure("cannot open lock file \(path): \(reason)")
                }
                if let problem = VaultFile.sideFileProblem(
                    st, path: path, refusing: "refusing to use it as a lock file")
                {
                    close(fd)
                    throw problem
                }
                return fd
            }
            if errno == ENOENT {
                let created = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                if created >= 0 { return created }
                // Another process created it first: open and check that one.
                if errno == EEXIST { continue }
            }
            if errno == ELOOP {
                throw VaultError.failure(
                    "cannot open lock file \(path): it is a symbolic link; refusing to follow it",
                    hint:
                        "remove the link (`rm \(path)`; tokvault creates the lock file again) and find out who put it there"
                )
            }
            break
        }
        throw VaultError.failure("cannot open lock file \(path): \(String(cString: strerror(errno)))")
    }

    func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        releaseGate()
        if gateFD >= 0 {
            close(gateFD)
            gateFD = -1
        }
        held = nil
    }

    deinit { release() }
}
