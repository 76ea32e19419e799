import ArgumentParser
import TokvaultVault

public struct Tokvault: AsyncParsableCommand {
    public static let version = "0.1.0"
    static let versionLine = "tokvault \(version)"

    public static let configuration = CommandConfiguration(
        commandName: "tokvault",
        abstract: "An encrypted vault for OAuth 2.0 app registrations and tokens.",
        discussion: """
            Exit codes: 0 ok, 1 failure, 2 login required, 3 identity provider unreachable, \
            4 wrong passphrase/key or no way to unlock, 5 vault damaged or tampered, 64 usage error.
            """,
        version: versionLine,
        subcommands: [
            Init.self, AddApp.self, List.self, Show.self, SetCommand.self, Remove.self,
            Login.self, Logout.self, Token.self, Refresh.self, Export.self, Exec.self, Serve.self, Curl.self,
            Unlock.self, Lock.self, Passwd.self, KeyFileCommand.self, RotateKey.self, Backup.self, Restore.self,
            Doctor.self, Log.self
        ]
    )

    public init() {}
}
