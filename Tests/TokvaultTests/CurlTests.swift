import Foundation
import Testing

/// `tokvault curl`: the token and the app's stored headers reach the API through curl, never a
/// command line; where the token may go; curl's status and the 401 hints.
@Suite("tokvault curl")
struct CurlTests {
    static let server: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Support/api-echo-server.py").path

    /// The API stand-in: a plain-HTTP server on 127.0.0.1 that logs every request it gets.
    final class API {
        let process = Process()
        let log: String
        let port: String
        var base: String { "http://127.0.0.1:\(port)" }

        init(_ dir: TempDir, name: String = "api") throws {
            log = dir.file("\(name)-requests.jsonl")
            FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", CurlTests.server, log]
            let out = Pipe()
            process.standardOutput = out
            // Not the test run's stderr: a server left behind would hold the runner's pipe open.
            process.standardError = FileHandle.nullDevice
            try process.run()
            let first = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
            port = try #require(first.split(separator: "\n").first.map(String.init), "the API server did not start")
        }

        deinit {
            // SIGKILL: the test process may pass on an ignored SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        struct Request {
            var method: String
            var path: String
            var headers: [(String, String)]
            var body: String
            func header(_ name: String) -> [String] {
                headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
            }
        }

        var requests: [Request] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                else { return nil }
                let headers = (object["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
                return Request(
                    method: object["method"] as? String ?? "", path: object["path"] as? String ?? "",
                    headers: headers, body: object["body"] as? String ?? "")
            }
        }
    }

    /// A client-credentials app with stored headers and its API base at a fresh API server.
    static func setup() throws -> (ProviderSetup, API, token: String) {
        let s = try TokenFormatTests.clientApp()
        let api = try API(s.f.dir)
        let set = s.cli.run(
            [
                "set", "deploy", "--api-base", api.base + "/api/", "--header", "data-partition-id: opendes",
                "--header", "Accept: application/json"
            ] + s.key)
        #expect(set.status == 0 && set.stdout.contains("api_base, request_headers"), "\(set)")
        let token = s.cli.run(["token", "deploy"] + s.key).stdout.trimmingCharacters(in: .newlines)
        #expect(token.hasPrefix("fake-at-"), "no token: \(token)")
        return (s, api, token)
    }

    @Test func theTokenAndStoredHeadersReachTheAPIAndNoCommandLine() throws {
        let (s, api, token) = try Self.setup()
        defer { s.idp.stop() }
        let show = s.cli.run(["show", "deploy"])
        let rows = show.stdout.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        func values(_ label: String) -> [String] {
            show.stdout.split(separator: "\n").filter { $0.hasPrefix(label + " ") }.map {
                $0.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
            }
        }
        #expect(!rows.isEmpty && values("api base") == [api.base + "/api"], "\(show)")
        #expect(values("header") == ["data-partition-id: opendes", "Accept: application/json"], "\(show)")

        // A request the server holds for 2 s: meanwhile no process's argv or environment carries the token.
        let live = try LiveProcess.tokvault(s.cli, ["curl"] + s.key + ["deploy", "/slow/records/1", "-sS"])
        var sawCurl = false
        var leaks: [String] = []
        let deadline = Date().addingTimeInterval(1.8)
        while Date() < deadline {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
                for file in ["cmdline", "environ"] {
                    // Read to the end: /proc files report a size of 0.
                    guard let handle = FileHandle(forReadingAtPath: "/proc/\(entry)/\(file)") else { continue }
                    let data = handle.readDataToEndOfFile()
                    try? handle.close()
                    let text = String(decoding: data, as: UTF8.self)
                    if file == "cmdline" && text.hasPrefix("curl\0-q\0") { sawCurl = true }
                    if text.contains(token) { leaks.append("/proc/\(entry)/\(file)") }
                }
            }
            usleep(100_000)
        }
        let status = live.finish(seconds: 15)
        #expect(status == 0, "exit \(String(describing: status)): \(live.stderr)")
        #expect(sawCurl, "curl was not seen running")
        #expect(leaks.isEmpty, "the token is readable in \(Set(leaks).sorted())")
        #expect(live.stdout == "{\"path\": \"/api/slow/records/1\"}", "\(live.stdout)")

        let request = try #require(api.requests.last)
        #expect(request.method == "GET" && request.path == "/api/slow/records/1")
        #expect(request.header("Authorization") == ["Bearer \(token)"])
        #expect(request.header("data-partition-id") == ["opendes"])
        #expect(request.header("Accept") == ["application/json"])

        // curl's own options pass on: a POST with a body from stdin, an extra header.
        let post = s.cli.run(
            [
                "curl", "--key-file", s.f.keyFile, "deploy", "search/v2/query", "-sS", "-X", "POST", "-H",
                "Content-Type: application/json", "--data-binary", "@-"
            ], stdin: "{\"kind\":\"*:*:*:*\"}")
        #expect(post.status == 0, "\(post)")
        let posted = try #require(api.requests.last)
        #expect(posted.method == "POST" && posted.path == "/api/search/v2/query")
        #expect(posted.body == "{\"kind\":\"*:*:*:*\"}" && posted.header("Content-Type") == ["application/json"])
        #expect(posted.header("Authorization") == ["Bearer \(token)"])
        #expect(!(post.stdout + post.stderr).contains(token))
    }

    @Test func curlsStatusPassesThroughAndA401SaysWhatToRun() throws {
        let (s, api, token) = try Self.setup()
        defer { s.idp.stop() }
        let expired = s.cli.run(["curl"] + s.key + ["deploy", "/invalid-token", "-s"])
        #expect(expired.status == 0, "curl exits 0 on a 401 without --fail: \(expired)")
        #expect(expired.stderr.contains("tokvault: hint: the API refused the token (invalid_token"), "\(expired)")
        #expect(expired.stderr.contains("tokvault refresh deploy"), "\(expired)")
        let failed = s.cli.run(["curl"] + s.key + ["deploy", "/claims", "-s", "--fail"])
        #expect(failed.status == 22, "\(failed)")
        #expect(failed.stderr.contains("insufficient_claims"), "\(failed)")
        #expect(
            failed.stderr.contains(
                "tokvault login deploy --claims 'eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19'"
            ), "the API's claims challenge, ready to run: \(failed)")
        let fine = s.cli.run(["curl"] + s.key + ["deploy", "/ok", "-s"])
        #expect(fine.status == 0 && !fine.stderr.contains("hint"), "\(fine)")
        for result in [expired, failed, fine] { #expect(!(result.stdout + result.stderr).contains(token)) }
        #expect(api.requests.count == 3, "a 401 is not retried")

        // Nothing listens there: curl's exit 7.
        let refused = s.cli.run(["curl"] + s.key + ["--any-origin", "deploy", "http://127.0.0.1:9/x", "-s"])
        #expect(refused.status == 7, "\(refused)")
    }

    @Test func theTokenGoesOnlyWhereTheAppAllows() throws {
        let (s, api, _) = try Self.setup()
        defer { s.idp.stop() }
        let other = try API(s.f.dir, name: "other")
        let refusals: [([String], String)] = [
            (["deploy", other.base + "/x"], "is not at the API base \(api.base)/api of app \"deploy\""),
            // Every word curl does not take as an option or its value is another URL to it.
            (["deploy", "/x", other.base + "/y"], "among the curl options is a URL to curl"),
            (["deploy", "/x", "-s", "127.0.0.1:\(other.port)/bare"], "among the curl options is a URL to curl"),
            (["deploy", "/x", "--url", other.base + "/y"], "does not pass --url on"),
            (["deploy", "/x", "--next", other.base + "/y"], "does not pass --next on"),
            (["deploy", "/x", "-s:", other.base + "/y"], "does not pass -: (-s:) on"),
            (["deploy", "/x", "--nex", other.base + "/y"], "curl has no option --nex"),
            // -x takes a value, though its help line shows none in <>: `-d URL` is not its value.
            (
                ["deploy", "/x", "-x", "-d", other.base + "/y", "--noproxy", "*"],
                "among the curl options is a URL to curl"
            ),
            (["deploy", "/x", "-x", "http://127.0.0.1:\(other.port)"], "does not pass -x (-x) on"),
            (["deploy", "/x", "--keepalive", other.base + "/y"], "curl has no option --keepalive"),
            (["deploy", "/x", "--connect-to", "::127.0.0.1:\(other.port)"], "does not pass --connect-to on"),
            (["deploy", "/x", "--resolve", "a.example:80:127.0.0.1"], "does not pass --resolve on"),
            (["deploy", "/x", "--noproxy", ""], "does not pass --noproxy on"),
            (["deploy", "/x", "-K", s.f.dir.write("curl.conf", "url = \(other.base)/z\n")], "does not pass -K (-K) on"),
            (["deploy", "/x", "-sKcurl.conf"], "does not pass -K (-sKcurl.conf) on"),
            (["deploy", "/x", "--conf", "curl.conf"], "curl has no option --conf"),
            (["deploy", "/x", "--proto", "=http,https"], "does not pass --proto on"),
            (["deploy", "/x", "--location-trusted"], "does not pass --location-trusted on"),
            (["deploy", "/x", "--", "-x"], "does not pass -- on"),
            (["deploy", "/x", "--no-such-option"], "curl has no option --no-such-option"),
            (["deploy", "http://example.com/x"], "\"http://example.com/x\" is not https"),
            (["deploy", "ftp://127.0.0.1/x"], "is not https")
        ]
        for (arguments, message) in refusals {
            let result = s.cli.run(["curl"] + s.key + arguments)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(api.requests.isEmpty && other.requests.isEmpty, "a refused request reached a server")

        // Options with values, clustered flags and `-o -` are curl's as usual.
        let options = s.cli.run(
            ["curl"] + s.key + ["deploy", "/opts", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", "X-Trace: 1"])
        #expect(options.status == 0 && options.stdout.hasSuffix("\n200"), "\(options)")
        #expect(api.requests.last?.header("X-Trace") == ["1"])
        #expect(api.requests.count == 1 && other.requests.isEmpty)

        // --any-origin: the user says the token is meant for that server.
        let allowed = s.cli.run(["curl"] + s.key + ["--any-origin", "deploy", other.base + "/x", "-s"])
        #expect(allowed.status == 0, "\(allowed)")
        #expect(other.requests.count == 1 && other.requests[0].header("data-partition-id") == ["opendes"])

        // Without an API base: absolute https (or loopback http) URLs only.
        #expect(s.cli.run(["set", "deploy", "--no-api-base"] + s.key).status == 0)
        let relative = s.cli.run(["curl"] + s.key + ["deploy", "/x"])
        #expect(relative.status == 64 && relative.stderr.contains("has no API base"), "\(relative)")
        let absolute = s.cli.run(["curl"] + s.key + ["deploy", other.base + "/abs", "-s"])
        #expect(absolute.status == 0 && other.requests.last?.path == "/abs", "\(absolute)")
    }

    @Test func storedHeadersAreCheckedAndEditable() throws {
        let (s, _, _) = try Self.setup()
        defer { s.idp.stop() }
        let refused: [([String], String)] = [
            (["--header", "Authorization: Bearer x"], "--header Authorization cannot be stored"),
            (["--header", "cookie: a=b"], "--header cookie cannot be stored"),
            (["--header", "X-A: line\r\nX-B: injected"], "must be printable ASCII"),
            (["--header", "X-A:"], "--header X-A has no value"),
            (["--header", "no colon"], "is not Name: value"),
            (["--header", "bad name: v"], "invalid header name \"bad name\""),
            (["--api-base", "http://example.com"], "is not https"),
            (["--api-base", "https://user:pw@example.com"], "credentials in the URL are not allowed"),
            (["--api-base", "https://example.com/?a=b"], "must not have a ?query"),
            (["--api-base", "https://example.com", "--no-api-base"], "not both"),
            (["--remove-header", "X-Missing"], "the app has no stored header X-Missing")
        ]
        for (arguments, message) in refused {
            let result = s.cli.run(["set", "deploy"] + arguments + s.key)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        // Same name: replaced in place (names compare case-insensitively); removed by name.
        #expect(s.cli.run(["set", "deploy", "--header", "DATA-PARTITION-ID: other"] + s.key).status == 0)
        #expect(s.cli.run(["set", "deploy", "--remove-header", "accept"] + s.key).status == 0)
        let json = try TokenFormatTests.object(s.cli.run(["show", "deploy", "--json"]).stdout)
        #expect(json["request_headers"] as? [String] == ["DATA-PARTITION-ID: other"])
        // add-app takes them too.
        let add = s.addApp(
            [
                "--flow", "client-credentials", "--secret-stdin", "--api-base", "https://contoso.energy.azure.com",
                "--header", "data-partition-id: opendes"
            ], stdin: ProviderSetup.clientSecret + "\n", name: "adme")
        #expect(add.status == 0, "\(add)")
        let listed = s.cli.run(["list", "--json"]).stdout
        #expect(listed.contains("\"api_base\" : \"https://contoso.energy.azure.com\""), "\(listed)")
        // export's curl script uses them.
        let script = s.cli.run(["export", "adme", "--format", "curl", "--url", "/api/storage/v2/records/1"] + s.key)
        #expect(script.status == 0, "\(script)")
        #expect(script.stdout.contains("https://contoso.energy.azure.com/api/storage/v2/records/1"), "\(script.stdout)")
        #expect(script.stdout.contains("data-partition-id: opendes"), "\(script.stdout)")
    }
}
