import Foundation

/// A directory owned by `nobody` holding a copy of the binary it can execute.
struct UnprivilegedSandbox {
    let dir = TempDir()
    let binary: String
    let cli: CLI

    init() {
        chmod(dir.path, 0o755)
        binary = dir.file("tokvault")
        try? FileManager.default.copyItem(atPath: CLI.binary, toPath: binary)
        chmod(binary, 0o755)
        mkdir(dir.file("home"), 0o700)
        let nobody = getpwnam("nobody")!.pointee
        chown(dir.file("home"), nobody.pw_uid, nobody.pw_gid)
        cli = CLI(dir, environment: ["HOME": dir.file("home"), "TOKVAULT_VAULT": dir.file("home/v/vault.db")])
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil, env: [String: String] = [:]) -> CLI.Result {
        cli.run(args, stdin: stdin, env: env, user: "nobody", binary: binary)
    }

    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }
}
