import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TokvaultVault

/// Token endpoint requests (RFC 6749 §4.1.3, §6) over AsyncHTTPClient.
///
/// Rules that keep a token family alive: redirects are never followed; a request is sent
/// again only when it certainly did not leave (no connection, DNS, a failed TLS handshake) or
/// the server said it did not process it (429); a 5xx, a timeout or a reset after the request
/// may have been written ends the exchange for an authorization code or a refresh token
/// (`RetryPolicy`). Client credentials and device code polls are retried after a 5xx too.
package struct TokenClient: Sendable {
    package struct Options: Sendable {
        package var connectTimeout: TimeAmount = .seconds(10)
        package var readTimeout: TimeAmount = .seconds(30)
        package var maxAttempts = 3
        package var maxResponseBytes = 1 << 20
        /// Longest Retry-After honoured; beyond it the 429 is reported instead.
        package var maxRetryAfter: Int = 30
        package init() {}
    }

    package var options: Options

    package init(options: Options = Options()) {
        self.options = options
    }

    package enum Grant: Sendable {
        case authorizationCode(code: SecureBytes, verifier: SecureBytes, redirectURI: String)
        case refreshToken(SecureBytes, scope: String)
        /// The app as itself (RFC 6749 §4.4): no user, no refresh token.
        case clientCredentials(scope: String)
        /// RFC 8628 §3.4: polling for a device authorization's tokens.
        case deviceCode(SecureBytes)

        var name: String {
            switch self {
            case .authorizationCode: return "authorization_code"
            case .refreshToken: return "refresh_token"
            case .clientCredentials: return "client_credentials"
            case .deviceCode: return "urn:ietf:params:oauth:grant-type:device_code"
            }
        }
    }

    /// What the client authenticates with: nothing (public client), its secret, or the key of
    /// its certificate (a client assertion is signed per request).
    package enum Credential: Sendable {
        case none
        case secret(SecureBytes)
        case privateKey(SecureBytes)
        /// A federated app's assertion, fetched for this grant (`FederatedAssertion`).
        case federated(FederatedAssertion)

        package init(secret: SecureBytes?) {
            self = secret.map { .secret($0) } ?? .none
        }
    }

    /// Builds the form body and headers for `grant` (exposed for tests and for `export --curl`).
    package static func requestBody(app: App, grant: Grant, clientSecret: SecureBytes?) throws -> (
        body: FormBody, basicAuth: SecureBytes?
    ) {
        try requestBody(app: app, grant: grant, credential: Credential(secret: clientSecret))
    }

    package static func requestBody(
        app: App, grant: Grant, credential: Credential, claims: String? = nil,
        now: Int64 = Int64(Date().timeIntervalSince1970)
    ) throws -> (body: FormBody, basicAuth: SecureBytes?) {
        var form = FormBody()
        form.add("grant_type", grant.name)
        switch grant {
        case .authorizationCode(let code, let verifier, let redirectURI):
            form.add("code", secret: code)
            form.add("redirect_uri", redirectURI)
            form.add("code_verifier", secret: verifier)
            // Azure wants the scope on the code redemption too.
            form.add("scope", app.scope)
        case .refreshToken(let token, let scope):
            form.add("refresh_token", secret: token)
            // Azure v2 requires scope on refresh (AADSTS90014 otherwise).
            form.add("scope", scope)
        case .clientCredentials(let scope):
            form.add("scope", scope)
        case .deviceCode(let code):
            form.add("device_code", secret: code)
        }
        // A claims request (a step-up challenge, client capabilities): JSON text (ClaimsRequest).
        if let claims { form.add("claims", claims) }
        let basic = try addClientAuthentication(
            to: &form, app: app, credential: credential, audience: app.tokenEndpoint, now: now)
        return (form, basic)
    }

    /// Adds the client's authentication to `form` (or returns the Basic header) as its
    /// `client_auth` says. A client assertion's audience is the endpoint it is sent to.
    static func addClientAuthentication(
        to form: inout FormBody, app: App, credential: Credential, audience: String,
        now: Int64
    ) throws -> SecureBytes? {
        switch app.clientAuth {
        case .none:
            form.add("client_id", app.clientID)
        case .post:
            form.add("client_id", app.clientID)
            guard case .secret(let clientSecret) = credential else { throw missingSecret(app) }
            form.add("client_secret", secret: clientSecret)
        case .basic:
            guard case .secret(let clientSecret) = credential else { throw missingSecret(app) }
            // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
            var pair = Array(FormEncoding.encode(app.clientID).utf8) + [UInt8(ascii: ":")]
            clientSecret.withUnsafeBytes { FormEncoding.encode($0, into: &pair) }
            let secretPair = SecureBytes(consuming: &pair)
            var header = Array(("Basic " + secretPair.withUnsafeBytes { Data($0).base64EncodedString() }).utf8)
            return SecureBytes(consuming: &header)
        case .privateKeyJWT:
            guard case .privateKey(let privateKey) = credential, let certificate = app.certificate,
                let algorithm = app.assertionAlg
            else { throw missingSecret(app) }
            let assertion = ClientAssertion(
                clientID: app.clientID, audience: audience,
                certificateDER: [UInt8](certificate), algorithm: algorithm)
            form.add("client_id", app.clientID)
            form.add("client_assertion_type", ClientAssertion.type)
            form.add("client_assertion", secret: try assertion.signed(with: privateKey, now: now))
        case .federatedAssertion:
            guard case .federated(let assertion) = credential else { throw missingSecret(app) }
            form.add("client_id", app.clientID)
            form.add("client_assertion_type", ClientAssertion.type)
            form.add("client_assertion", secret: assertion.token)
        }
        return nil
    }

    package static func missingSecret(_ app: App) -> FlowError {
        if app.usesFederatedCredential {
            return FlowError.failure(
                "app \"\(app.name)\" authenticates with a federated credential, but no assertion was obtained",
                hint: "check it with `\(.showApp(app.name))`")
        }
        if app.usesCertificate {
            return FlowError.failure(
                "app \"\(app.name)\" authenticates with a certificate but its private key is missing",
                hint: "store it with `\(.changeApp(app.name, .certificate))`")
        }
        return FlowError.failure(
            "app \"\(app.name)\" is a confidential client but has no client secret",
            hint:
                "store it with `\(.changeApp(app.name, .secret))`, or make the app a public client (`\(.changeApp(app.name, .publicClient))`)"
        )
    }

    /// Sends one grant and returns the tokens. Errors are `FlowError`s with the documented
    /// exit codes (2 login required, 3 unreachable, 1 otherwise).
    package func redeem(_ grant: Grant, app: App, clientSecret: SecureBytes?) async throws -> TokenResponse {
        try await redeem(grant, app: app, credential: Credential(secret: clientSecret))
    }

    /// Sends one grant. OAuth errors named in `passing` are thrown as `OAuthRefusal` instead of
    /// a `FlowError` (the device flow's `authorization_pending` and `slow_down`).
    package func redeem(
        _ grant: Grant, app: App, credential: Credential, claims: String? = nil, passing: Set<String> = []
    ) async throws -> TokenResponse {
        let endpoint = try EndpointRules.validateEndpoint(app.tokenEndpoint, option: "token endpoint")
        let data: Data
        do {
            data = try await post(to: endpoint, app: app, grant: grant, passing: passing) {
                // Built per attempt: a client assertion's jti must not be sent twice.
                let (form, basic) = try Self.requestBody(
                    app: app, grant: grant, credential: credential, claims: claims)
                return (form.encoded(), basic)
            }
        } catch let error as FlowError {
            // No federated credential matched: the hint quotes what the assertion sent claims.
            if case .federated(let assertion) = credential,
                let code = error.refusal?.code, TokenErrors.federatedRecordCodes.contains(code)
            {
                throw FlowError(
                    error.kind, error.message,
                    hint: TokenErrors.federatedRecordHint(app: app, presented: assertion.claims),
                    refusal: error.refusal)
            }
            throw error
        }
        return try TokenResponseParser.parseSuccess(data, now: Int64(Date().timeIntervalSince1970), endpoint: endpoint)
    }

    /// POSTs a form built by `makeBody` (once per attempt) and returns a 200 answer's body.
    func post(
        to endpoint: String, app: App, grant: Grant, passing: Set<String>,
        makeBody: () throws -> (SecureBytes, SecureBytes?)
    ) async throws -> Data {
        try await HTTPSession.run(
            for: endpoint, connectTimeout: options.connectTimeout, readTimeout: options.readTimeout
        ) { client in
            try await send(makeBody: makeBody, to: endpoint, with: client, app: app, grant: grant, passing: passing)
        }
    }

    /// Added to the connect and read timeouts for one attempt's deadline (head and body).
    static let deadlineSlack: TimeAmount = .seconds(5)

    private func send(
        makeBody: () throws -> (SecureBytes, SecureBytes?), to endpoint: String, with client: HTTPClient,
        app: App, grant: Grant, passing: Set<String>
    ) async throws -> Data {

        var attempt = 0
        while true {
            attempt += 1
            let (body, basic) = try makeBody()
            var request = HTTPClientRequest(url: endpoint)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "tokvault")
            if let basic {
                request.headers.add(
                    name: "Authorization", value: basic.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
            }
            request.body = .bytes(body.withUnsafeBytes { ByteBuffer(bytes: $0) })

            let response: HTTPClientResponse
            let data: Data
            do {
                let deadline = NIODeadline.now() + options.connectTimeout + options.readTimeout + Self.deadlineSlack
                response = try await client.execute(request, deadline: deadline)
                let buffer = try await Self.collect(response.body, upTo: options.maxResponseBytes, deadline: deadline)
                data = Data(buffer.readableBytesView)
            } catch {
                let notSent = Self.certainlyNotSent(error)
                switch RetryPolicy.decide(
                    transportFailureNotSent: notSent, attempt: attempt, maxAttempts: options.maxAttempts)
                {
                case .retry(let milliseconds):
                    try await Task.sleep(nanoseconds: UInt64(milliseconds) * 1_000_000)
                    continue
                case .stop:
                    throw Self.transportError(error, endpoint: endpoint, grant: grant, app: app, sent: !notSent)
                }
            }
            switch Self.outcome(
                status: Int(response.status.code), headers: response.headers, body: data, grant: grant,
                attempt: attempt, app: app, endpoint: endpoint, passing: passing, options: options,
                now: Int64(Date().timeIntervalSince1970))
            {
            case .success(let data):
                return data
            case .retry(let milliseconds):
                try await Task.sleep(nanoseconds: UInt64(milliseconds) * 1_000_000)
            case .failure(let error):
                throw error
            }
        }
    }

    /// What one answer means: the body of a 200, another attempt after a wait, or the error
    /// to report. Pure (no I/O), so that the fuzzer and the tests reach every branch.
    enum AttemptOutcome {
        case success(Data)
        case retry(afterMilliseconds: Int64)
        case failure(Error)
    }

    static func outcome(
        status: Int, headers: HTTPHeaders, body: Data, grant: Grant, attempt: Int, app: App,
        endpoint: String, passing: Set<String>, options: Options, now: Int64
    ) -> AttemptOutcome {
        if status == 200 { return .success(body) }
        if !passing.isEmpty, (400...499).contains(status),
            let refusal = try? JSONDecoder().decode(OAuthErrorBody.self, from: body), passing.contains(refusal.error)
        {
            return .failure(OAuthRefusal(body: refusal))
        }
        let decision = RetryPolicy.decide(
            status: status, singleUseGrant: grant.isSingleUse, attempt: attempt,
            retryAfter: headers.first(name: "Retry-After"), now: now,
            maxAttempts: options.maxAttempts, maxRetryAfter: options.maxRetryAfter)
        switch decision {
        case .retry(let milliseconds):
            return .retry(afterMilliseconds: milliseconds)
        case .stop(let reason):
            return .failure(
                TokenErrors.stopped(
                    reason, status: status, data: body, headers: headers, app: app, grant: grant,
                    endpoint: endpoint, attempts: attempt, maxRetryAfter: options.maxRetryAfter))
        }
    }

    /// The whole body by `deadline`. AsyncHTTPClient's deadline ends with the response head and
    /// its read timeout restarts with every byte, so a server trickling the body one byte at a
    /// time would otherwise hold the command for as long as it likes.
    static func collect(_ body: HTTPClientResponse.Body, upTo limit: Int, deadline: NIODeadline) async throws
        -> ByteBuffer
    {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                let now = NIODeadline.now()
                if deadline > now { try await Task.sleep(nanoseconds: UInt64((deadline - now).nanoseconds)) }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else { throw HTTPClientError.deadlineExceeded }
            return buffer
        }
    }

    /// An OAuth error answer the caller asked to handle itself.
    package struct OAuthRefusal: Error, Sendable {
        package var body: OAuthErrorBody
    }

    /// Errors raised before any byte of the request could have been written. The connection
    /// pool hands a request to a connection only once it is established (TCP, the proxy's
    /// CONNECT, the TLS handshake), and with `retryConnectionEstablishment` off it fails the
    /// request with the establishment's own error; every error that can come later (a reset,
    /// a timeout, a TLS alert or an unclean shutdown after the handshake) counts as sent.
    static func certainlyNotSent(_ error: Error) -> Bool {
        if let error = error as? HTTPClientError {
            return [
                .connectTimeout, .tlsHandshakeTimeout, .httpProxyHandshakeTimeout, .socksHandshakeTimeout,
                .getConnectionFromPoolTimeout
            ].contains(error)
        }
        // Name resolution and connect(2) (NIOPosix's happy-eyeballs connector).
        if error is NIOConnectionError { return true }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        // connect(2) alone reports these; on a connected socket they cannot happen.
        if let error = error as? IOError {
            return [ECONNREFUSED, EADDRNOTAVAIL].contains(error.errnoCode)
        }
        // NIOSSL reports a failed handshake as `handshakeFailed` (the server's alert, a bad
        // certificate, plain HTTP on the port) and certificate checks during the handshake as
        // the cases below; after the handshake it reports `BoringSSLError`s and
        // `uncleanShutdown` and the like, which therefore count as sent.
        if let error = error as? NIOSSLError {
            switch error {
            case .handshakeFailed, .noCertificateToValidate, .unableToValidateCertificate, .cannotMatchULabel,
                .cannotFindPeerIP:
                return true
            default:
                return false
            }
        }
        if let error = error as? NIOSSLExtraError {
            return [
                .failedToValidateHostname, .serverHostnameImpossibleToMatch, .cannotUseIPAddressInSNI,
                .invalidSNIHostname
            ].contains(error)
        }
        return false
    }

    /// The hint's sentence about a single-use grant that may have reached the server.
    static func mayHaveBeenUsed(_ grant: Grant, app: App) -> Guidance? {
        switch grant {
        case .refreshToken:
            return
                "the refresh token is single-use and may have been used, so it was not sent again; try again later, and if `\(.getToken(app.name))` then says a login is required, run `\(.signIn(app.name, .plain))`"
        case .authorizationCode:
            return
                "the authorization code is single-use and may have been used, so it was not sent again; run `\(.signIn(app.name, .plain))` again"
        case .clientCredentials, .deviceCode:
            return nil
        }
    }

    static func transportError(_ error: Error, endpoint: String, grant: Grant, app: App, sent: Bool) -> FlowError {
        let host = URLComponents(string: endpoint)?.host ?? endpoint
        if !sent {
            return FlowError(
                .unreachable,
                "cannot reach the identity provider at \(host): \(describe(error))",
                hint: "check the network, DNS and HTTPS_PROXY/NO_PROXY; nothing was sent")
        }
        var hint: Guidance = "the request may have reached the server; it was not sent again"
        if let used = mayHaveBeenUsed(grant, app: app) { hint += " (\(used))" }
        return FlowError(
            .unreachable,
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
        if error is NIOTooManyBytesError {
            return "the answer is larger than the 1 MiB tokvault accepts"
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
