import Foundation
import Testing

/// `tokvault serve ARGS` running in the background, with the two variables it printed.
final class ServingEndpoint: @unchecked Sendable {
    let process: LiveProcess
    let endpoint: String
    let header: String
    let port: Int
    /// What stdout carried before serve closed it.
    let printed: String

    init(_ cli: CLI, _ arguments: [String], env: [String: String] = [:]) throws {
        process = try LiveProcess(
            [CLI.binary, "serve"] + arguments, environment: cli.environment.merging(env) { $1 },
            cwd: cli.directory.path)
        let deadline = Date().addingTimeInterval(60)
        while process.stdout.filter({ $0 == "\n" }).count < 2 && process.isRunning && Date() < deadline {
            usleep(20_000)
        }
        printed = process.stdout
        let lines = printed.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "serve printed: \(printed)\nstderr: \(process.stderr)")
        func value(_ line: String, _ name: String) throws -> String {
            let prefix = "\(name)="
            let suffix = "; export \(name);"
            try #require(line.hasPrefix(prefix) && line.hasSuffix(suffix), "not an assignment of \(name): \(line)")
            return String(line.dropFirst(prefix.count).dropLast(suffix.count))
        }
        endpoint = try value(lines[0], "IDENTITY_ENDPOINT")
        header = try value(lines[1], "IDENTITY_HEADER")
        port = try #require(URLComponents(string: endpoint)?.port, "no port in \(endpoint)")
    }

    var environment: [String: String] { ["IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": header] }

    /// The headers an Azure SDK sends.
    var sdkHeaders: [(String, String)] {
        [("Host", "127.0.0.1:\(port)"), ("X-IDENTITY-HEADER", header), ("Metadata", "true")]
    }

    /// `METHOD TARGET` with exactly `headers` (nil: the SDK's), on a connection of its own.
    func send(_ target: String, method: String = "GET", headers: [(String, String)]? = nil, body: [UInt8] = [])
        -> RawHTTP.Answer
    {
        RawHTTP.exchange(
            port: port, Self.request(method, target, headers: headers ?? sdkHeaders, body: body), timeout: 30)
    }

    /// A token request for `resource` as the SDKs make it.
    func token(_ resource: String, extra: String = "") -> RawHTTP.Answer {
        send("/msi/token?api-version=2019-08-01&resource=\(resource)\(extra)")
    }

    static func request(_ method: String, _ target: String, headers: [(String, String)], body: [UInt8]) -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    /// Stops it the way a user does (SIGTERM); its exit status, nil if it had to be killed.
    func stop() -> Int32? {
        if process.isRunning { kill(process.process.processIdentifier, SIGTERM) }
        return process.finish(seconds: 20)
    }
}

extension RawHTTP.Answer {
    /// The JSON object of the body.
    var json: [String: Any] {
        guard let start = text.range(of: "\r\n\r\n") else { return [:] }
        let body = Data(text[start.upperBound...].utf8)
        return (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }
}

/// The python3 along the test run's PATH that has azure-identity (PyPI), or nil.
let azureIdentityPython: String? = {
    let found = runToEnd("/usr/bin/env", ["python3", "-c", "import sys, azure.identity; print(sys.executable)"])
    let path = String(decoding: found.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return found.status == 0 && !path.isEmpty ? path : nil
}()

/// Support/azure-identity-client.py: a token from azure-identity's ManagedIdentityCredential
/// ("mi") or DefaultAzureCredential ("default").
let azureIdentityClient: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("azure-identity-client.py").path
