import Foundation
import Glibc
import Testing

@testable import TokvaultVault

/// Keyring work of the test process itself, kept off the threads that start tokvault processes.
///
/// Credentials, the session keyring among them, are per thread, and a thread passes its own to
/// the threads and processes it starts. A test that joined a session keyring on a pool thread
/// would leave that thread, and every later test that runs a command from it, in that keyring;
/// so `inNewSession` runs its body on a thread of its own that joins a new, empty, anonymous
/// session keyring and then ends, and commands that need a session of their own run in one
/// through `KeyringSession`, as they would in a user's shell.
enum TestKeyring {
    /// Runs `body` on a new thread in a new session keyring (its serial is the argument).
    static func inNewSession<T: Sendable>(_ body: @escaping @Sendable (Int32) throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.result = Result {
                try KernelKeyring.joinAnonymousSession()
                return try body(try KernelKeyring.id(of: .session))
            }
            done.signal()
        }.start()
        done.wait()
        return try box.result!.get()
    }

    /// False where the kernel refuses keyring calls (a seccomp profile): those tests are skipped.
    static let available: Bool = (try? inNewSession { _ in true }) == true

    /// The keyutils command the session tests drive the keyring with.
    static let keyctl = "/usr/bin/keyctl"
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// A shell session with a session keyring of its own (`keyctl session -`), as a login with
/// pam_keyinit gives one: the steps run one after another in it, and each step's status and
/// output are returned. `$TOKVAULT` is the binary under test; `shell` steps run in bash.
struct KeyringSession {
    enum Step {
        case tokvault([String], stdin: String? = nil)
        case shell(String)
    }

    let cli: CLI
    /// Run the session as this uid (with its own user keyring) instead of the test runner's.
    let uid: uid_t?

    init(_ cli: CLI, uid: uid_t? = nil) {
        self.cli = cli
        self.uid = uid
    }

    /// An unused uid, for a test that touches the uid-wide user keyring: the runner's own
    /// (a developer's) must not see the test's keys, nor lose its own to `lock --all`.
    static func privateUID() -> uid_t { uid_t.random(in: 2_000_000..<3_000_000) }

    /// Hands a directory (a fixture's vault, key file and passphrase file) to `uid`.
    static func give(_ dir: TempDir, to uid: uid_t) {
        let chown = runToEnd("/bin/chown", ["-R", "\(uid):\(uid)", dir.path])
        precondition(chown.status == 0, String(decoding: chown.stderr, as: UTF8.self))
    }

    /// Runs the steps; a `precondition` first makes sure keyctl is there (CI installs keyutils).
    func run(_ steps: [Step], env: [String: String] = [:]) -> [CLI.Result] {
        precondition(
            FileManager.default.isExecutableFile(atPath: TestKeyring.keyctl),
            "the keyring tests need keyctl: apt-get install keyutils")
        let dir = TempDir()
        var script = "set -u\n"
        for (index, step) in steps.enumerated() {
            let input: String
            switch step {
            case .tokvault(_, let stdin?): input = dir.write("\(index).in", stdin)
            default: input = "/dev/null"
            }
            let command: String
            switch step {
            case .tokvault(let arguments, _):
                command = (["\"$TOKVAULT\""] + arguments.map(Self.quoted)).joined(separator: " ")
            case .shell(let text): command = text
            }
            let out = Self.quoted(dir.file("\(index)"))
            script += "( \(command) ) <\(Self.quoted(input)) >\(out).out 2>\(out).err; echo $? >\(out).rc\n"
        }
        var environment = cli.environment.merging(env) { $1 }
        environment["TOKVAULT"] = CLI.binary
        if let uid {
            // A copy the uid can execute, whatever the build directory's modes.
            environment["TOKVAULT"] = dir.file("tokvault")
            try? FileManager.default.copyItem(atPath: CLI.binary, toPath: dir.file("tokvault"))
            Self.give(dir, to: uid)
        }
        var command = ["/usr/bin/setsid", "-w"]
        if let uid { command += ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] }
        command += [TestKeyring.keyctl, "session", "-", "/bin/bash", "-c", script]
        let whole = CLI.exec(command, environment: environment, cwd: cli.directory.path)
        return steps.indices.map { index in
            let read = { (suffix: String) in
                (try? String(contentsOfFile: dir.file("\(index).\(suffix)"), encoding: .utf8)) ?? ""
            }
            let status = Int32(read("rc").trimmingCharacters(in: .whitespacesAndNewlines))
            return CLI.Result(
                status: status ?? -1, stdout: read("out"),
                stderr: status == nil ? "step \(index) did not run: \(whole)" : read("err"))
        }
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
