import Foundation
import Testing

/// A `login --no-browser` waiting on its listener, with what the test needs to talk to it.
struct WaitingLogin {
    let s: LoginSetup
    let process: LiveProcess
    let authorizeURL: String
    let port: Int
    let path: String
    let state: String

    init(extra: [String] = [], env: [String: String] = [:], noBrowser: Bool = true) throws {
        s = try LoginSetup(publicClient: true)
        process = try LiveProcess.tokvault(
            s.cli,
            ["login", "adme", "--key-file", s.f.keyFile, "--port", "0", "--timeout", "30"]
                + (noBrowser ? ["--no-browser"] : []) + extra,
            env: env)
        // The URL line is complete once a line break follows it.
        let printed = process.waitForStderr(seconds: 20) { text in
            guard let start = text.range(of: "/oauth2/v2.0/authorize?") else { return false }
            return text[start.upperBound...].contains("\n")
        }
        try #require(printed, "no authorize URL: \(process.stderr)")
        let line = process.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("http") && $0.contains("/oauth2/v2.0/authorize?") }
        authorizeURL = try #require(line)
        let redirect = try #require(
            ScriptedSignIn.parameter("redirect_uri", of: authorizeURL).flatMap { URLComponents(string: $0) })
        port = try #require(redirect.port)
        path = redirect.path.isEmpty ? "/" : redirect.path
        state = try #require(ScriptedSignIn.parameter("state", of: authorizeURL))
    }

    func get(_ target: String) -> RawHTTP.Answer {
        RawHTTP.exchange(port: port, RawHTTP.request("GET", target))
    }

    /// Signs in at the fake provider and hands the real redirect to the listener.
    func completeSignIn() throws -> RawHTTP.Answer {
        let location = try ScriptedSignIn.authorize(authorizeURL)
        let url = try #require(URLComponents(string: location))
        return get(url.percentEncodedPath + "?" + (url.percentEncodedQuery ?? ""))
    }

    func stop() {
        if process.isRunning { _ = process.finish(seconds: 0) }
        s.idp.stop()
    }
}
