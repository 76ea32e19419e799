import Foundation
import Testing

/// Runs the built `tokvault` binary the way a user would: in a temp dir, with a clean
/// environment, without a controlling terminal (setsid), optionally as another user.
struct CLI {
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// The `tokvault` binary built next to the test bundle (or $TOKVAULT_BIN).
    static let binary: String = {
        if let env = ProcessInfo.processInfo.environment["TOKVAULT_BIN"], !env.isEmpty { return env }
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test binary may sit inside a .xctest bundle directory.
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("tokvault").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "tokvault"
    }()

    /// Sanitizer runtime settings of the test run (scripts/sanitize). Under
    /// `swift test --sanitize=...` the binary is instrumented too, and without these its
    /// reports would go to a stderr the tests capture and mostly ignore, not to the log
    /// directory the script scans. Only these variables: the environment stays clean.
    static let sanitizerEnvironment: [String: String] = ProcessInfo.processInfo.environment.filter {
        ["ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"].contains($0.key)
    }

    var directory: TempDir
    var environment: [String: String]

    init(_ directory: TempDir, environment: [String: String] = [:]) {
        self.directory = directory
        self.environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": directory.path,
            "TOKVAULT_VAULT": directory.path + "/vault/vault.db",
            "LC_ALL": "C.UTF-8"
        ].merging(Self.sanitizerEnvironment) { $1 }.merging(environment) { $1 }
    }

    var vaultPath: String { environment["TOKVAULT_VAULT"]! }

    /// Runs `tokvault ARGS` with optional stdin bytes; `user` runs it through setpriv.
    @discardableResult
    func run(
        _ arguments: [String], stdin: String? = nil, env: [String: String] = [:], user: String? = nil,
        binary: String = CLI.binary
    ) -> Result {
        var command = ["/usr/bin/setsid", "-w"]
        if let user {
            command += ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=nogroup", "--clear-groups"]
        }
        command += [binary] + arguments
        return Self.exec(command, stdin: stdin, environment: environment.merging(env) { $1 }, cwd: directory.path)
    }

    static func exec(_ command: [String], stdin: String? = nil, environment: [String: String], cwd: String? = nil)
        -> Result
    {
        let result = runToEnd(
            command[0], Array(command.dropFirst()), stdin: stdin.map { Data($0.utf8) },
            environment: environment, cwd: cwd)
        return Result(
            status: result.status, stdout: String(decoding: result.stdout, as: UTF8.self),
            stderr: String(decoding: result.stderr, as: UTF8.self))
    }
}

/// Runs a program to its end and returns its exit status (128 + N when signal N ended it; -1
/// when it could not start) and everything it wrote. Without `stdin` its input is /dev/null.
func runToEnd(
    _ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil,
    cwd: String? = nil
) -> (status: Int32, stdout: Data, stderr: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    do { try process.run() } catch {
        return (-1, Data(), Data("cannot run \(executable): \(error)".utf8))
    }
    if let stdin {
        input.fileHandleForWriting.write(stdin)
        try? input.fileHandleForWriting.close()
    }
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let status =
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return (status, outData, errData)
}

/// A private temporary directory, removed when the value is released.
final class TempDir: @unchecked Sendable {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/tokvault-test-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String, mode: mode_t = 0o600) -> String {
        let p = file(name)
        FileManager.default.createFile(atPath: p, contents: Data(text.utf8), attributes: [.posixPermissions: Int(mode)])
        chmod(p, mode)
        return p
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// All regular files under `dir` whose bytes contain `needle`.
func filesContaining(_ needle: String, under dir: String) -> [String] {
    filesContaining(Data(needle.utf8), under: dir)
}

func filesContaining(_ bytes: Data, under dir: String) -> [String] {
    var hits: [String] = []
    guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
    for case let relative as String in walker {
        let full = dir + "/" + relative
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue,
            let data = FileManager.default.contents(atPath: full)
        else { continue }
        if data.range(of: bytes) != nil { hits.append(full) }
    }
    return hits
}

let isRoot = geteuid() == 0

/// A standard test vault: passphrase (cheap KDF) + key file, one Azure app with a canary secret.
struct Fixture {
    static let clientID = "0b6a2f1e-1111-4c4c-9a9a-123456789abc"
    static let passphrase = "correct horse battery staple"
    let dir = TempDir()
    let cli: CLI
    let keyFile: String
    let passphraseFile: String

    init(keyFileOnly: Bool = false) {
        cli = CLI(dir)
        keyFile = dir.file("vault.key")
        passphraseFile = dir.write("pass.txt", Fixture.passphrase + "\n")
        var args = ["init", "--new-key-file", keyFile, "--kdf-ops", "1", "--kdf-mem-mib", "8"]
        args += keyFileOnly ? ["--no-passphrase"] : ["--new-passphrase-file", passphraseFile]
        let result = cli.run(args)
        precondition(result.status == 0, "init failed: \(result)")
    }

    @discardableResult
    func addApp(_ name: String, secret: String, clientID: String = Fixture.clientID) -> CLI.Result {
        cli.run(
            [
                "add-app", name, "--tenant", "contoso.onmicrosoft.com", "--client-id", clientID,
                "--secret-stdin", "--key-file", keyFile
            ], stdin: secret + "\n")
    }
}

/// Runs `body` on `count` threads at once (not a pool: `concurrentPerform` runs only as many
/// iterations at a time as there are cores) and returns the results in index order.
func runConcurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let box = ConcurrentBox<T>()
    let group = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        group.enter()
        Thread {
            start.wait()
            let result = body(index)
            box.lock.lock()
            box.results[index] = result
            box.lock.unlock()
            group.leave()
        }.start()
    }
    for _ in 0..<count { start.signal() }
    group.wait()
    return (0..<count).map { box.results[$0]! }
}

private final class ConcurrentBox<T>: @unchecked Sendable {
    let lock = NSLock()
    var results: [Int: T] = [:]
}
