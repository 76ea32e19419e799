import Foundation
import Testing
import TokvaultFakeIdP

/// `login` shows the time left to complete the sign-in on a terminal, and nothing of the kind
/// when stderr is not one.
@Suite("login countdown")
struct LoginCountdownTests {
    static func session(_ words: [String], _ cli: CLI, cwd: String) throws -> TerminalSession {
        try TerminalSession(
            command: "exec " + ([CLI.binary] + words).map(shellQuoted).joined(separator: " "),
            environment: cli.environment, cwd: cwd)
    }

    @Test func theBrowserSignInCountsDownOnATerminalOnly() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        let words = ["login", "adme", "--no-browser", "--port", "0", "--timeout", "12", "--key-file", s.f.keyFile]
        let session = try Self.session(words, s.cli, cwd: s.f.dir.path)
        defer { session.kill() }
        #expect(session.wait(seconds: 20) { $0.contains("0:12 left to complete the sign-in") }, "\(session.text)")
        #expect(
            session.wait(seconds: 20) { $0.contains("still waiting for the sign-in (0:10 left)") }, "\(session.text)")
        #expect(session.finish(seconds: 30) == 1, "\(session.text)")
        #expect(session.text.contains("no sign-in response arrived within 12 s"), "\(session.text)")
        #expect(!session.text.contains("(0:00 left)"))

        let plain = s.cli.run(words)
        #expect(plain.status == 1, "\(plain)")
        #expect(!plain.stderr.contains(" left"), "no countdown without a terminal: \(plain)")
    }

    @Test func theDeviceCodeSignInCountsDownToTheCodesExpiry() throws {
        let s = try ProviderSetup.device(.manual, lifetime: 12)
        defer { s.idp.stop() }
        #expect(s.addApp(["--public"], name: "adme").status == 0)
        let words = ["login", "adme", "--device"] + s.key
        let session = try Self.session(words, s.cli, cwd: s.f.dir.path)
        defer { session.kill() }
        #expect(session.wait(seconds: 20) { $0.contains("0:12 left to complete the sign-in") }, "\(session.text)")
        #expect(
            session.wait(seconds: 20) { $0.contains("still waiting for the sign-in (0:10 left)") }, "\(session.text)")
        #expect(session.finish(seconds: 40) != 0, "\(session.text)")
    }
}
