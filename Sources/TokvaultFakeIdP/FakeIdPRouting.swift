// The fake's HTTP model (one complete request in, one action out) and its routing: the entry
// points the network layer calls, and the table from paths to endpoints.

import Foundation

struct FakeRequest: Sendable {
    var method: String
    var uri: String
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    var path: Substring {
        let cut = uri.firstIndex { $0 == "?" || $0 == "#" } ?? uri.endIndex
        return uri[..<cut]
    }

    var query: Substring {
        guard let q = uri.firstIndex(of: "?") else { return "" }
        let end = uri[q...].firstIndex(of: "#") ?? uri.endIndex
        return uri[uri.index(after: q)..<end]
    }
}

struct FakeResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func text(_ status: Int, _ text: String, type: String = "text/plain; charset=utf-8") -> FakeResponse {
        FakeResponse(status: status, headers: [("Content-Type", type)], body: Array(text.utf8))
    }

    static func json(_ status: Int, _ json: JSON, extra: [(String, String)] = []) -> FakeResponse {
        FakeResponse(
            status: status,
            headers: [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Cache-Control", "no-store, no-cache"),
                ("Pragma", "no-cache")
            ] + extra,
            body: Array(json.text.utf8))
    }
}

enum FakeAction: Sendable {
    case respond(FakeResponse)
    /// Answer `request` (handled by `FakeIdPCore.handleDelayed`) after the delay.
    case delay(milliseconds: Int, FakeRequest)
    /// Close the connection with a RST, answering nothing.
    case reset
}

/// Request bodies above this size are refused with 413.
let fakeIdPMaxRequestBody = 64 * 1024

extension FakeIdPCore {
    // MARK: - Entry points from the network layer

    func handle(_ request: FakeRequest) -> FakeAction {
        let (action, logLine) = locked { () -> (FakeAction, String?) in
            let action = route(request, delayedFault: nil)
            switch action {
            case .respond(let response): return (action, "\(request.method) \(request.path) \(response.status)")
            case .reset: return (action, "\(request.method) \(request.path) RESET")
            case .delay: return (action, nil)
            }
        }
        if let logLine { config.requestLogger?(logLine) }
        return action
    }

    /// Second half of a `.slow` fault: handle the request as if it had just arrived.
    func handleDelayed(_ request: FakeRequest) -> FakeResponse {
        let response = locked { () -> FakeResponse in
            if case .respond(let response) = route(request, delayedFault: "slow") { return response }
            return FakeResponse.text(500, "unexpected")
        }
        config.requestLogger?("\(request.method) \(request.path) \(response.status) (slow)")
        return response
    }

    func payloadTooLarge(_ method: String, _ path: Substring) -> FakeResponse {
        config.requestLogger?("\(method) \(path) 413")
        return FakeResponse.text(413, "Request body larger than \(fakeIdPMaxRequestBody) bytes\n")
    }

    // MARK: - Routing (lock held)

    private func route(_ request: FakeRequest, delayedFault: String?) -> FakeAction {
        let path = request.path
        if path.hasPrefix("/_fake/") { return .respond(control(request, String(path.dropFirst(7)))) }
        if path == "/github-actions/idtoken" { return .respond(githubActionsToken(request)) }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        if segments.count == 4, segments[1] == "oauth2", segments[2] == "v2.0" {
            if segments[3] == "authorize" { return .respond(authorize(request, tenant: segments[0])) }
            if segments[3] == "token" { return token(request, tenant: segments[0], delayedFault: delayedFault) }
            if segments[3] == "devicecode" { return .respond(deviceCode(request, tenant: segments[0])) }
        }
        if segments.count == 4, segments[1] == "v2.0", segments[2] == ".well-known",
            segments[3] == "openid-configuration", request.method == "GET" || request.method == "HEAD"
        {
            return .respond(discovery(request, tenant: segments[0]))
        }
        if segments.count == 4, segments[1] == "discovery", segments[2] == "v2.0", segments[3] == "keys",
            request.method == "GET" || request.method == "HEAD"
        {
            return .respond(keys(request, tenant: segments[0]))
        }
        return .respond(notFound(path))
    }

    func notFound(_ path: Substring) -> FakeResponse {
        stats.notFound += 1
        append(&stats.notFoundPaths, String(path.prefix(200)), cap: 1000)
        return .text(404, "Not Found\n")
    }
}
