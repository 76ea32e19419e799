import AsyncHTTPClient
import Foundation
import NIOCore

/// The HTTP client every request tokvault makes runs in: redirects never followed, HTTP/1.1,
/// the proxy the environment names for `url`, and connection attempts not retried inside the
/// pool (the token client retries them itself, with back-off; a refused port would otherwise
/// be retried for the whole connect timeout). Shut down when `body` ends, however it ends.
enum HTTPSession {
    static func run<T>(
        for url: String, connectTimeout: TimeAmount, readTimeout: TimeAmount,
        _ body: (HTTPClient) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: connectTimeout, read: readTimeout),
            proxy: try ProxySettings.forURL(url)?.configuration)
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// One GET asking for JSON: the status and at most `limit` bytes of body, all of it by the
    /// request's deadline (`TokenClient.collect`). Transport errors are thrown as they come:
    /// each caller says what could not be reached.
    static func get(
        _ url: String, headers: [(String, String)] = [], connectTimeout: TimeAmount, readTimeout: TimeAmount,
        limit: Int
    ) async throws -> (status: UInt, body: Data) {
        try await run(for: url, connectTimeout: connectTimeout, readTimeout: readTimeout) { client in
            var request = HTTPClientRequest(url: url)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "tokvault")
            let deadline = NIODeadline.now() + connectTimeout + readTimeout + TokenClient.deadlineSlack
            let response = try await client.execute(request, deadline: deadline)
            let body = try await TokenClient.collect(response.body, upTo: limit, deadline: deadline)
            return (response.status.code, Data(body.readableBytesView))
        }
    }
}
