import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import TokvaultVault

/// Token endpoint requests (RFC 6749 §4.1.3, §6) over AsyncHTTPClient.
///
/// Rules that keep a token family alive: redirects are never followed; a request is retried
/// only when the server certainly did not process it (no connection, TLS failure, 429, 5xx);
/// after a timeout or a reset once the body may have been sent, a used code or a rotated
/// refresh token is never sent again.
public struct TokenClient: Sendable {
    public struct Options: Sendable {
        public var connectTimeout: TimeAmount = .seconds(10)
        public var readTimeout: TimeAmount = .seconds(30)
        public var maxAttempts = 3
        public var maxResponseBytes = 1 << 20
        /// Longest Retry-After honoured; beyond it the 429 is reported instead.
        public var maxRetryAfter: Int = 30
        public init() {}
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    public enum Grant: Sendable {
        case authorizationCode(code: SecureBytes, verifier: SecureBytes, redirectURI: String)
        case refreshToken(SecureBytes, scope: String)

        var name: String {
            switch self {
            case .authorizationCode: return "authorization_code"
            case .refreshToken: return "refresh_token"
            }
        }
    }

    /// Builds the form body and headers for `grant` (exposed for tests and for `export --curl`).
    public static func requestBody(app: App, grant: Grant, clientSecret: SecureBytes?) throws -> (body: FormBody, basicAuth: SecureBytes?) {
        var form = FormBody()
        form.add("grant_type", grant.name)
        switch grant {
        case let .authorizationCode(code, verifier, redirectURI):
            form.add("code", secret: code)
            form.add("redirect_uri", redirectURI)
            form.add("code_verifier", secret: verifier)
            // Azure wants the scope on the code redemption too.
            form.add("scope", app.scope)
        case let .refreshToken(token, scope):
            form.add("refresh_token", secret: token)
            // Azure v2 requires scope on refresh (AADSTS90014 otherwise).
            form.add("scope", scope)
        }
        var basic: SecureBytes?
        switch app.clientAuth {
        case .none:
            form.add("client_id", app.clientID)
        case .post:
            form.add("client_id", app.clientID)
            guard let clientSecret else { throw missingSecret(app) }
            form.add("client_secret", secret: clientSecret)
        case .basic:
            guard let clientSecret else { throw missingSecret(app) }
            // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
            var pair = Array(FormEncoding.encode(app.clientID).utf8) + [UInt8(ascii: ":")]
            clientSecret.withUnsafeBytes { FormEncoding.encode($0, into: &pair) }
            let secretPair = SecureBytes(consuming: &pair)
            var header = Array(("Basic " + secretPair.withUnsafeBytes { Data($0).base64EncodedString() }).utf8)
            basic = SecureBytes(consuming: &header)
        }
        return (form, basic)
    }

    public static func missingSecret(_ app: App) -> VaultError {
        VaultError.failure("app \"\(app.name)\" is a confidential client but has no client secret",
                           hint: "store it with `tokvault set \(app.name) --secret-prompt`, or mark the app --public")
    }

    /// Sends one grant and returns the tokens. Errors are `VaultError`s with the documented
    /// exit codes (2 login required, 3 unreachable, 1 otherwise).
    public func redeem(_ grant: Grant, app: App, clientSecret: SecureBytes?) async throws -> TokenResponse {
        let endpoint = try AppSpec.validateEndpoint(app.tokenEndpoint, option: "token endpoint")
        let (form, basic) = try Self.requestBody(app: app, grant: grant, clientSecret: clientSecret)
        let body = form.encoded()

        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: options.connectTimeout, read: options.readTimeout),
            proxy: try ProxySettings.forURL(endpoint)?.configuration)
        configuration.httpVersion = .http1Only
        // Connection attempts are retried here, a few times with backoff, not inside the pool
        // (which would keep reconnecting for the whole connect timeout on a refused port).
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await send(body: body, basic: basic, to: endpoint, with: client, app: app, grant: grant)
            try await client.shutdown()
            return response
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func send(body: SecureBytes, basic: SecureBytes?, to endpoint: String, with client: HTTPClient,
                      app: App, grant: Grant) async throws -> TokenResponse {

        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: endpoint)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "tokvault")
            if let basic { request.headers.add(name: "Authorization", value: basic.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }) }
            request.body = .bytes(body.withUnsafeBytes { ByteBuffer(bytes: $0) })

            let response: HTTPClientResponse
            let data: Data
            do {
                response = try await client.execute(request, timeout: options.connectTimeout + options.readTimeout + .seconds(5))
                let buffer = try await response.body.collect(upTo: options.maxResponseBytes)
                data = Data(buffer.readableBytesView)
            } catch {
                if Self.certainlyNotSent(error), attempt < options.maxAttempts {
                    try await Task.sleep(nanoseconds: UInt64(250_000_000) << (attempt - 1))
                    continue
                }
                throw Self.transportError(error, endpoint: endpoint, grant: grant, sent: !Self.certainlyNotSent(error))
            }
            let now = Int64(Date().timeIntervalSince1970)
            let status = Int(response.status.code)
            if status == 200 {
                return try TokenResponseParser.parseSuccess(data, now: now, endpoint: endpoint)
            }
            if status == 429 || (500...599).contains(status), attempt < options.maxAttempts {
                let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }
                if let retryAfter, retryAfter > options.maxRetryAfter {
                    throw TokenErrors.error(status: status, data: data, headers: response.headers, app: app, grant: grant, endpoint: endpoint)
                }
                let delay = retryAfter.map { UInt64($0) * 1_000_000_000 } ?? (UInt64(500_000_000) << (attempt - 1))
                try await Task.sleep(nanoseconds: delay)
                continue
            }
            throw TokenErrors.error(status: status, data: data, headers: response.headers, app: app, grant: grant, endpoint: endpoint)
        }
    }

    /// Errors raised before any byte of the request could have reached the server.
    static func certainlyNotSent(_ error: Error) -> Bool {
        if let error = error as? HTTPClientError {
            return [.connectTimeout, .tlsHandshakeTimeout, .httpProxyHandshakeTimeout, .socksHandshakeTimeout,
                    .getConnectionFromPoolTimeout].contains(error)
        }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError {
            return [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL].contains(error.errnoCode)
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        // TLS handshake failures (NIOSSL) happen before the request is written.
        return String(reflecting: type(of: error)).contains("NIOSSLError")
    }

    static func transportError(_ error: Error, endpoint: String, grant: Grant, sent: Bool) -> VaultError {
        let host = URLComponents(string: endpoint)?.host ?? endpoint
        if !sent {
            return VaultError(exitCode: VaultError.Code.unreachable,
                              "cannot reach the identity provider at \(host): \(describe(error))",
                              hint: "check the network, DNS and HTTPS_PROXY/NO_PROXY; nothing was sent")
        }
        var hint = "the request may have reached the server; it was not sent again"
        if case .refreshToken = grant {
            hint += " (a refresh token is single-use: if this keeps failing, run `tokvault login` again)"
        }
        return VaultError(exitCode: VaultError.Code.unreachable,
                          "no answer from the identity provider at \(host): \(describe(error))", hint: hint)
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .readTimeout: return "timed out waiting for the answer"
            case .connectTimeout: return "connection timed out"
            case .remoteConnectionClosed: return "the connection was closed before an answer"
            case .deadlineExceeded: return "timed out"
            default: return error.shortDescription
            }
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first {
                return "\(describe(first.error)) (\(first.target))"
            }
            return "no address found for the host"
        }
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        return String(describing: error)
    }
}
