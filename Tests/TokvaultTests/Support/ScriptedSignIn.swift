import Foundation
import Testing

/// The user's side of a sign-in at the fake provider: `login --manual` on a terminal, and the
/// browser that follows the authorize URL.
enum ScriptedSignIn {
    /// `tokvault login adme --manual` under a pseudo-terminal. The scripted browser does
    /// nothing (mode `never`), so the test plays the user's browser itself.
    static func manualLogin(_ s: LoginSetup) throws -> TerminalSession {
        let words = [
            "env", "BROWSER=\(LoginSetup.browser)", "SCRIPTED_BROWSER_MODE=never",
            CLI.binary, "login", "adme", "--manual", "--key-file", s.f.keyFile
        ]
        let command = "exec " + words.map(shellQuoted).joined(separator: " ")
        return try TerminalSession(command: command, environment: s.cli.environment, cwd: s.f.dir.path)
    }

    /// The authorize URL the CLI printed, once it asks for the paste.
    static func authorizeURL(from session: TerminalSession) throws -> String {
        let prompted = session.wait(seconds: 30) { $0.contains("paste the address bar's URL") }
        #expect(prompted, "no paste prompt: \(session.text)")
        let line = session.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("http") && $0.contains("/oauth2/v2.0/authorize?") }
        return try #require(line, "no authorize URL in: \(session.text)")
    }

    /// The user's browser: GET the authorize URL without following the redirect, and return
    /// the Location (the redirect URI with `code` and `state`).
    static func authorize(_ url: String) throws -> String {
        let curl = CLI.exec(
            ["/usr/bin/curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{redirect_url}", url],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(curl.status == 0, "\(curl)")
        let location = curl.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(location.contains("code="), "no code in the redirect: \(curl)")
        return location
    }

    /// The value of the query parameter `name` in `url`.
    static func parameter(_ name: String, of url: String) -> String? {
        URLComponents(string: url)?.queryItems?.first { $0.name == name }?.value
    }

    /// The redirect URI of the apps the manual sign-ins use.
    static let redirectURI = "http://localhost:8400/callback"
}
