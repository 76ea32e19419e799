import CTokvault
import Foundation

/// Files that hold secrets: created 0600, written completely, fsynced, then linked into place,
/// so a reader (or a kill at any moment) sees either no file or the whole file.
package enum SecureFile {
    /// Writes a new file; fails if `path` exists (never replaces one).
    package static func createNew(_ path: String, contents: SecureBytes) throws {
        // Preferred: an unnamed O_TMPFILE file, named only once complete (a kill leaves nothing).
        let fd = tokvault_open_tmpfile(directory(of: path), 0o600)
        if fd >= 0 {
            defer { close(fd) }
            try writeAll(fd, contents, path: path)
            guard tokvault_link_tmpfile(fd, path) == 0 else {
                let reason = errno == EEXIST ? "file exists" : String(cString: strerror(errno))
                throw VaultError.failure(
                    "cannot create \(path): \(reason)",
                    hint: errno == EEXIST ? "tokvault does not overwrite it; choose another path" : nil)
            }
            VaultFile.sync(directory(of: path))
            return
        }
        let temporary = try writeTemporary(beside: path, contents: contents)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            let reason = errno == EEXIST ? "file exists" : String(cString: strerror(errno))
            throw VaultError.failure(
                "cannot create \(path): \(reason)",
                hint: errno == EEXIST ? "tokvault does not overwrite it; choose another path" : nil)
        }
        VaultFile.sync(directory(of: path))
    }

    static func directory(of path: String) -> String { VaultFile.directory(of: path) }

    /// A fully written, fsynced 0600 temporary file in the same directory as `path`.
    static func writeTemporary(beside path: String, contents: SecureBytes) throws -> String {
        let temporary = VaultFile.temporaryName(beside: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw VaultError.failure(
                "cannot create a file in \(directory(of: path)): \(String(cString: strerror(errno)))")
        }
        do {
            try writeAll(fd, contents, path: path)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        return temporary
    }

    /// Writes `path` whole or not at all, replacing an existing file: a complete, fsynced
    /// 0600 temporary file in the same directory is renamed over it. (A kill in between leaves
    /// a `.NAME.tokvault-tmp-PID-*` file, removed by the next write once its process is gone.)
    package static func replace(_ path: String, contents: SecureBytes) throws {
        VaultFile.sweepStaleTemporaries(beside: path)
        let temporary: String
        let fd = tokvault_open_tmpfile(directory(of: path), 0o600)
        if fd >= 0 {
            // Unnamed while it is written: a kill leaves nothing; named only for the rename.
            defer { close(fd) }
            try writeAll(fd, contents, path: path)
            temporary = VaultFile.temporaryName(beside: path)
            guard tokvault_link_tmpfile(fd, temporary) == 0 else {
                throw VaultError.failure("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        } else {
            temporary = try writeTemporary(beside: path, contents: contents)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw VaultError.failure("cannot write \(path): \(reason)")
        }
        VaultFile.sync(directory(of: path))
    }

    /// fchmod 0600 (unless `chmod` is false), write everything, fsync.
    package static func writeAll(_ fd: Int32, _ contents: SecureBytes, path: String, chmod: Bool = true) throws {
        var ok = !chmod || fchmod(fd, 0o600) == 0
        contents.withUnsafeBytes { bytes in
            var offset = 0
            while ok && offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { ok = false } else { offset += n }
            }
        }
        ok = ok && fsync(fd) == 0
        guard ok else { throw VaultError.failure("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
