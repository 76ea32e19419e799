import Foundation
import GRDB
import Testing

// The bad-input catalogue (docs/bad-input.md): hostile files, redirects, servers, certificates
// and environments the existing suites did not try. Every case checks the exit code, the key
// part of the message, that no secret is printed, and that the vault is left as it was.

/// Shared checks of the hostile-input suites.
enum Hostile {
    static let tenMiB = 10 * 1024 * 1024

    static let tenant = "00000000-0000-0000-0000-0000000000aa"
    static let clientID = "11111111-2222-3333-4444-555555555555"
    static let clientSecret = "cs-CANARY-hostile-41c"
    static let refreshToken = "rt-CANARY-hostile-5e1"

    /// Every row of the vault's tables, blobs in hex: equal snapshots mean nothing was written.
    static func snapshot(_ path: String) throws -> String {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            var out = ""
            for table in ["vault", "key_slot", "app", "session", "access_token", "event"] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid") {
                    let cells = row.columnNames.map { name -> String in
                        let value: DatabaseValue = row[name]
                        if case .blob(let data) = value.storage {
                            return "\(name)=x'\(data.map { String(format: "%02x", $0) }.joined())'"
                        }
                        return "\(name)=\(value)"
                    }
                    out += table + ": " + cells.joined(separator: " ") + "\n"
                }
            }
            return out
        }
    }

    /// No secret in stdout or stderr, and no raw terminal control (ESC, BEL) in stderr.
    static func expectClean(
        _ result: CLI.Result, secrets: [String] = [Hostile.clientSecret, Hostile.refreshToken],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for secret in secrets {
            #expect(
                !result.stdout.contains(secret) && !result.stderr.contains(secret),
                "a secret in the output: \(result)", sourceLocation: sourceLocation)
        }
        #expect(
            !result.stderr.contains("\u{1b}") && !result.stderr.contains("\u{07}"),
            "raw control characters reach the terminal: \(result.stderr.debugDescription)",
            sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }

    /// A vault with one confidential Azure app whose authority host is `authorityHost`, and an
    /// imported refresh token, so that `token` refreshes against that host at once.
    struct Endpoint {
        let f = Fixture()
        var cli: CLI { f.cli }

        init(authorityHost: String) {
            let add = f.cli.run(
                [
                    "add-app", "adme", "--tenant", Hostile.tenant, "--client-id", Hostile.clientID,
                    "--authority-host", authorityHost, "--redirect-uri", "http://localhost:0/callback",
                    "--secret-stdin", "--key-file", f.keyFile
                ], stdin: Hostile.clientSecret + "\n")
            precondition(add.status == 0, "add-app failed: \(add)")
            let set = f.cli.run(
                ["set", "adme", "--refresh-token-stdin", "--key-file", f.keyFile], stdin: Hostile.refreshToken + "\n")
            precondition(set.status == 0, "set failed: \(set)")
        }

        func run(_ arguments: [String], env: [String: String] = [:]) -> CLI.Result {
            cli.run(arguments + ["--key-file", f.keyFile], env: env)
        }

        /// Runs `arguments` against an endpoint that answers `c.behavior` and checks what every
        /// hostile answer must give: c's exit status and message, no canary in the output, and a
        /// vault exactly as it was. The result is returned for the caller's own checks.
        func runRefused(_ arguments: [String], _ c: HostileAnswerCase, canaries: [String]) throws -> CLI.Result {
            let before = try Hostile.snapshot(cli.vaultPath)
            let result = run(arguments)
            #expect(result.status == c.status, "\(result)")
            #expect(result.stderr.contains(c.needle), "\(result.stderr.debugDescription)")
            Hostile.expectClean(result, secrets: [Hostile.clientSecret, Hostile.refreshToken] + canaries)
            #expect(try Hostile.snapshot(cli.vaultPath) == before, "the refresh token and cache are as they were")
            return result
        }
    }

    /// Which of the app's derived Azure endpoints a request was sent to.
    static func isTokenPath(_ request: HostileServer.Request) -> Bool { request.target.hasSuffix("/oauth2/v2.0/token") }
    static func isDevicePath(_ request: HostileServer.Request) -> Bool {
        request.target.hasSuffix("/oauth2/v2.0/devicecode")
    }

    static func json(_ status: String, _ body: String, headers: [(String, String)] = []) -> HostileServer.Behavior {
        HostileServer.response(status, contentType: "application/json", body: body, headers: headers)
    }

    /// Runs `body`; nil (after `onTimeout`, which must make `body` end) when it takes longer
    /// than `seconds`, so that a hang fails the test instead of stalling the run.
    static func within<T: Sendable>(
        _ seconds: Double, onTimeout: @escaping @Sendable () -> Void,
        _ body: @escaping @Sendable () async throws -> T
    ) async -> Result<T, Error>? {
        await withTaskGroup(of: Result<T, Error>?.self) { group in
            group.addTask {
                do { return .success(try await body()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
                return nil
            }
            if let first = await group.next(), let outcome = first {
                group.cancelAll()
                return outcome
            }
            onTimeout()
            group.cancelAll()
            return nil
        }
    }
}

/// One misbehaving answer and what tokvault must make of it: exit status and message, and for
/// token endpoints the requests sent and the hint.
struct HostileAnswerCase: Sendable, CustomTestStringConvertible {
    var name: String
    var behavior: HostileServer.Behavior
    var status: Int32
    var needle: String
    /// Requests the endpoint receives (retries included).
    var requests: Int = 1
    /// Part of the `tokvault: hint:` line, when there must be one.
    var hint: String?
    var testDescription: String { name }
}
