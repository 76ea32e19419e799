import CTokvault
import Glibc

/// The Linux kernel's key retention service (keyrings(7)) as tokvault uses it: "user" keys in
/// the session keyring, or, opted in, the user keyring. Nothing here knows what a key holds.
package enum KernelKeyring {
    /// The special keyrings, by the numbers keyctl(2) takes for them.
    package enum Ring: Int32, Sendable {
        case thread = -1
        case session = -3
        case user = -4
        case userSession = -5
    }

    /// What KEYCTL_DESCRIBE tells about a key.
    package struct KeyInfo: Equatable, Sendable {
        package let type: String
        package let uid: uid_t
        package let gid: gid_t
        package let permissions: UInt32
        package let description: String
    }

    /// A keyctl call the kernel refused.
    package struct Refusal: Error, Equatable, CustomStringConvertible {
        package let operation: String
        package let errno: Int32
        package var description: String { "\(operation): \(String(cString: strerror(errno)))" }
        /// The key is not there (any more): absent, expired, revoked or invalidated.
        package var isNoKey: Bool { [ENOKEY, EKEYEXPIRED, EKEYREVOKED].contains(errno) }
    }

    /// Possessor view, read, search and setattr; nothing for the user, group or others.
    package static let possessorOnly: UInt32 = 0x0100_0000 | 0x0200_0000 | 0x0800_0000 | 0x2000_0000

    /// The serial of a special keyring; never creates one.
    package static func id(of ring: Ring) throws -> Int32 {
        let id = tokvault_keyring_id(ring.rawValue)
        guard id >= 0 else { throw Refusal(operation: "keyctl(GET_KEYRING_ID)", errno: errno) }
        return id
    }

    package static func describe(_ key: Int32) throws -> KeyInfo {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = tokvault_key_describe(key, &buffer, buffer.count)
        guard length >= 0 else { throw Refusal(operation: "keyctl(DESCRIBE)", errno: errno) }
        guard length <= buffer.count else { throw Refusal(operation: "keyctl(DESCRIBE)", errno: E2BIG) }
        // "type;uid;gid;perm;description": the description may itself contain ';'.
        let text = String(decoding: buffer.prefix(max(0, length - 1)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: ";", maxSplits: 4, omittingEmptySubsequences: false)
        guard fields.count == 5, let uid = uid_t(fields[1]), let gid = gid_t(fields[2]),
            let permissions = UInt32(fields[3], radix: 16)
        else { throw Refusal(operation: "keyctl(DESCRIBE)", errno: EINVAL) }
        return KeyInfo(
            type: String(fields[0]), uid: uid, gid: gid, permissions: permissions, description: String(fields[4]))
    }

    /// Adds a "user" key with `permissions` and a kernel-enforced timeout to `keyring`. The key
    /// is made in this thread's own keyring, given its timeout, linked into `keyring`, given its
    /// permissions and unlinked from the thread keyring: `keyring` never holds it without its
    /// limits, and the steps need no possession of `keyring` (a user keyring the session does
    /// not link). Any failing step invalidates the key.
    package static func add(
        description: String, payload: SecureBytes, to keyring: Int32, permissions: UInt32, timeoutSeconds: UInt32
    ) throws -> Int32 {
        let key = payload.withUnsafeBytes { bytes in
            tokvault_key_add(description, bytes.baseAddress, bytes.count, Ring.thread.rawValue)
        }
        guard key >= 0 else { throw Refusal(operation: "add_key", errno: errno) }
        func step(_ operation: String, _ result: Int32) throws {
            guard result != 0 else { return }
            let refusal = Refusal(operation: operation, errno: errno)
            _ = tokvault_key_invalidate(key)
            throw refusal
        }
        try step("keyctl(SET_TIMEOUT)", tokvault_key_set_timeout(key, timeoutSeconds))
        try step("keyctl(LINK)", tokvault_key_link(key, keyring))
        try step("keyctl(SETPERM)", tokvault_key_setperm(key, permissions))
        try step("keyctl(UNLINK)", tokvault_key_unlink(key, Ring.thread.rawValue))
        return key
    }

    /// The "user" key with this description in `keyring` (or a keyring linked from it), or nil.
    package static func search(_ keyring: Int32, description: String) throws -> Int32? {
        let key = tokvault_key_search(keyring, description)
        if key >= 0 { return key }
        let refusal = Refusal(operation: "keyctl(SEARCH)", errno: errno)
        if refusal.isNoKey || refusal.errno == EACCES { return nil }
        throw refusal
    }

    /// A key's payload, up to `limit` bytes (a longer one is refused).
    package static func read(_ key: Int32, limit: Int) throws -> SecureBytes {
        let buffer = SecureBytes(count: limit)
        let length = buffer.withUnsafeMutableBytes { tokvault_key_read(key, $0.baseAddress, $0.count) }
        guard length >= 0 else { throw Refusal(operation: "keyctl(READ)", errno: errno) }
        guard length <= limit else { throw Refusal(operation: "keyctl(READ)", errno: E2BIG) }
        return buffer.prefix(length)
    }

    /// The serials of the keys linked in a keyring.
    package static func keys(in keyring: Int32) throws -> [Int32] {
        var serials = [Int32](repeating: 0, count: 1024)
        let length = serials.withUnsafeMutableBytes { tokvault_key_read(keyring, $0.baseAddress, $0.count) }
        guard length >= 0 else { throw Refusal(operation: "keyctl(READ)", errno: errno) }
        return Array(serials.prefix(min(length, serials.count * 4) / 4))
    }

    package static func invalidate(_ key: Int32) throws {
        guard tokvault_key_invalidate(key) == 0 else { throw Refusal(operation: "keyctl(INVALIDATE)", errno: errno) }
    }

    /// Why the session keyring is no place for a key, or nil when it is this process's own: a
    /// session keyring that is the user-session keyring (no pam_keyinit: containers, `su`
    /// without a login, cron), or one owned by another uid (`sudo` keeps the caller's).
    package enum SessionProblem: Equatable, Sendable {
        case isUserSession
        case ownedBy(uid_t)
        case unavailable(Refusal)
    }

    package static func sessionKeyringProblem() -> SessionProblem? {
        do {
            let session = try id(of: .session)
            if session == (try id(of: .userSession)) { return .isUserSession }
            let owner = try describe(session).uid
            return owner == geteuid() ? nil : .ownedBy(owner)
        } catch let refusal as Refusal {
            return .unavailable(refusal)
        } catch {
            return .unavailable(Refusal(operation: "keyctl", errno: EINVAL))
        }
    }

    /// Gives the calling thread a new, empty, anonymous session keyring, which the processes it
    /// starts inherit: they cannot reach the keys of the caller's session. Credentials are per
    /// thread: call it on the thread that starts the process.
    package static func joinAnonymousSession() throws {
        guard tokvault_keyring_join_anonymous_session() >= 0 else {
            throw Refusal(operation: "keyctl(JOIN_SESSION_KEYRING)", errno: errno)
        }
    }
}
