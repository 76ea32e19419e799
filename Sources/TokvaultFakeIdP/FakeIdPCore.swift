// The protocol state machine of the fake identity provider, independent of the network layer:
// it turns one complete HTTP request into one action (answer, answer later, or reset).
// All state sits behind one lock; every request is handled atomically.

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
                ("Pragma", "no-cache"),
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

final class FakeIdPCore: @unchecked Sendable {
    let config: FakeIdPConfiguration
    private let lock = NSLock()

    // Guarded by `lock`.
    private var port = 0
    private var clockOffset: Double = 0
    private var faults: [FakeFault] = []
    private var pendingDenial: (error: String, description: String)?
    private var stats = FakeIdPStats()
    private var codes: [String: CodeRecord] = [:]
    private var refreshTokens: [String: RefreshRecord] = [:]
    private var accessTokens: [String: AccessRecord] = [:]
    private var families: [Int: FamilyRecord] = [:]
    private var nextFamily = 1
    private var devices = DeviceAuthorizationStore()
    /// `jti` values of the client assertions each client has authenticated with (kept for the
    /// provider's life: a reused assertion is refused even after it expired).
    private var usedAssertionIDs: [String: Set<String>] = [:]
    /// Parsed once from `FakeClient.certificatePEMs`, by client id. Immutable.
    private let certificates: [String: [RegisteredCertificate]]

    private struct CodeRecord {
        var clientID: String
        var redirectURI: String
        var challenge: String
        var scope: String
        var nonce: String?
        var issuedAt: Double
        var used = false
        var family: Int?
    }

    private struct RefreshRecord {
        var clientID: String
        var scope: String
        var family: Int
        var expiresAt: Double
        var used = false
    }

    private struct AccessRecord {
        var clientID: String
        /// nil for an app-only token (client_credentials).
        var userOID: String?
        var scope: String
        var family: Int
        var expiresAt: Double
        var revoked = false
    }

    private struct FamilyRecord {
        var revoked = false
        var accessTokens: [String] = []
    }

    init(_ config: FakeIdPConfiguration) {
        self.config = config
        var certificates: [String: [RegisteredCertificate]] = [:]
        for client in config.clients {
            certificates[client.clientID, default: []] += client.certificatePEMs.flatMap {
                RegisteredCertificate.parseAll(pem: $0)
            }
        }
        self.certificates = certificates
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: - Control from Swift

    func setPort(_ port: Int) { locked { self.port = port } }

    var baseURL: String { locked { "http://127.0.0.1:\(port)" } }

    func inject(_ fault: FakeFault, times: Int) {
        locked {
            for _ in 0..<max(0, times) { faults.append(fault) }
            stats.pendingFaults = faults.count
        }
    }

    func clearFaults() {
        locked {
            faults.removeAll()
            stats.pendingFaults = 0
        }
    }

    func denyNextAuthorization(error: String, description: String) {
        locked { pendingDenial = (error, description) }
    }

    var statsSnapshot: FakeIdPStats { locked { stats } }

    func resetStats() {
        locked {
            stats = FakeIdPStats()
            stats.pendingFaults = faults.count
        }
    }

    func advanceClock(seconds: Double) { locked { clockOffset += seconds } }

    func expireAllAccessTokens() {
        locked {
            let past = now() - 1
            for key in accessTokens.keys { accessTokens[key]!.expiresAt = min(accessTokens[key]!.expiresAt, past) }
        }
    }

    func accessTokenInfo(_ token: String) -> FakeAccessTokenInfo? {
        locked {
            guard let record = accessTokens[token] else { return nil }
            return info(record)
        }
    }

    private func info(_ record: AccessRecord) -> FakeAccessTokenInfo {
        let revoked = record.revoked || families[record.family]?.revoked == true
        return FakeAccessTokenInfo(
            clientID: record.clientID, userOID: record.userOID, scope: record.scope, expiresAt: record.expiresAt,
            revoked: revoked, isValid: !revoked && record.expiresAt > now())
    }

    // MARK: - Device authorizations from Swift

    func decideDevices(userCode: String?, approve: Bool) -> Int {
        locked { decideDevicesLocked(userCode: userCode, approve: approve) }
    }

    /// `.never` means the user never acts, so approvals and refusals are ignored.
    private func decideDevicesLocked(userCode: String?, approve: Bool) -> Int {
        guard config.deviceApproval != .never else { return 0 }
        let state: DeviceAuthorization.State = approve ? .approved : .declined
        return devices.decide(userCode: userCode, state, now: now())
    }

    var pendingDeviceUserCodes: [String] { locked { devices.pendingUserCodes(now: now()) } }

    /// Current time on the fake's clock (wall clock plus `advanceClock` offsets). Lock held.
    private func now() -> Double { Date().timeIntervalSince1970 + clockOffset }

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
            guard tenantIsValid(segments[0]) else { return .respond(discoveryTenantError(request, segments[0])) }
            return .respond(.json(200, .object([("keys", .array([]))])))
        }
        return .respond(notFound(path))
    }

    private func notFound(_ path: Substring) -> FakeResponse {
        stats.notFound += 1
        append(&stats.notFoundPaths, String(path.prefix(200)), cap: 1000)
        return .text(404, "Not Found\n")
    }

    private func append<T>(_ array: inout [T], _ element: T, cap: Int) {
        if array.count >= cap { array.removeFirst(array.count - cap + 1) }
        array.append(element)
    }

    private func tenantIsValid(_ tenant: String) -> Bool {
        let t = tenant.lowercased()
        return t == config.tenant.lowercased() || t == "organizations" || t == "common"
    }

    private var baseURLLocked: String { "http://127.0.0.1:\(port)" }

    // MARK: - Azure-shaped errors

    /// The JSON error body of the Microsoft identity platform (error, AADSTS-prefixed description with
    /// trace/correlation/timestamp lines, error_codes, timestamp, trace_id, correlation_id, error_uri).
    private func azureError(
        _ status: Int, _ error: String, _ code: Int, _ text: String, _ request: FakeRequest,
        extraHeaders: [(String, String)] = []
    ) -> FakeResponse {
        let trace = randomGUID()
        let correlation = request.header("client-request-id").flatMap { UUID(uuidString: $0) }?.uuidString.lowercased()
            ?? randomGUID()
        let timestamp = azureTimestamp(now())
        let description =
            "AADSTS\(code): \(text)\r\nTrace ID: \(trace)\r\nCorrelation ID: \(correlation)\r\nTimestamp: \(timestamp)"
        let body = JSON.object([
            ("error", .string(error)),
            ("error_description", .string(description)),
            ("error_codes", .array([.int(code)])),
            ("timestamp", .string(timestamp)),
            ("trace_id", .string(trace)),
            ("correlation_id", .string(correlation)),
            ("error_uri", .string("https://login.microsoftonline.com/error?code=\(code)")),
        ])
        return .json(
            status, body,
            extra: [("x-ms-request-id", trace), ("client-request-id", correlation)] + extraHeaders)
    }

    /// The sign-in error page Azure shows instead of redirecting (unknown app, bad redirect URI, ...).
    private func errorPage(_ code: Int, _ text: String) -> FakeResponse {
        let trace = randomGUID()
        let html = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>Sign in to your account</title></head>
            <body><div id="error"><h1>Sorry, but we\u{2019}re having trouble signing you in.</h1>
            <p>AADSTS\(code): \(htmlEscape(text))</p>
            <p>Request Id: \(trace)<br>Correlation Id: \(randomGUID())<br>Timestamp: \(azureTimestamp(now()))</p>
            </div></body></html>

            """
        return FakeResponse(
            status: 400,
            headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store, no-cache"),
                ("x-ms-request-id", trace)],
            body: Array(html.utf8))
    }

    // MARK: - Authorize

    private func authorize(_ request: FakeRequest, tenant: String) -> FakeResponse {
        stats.authorizeRequests += 1
        var record = FakeAuthorizeRecord(outcome: "")
        func page(_ code: Int, _ text: String) -> FakeResponse {
            record.outcome = "page:\(code)"
            append(&stats.authorizeLog, record, cap: 10_000)
            return errorPage(code, text)
        }

        let source: Substring
        switch request.method {
        case "GET": source = request.query
        case "POST": source = Substring(String(decoding: request.body, as: UTF8.self))
        default:
            return page(900561, "The endpoint only accepts GET, POST requests. Received a \(request.method) request.")
        }
        let p: [String: String]
        do {
            p = try parseForm(source)
        } catch .duplicate(let name) {
            return page(9002313, "Invalid request. Request is malformed or invalid. Parameter '\(name)' is duplicated.")
        } catch {
            return page(9002313, "Invalid request. Request is malformed or invalid.")
        }
        record.clientID = p["client_id"]
        record.redirectURI = p["redirect_uri"]
        record.responseMode = p["response_mode"]
        record.scope = p["scope"]
        record.state = p["state"]
        record.prompt = p["prompt"]
        record.loginHint = p["login_hint"]
        record.nonce = p["nonce"]
        record.codeChallengeMethod = p["code_challenge_method"]

        guard tenantIsValid(tenant) else {
            return page(
                90002,
                "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            )
        }
        guard let clientID = p["client_id"], !clientID.isEmpty else {
            return page(900144, "The request body must contain the following parameter: 'client_id'.")
        }
        guard let client = config.clients.first(where: { $0.clientID == clientID }) else {
            return page(
                700016,
                "Application with identifier '\(clientID)' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            )
        }
        guard let redirectURI = p["redirect_uri"], !redirectURI.isEmpty else {
            return page(900144, "The request body must contain the following parameter: 'redirect_uri'.")
        }
        guard client.redirectURIs.contains(where: { redirectMatches(sent: redirectURI, registered: $0) }) else {
            return page(
                50011,
                "The redirect URI '\(redirectURI)' specified in the request does not match the redirect URIs configured for the application '\(clientID)'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
            )
        }

        // From here on errors go back to the application through the redirect URI.
        let state = p["state"]
        var mode = p["response_mode"] ?? "query"
        func deliver(_ params: [(String, String)]) -> FakeResponse {
            var params = params
            if let state { params.append(("state", state)) }
            return respond(to: redirectURI, mode: mode, params)
        }
        func fail(_ error: String, _ code: Int, _ text: String) -> FakeResponse {
            record.outcome = "error:\(error)"
            append(&stats.authorizeLog, record, cap: 10_000)
            let trace = randomGUID()
            let description =
                "AADSTS\(code): \(text)\r\nTrace ID: \(trace)\r\nCorrelation ID: \(randomGUID())\r\nTimestamp: \(azureTimestamp(now()))"
            return deliver([("error", error), ("error_description", description)])
        }

        guard ["query", "fragment", "form_post"].contains(mode) else {
            mode = "query"
            return fail("invalid_request", 90100, "response_mode parameter is empty or not valid.")
        }
        guard let responseType = p["response_type"], !responseType.isEmpty else {
            return fail("invalid_request", 900144, "The request body must contain the following parameter: 'response_type'.")
        }
        guard responseType == "code" else {
            return fail("unsupported_response_type", 700054, "response_type '\(responseType)' is not enabled for the application.")
        }
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return fail("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        }
        guard let challenge = p["code_challenge"], !challenge.isEmpty else {
            return fail(
                "invalid_request", 900144,
                "The request body must contain the following parameter: 'code_challenge'. Proof Key for Code Exchange is required by this application.")
        }
        guard p["code_challenge_method"] == "S256" else {
            return fail(
                "invalid_request", 90100,
                "code_challenge_method parameter is empty or not valid. Only 'S256' is accepted.")
        }
        guard challenge.utf8.count == 43, challenge.utf8.allSatisfy(isBase64URLByte) else {
            return fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        }
        if let denial = pendingDenial {
            pendingDenial = nil
            record.outcome = "error:\(denial.error)"
            append(&stats.authorizeLog, record, cap: 10_000)
            return deliver([("error", denial.error), ("error_description", denial.description)])
        }

        let code = "fake-ac-" + base64URL(randomBytes(48))
        codes[code] = CodeRecord(
            clientID: clientID, redirectURI: redirectURI, challenge: challenge, scope: scope, nonce: p["nonce"],
            issuedAt: now())
        stats.codesIssued += 1
        record.outcome = "code"
        append(&stats.authorizeLog, record, cap: 10_000)
        return deliver([("code", code)])
    }

    private func isBase64URLByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2d || b == 0x5f
    }

    /// 302 to `redirect_uri` exactly as sent plus the parameters (query or fragment), or the
    /// self-submitting form of response_mode=form_post.
    private func respond(to redirectURI: String, mode: String, _ params: [(String, String)]) -> FakeResponse {
        if mode == "form_post" {
            var inputs = ""
            for (name, value) in params {
                inputs += "<input type=\"hidden\" name=\"\(htmlEscape(name))\" value=\"\(htmlEscape(value))\" />"
            }
            let html = """
                <html><head><title>Working...</title></head><body>\
                <form method="POST" action="\(htmlEscape(redirectURI))">\(inputs)\
                <noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript>\
                </form><script language="javascript">window.setTimeout(function(){document.forms[0].submit()},0);</script>\
                </body></html>

                """
            return FakeResponse(
                status: 200,
                headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store, no-cache")],
                body: Array(html.utf8))
        }
        let encoded = formEncode(params)
        let location: String
        if mode == "fragment" {
            location = redirectURI + (redirectURI.contains("#") ? "&" : "#") + encoded
        } else if let hash = redirectURI.firstIndex(of: "#") {
            let base = redirectURI[..<hash]
            location = base + (base.contains("?") ? "&" : "?") + encoded + redirectURI[hash...]
        } else {
            location = redirectURI + (redirectURI.contains("?") ? "&" : "?") + encoded
        }
        return FakeResponse(status: 302, headers: [("Location", location), ("Cache-Control", "no-store, no-cache")])
    }

    // MARK: - Token

    private func token(_ request: FakeRequest, tenant: String, delayedFault: String?) -> FakeAction {
        let contentType = request.header("content-type")?.lowercased() ?? ""
        let isForm = contentType.hasPrefix("application/x-www-form-urlencoded")
        var parseError: FormDecodeError?
        var p: [String: String] = [:]
        if isForm {
            do { p = try parseForm(Substring(String(decoding: request.body, as: UTF8.self))) } catch { parseError = error }
        }
        let basic = request.header("authorization").flatMap(parseBasic)
        let hasBasicHeader = request.header("authorization")?.lowercased().hasPrefix("basic") == true
        let hasAssertion = p["client_assertion"] != nil || p["client_assertion_type"] != nil
        let clientAuth: FakeClientAuth =
            switch (p["client_secret"] != nil, hasBasicHeader, hasAssertion) {
            case (false, false, false): .none
            case (true, false, false): .post
            case (false, true, false): .basic
            case (false, false, true): .assertion
            default: .both
            }
        var record = FakeTokenRequestRecord(
            grantType: p["grant_type"], clientID: p["client_id"] ?? basic?.id, clientAuth: clientAuth,
            scopeSent: p["scope"] != nil, scope: p["scope"], status: 0, error: nil, aadsts: nil, fault: delayedFault)

        if delayedFault == nil {
            stats.tokenRequests[p["grant_type"] ?? "", default: 0] += 1
            if !faults.isEmpty {
                let fault = faults.removeFirst()
                stats.pendingFaults = faults.count
                stats.faultsApplied += 1
                record.fault = fault.label
                let response: FakeResponse
                switch fault {
                case .slow(let ms):
                    return .delay(milliseconds: max(0, ms), request)
                case .connectionReset:
                    append(&stats.tokenLog, record, cap: 10_000)
                    return .reset
                case .emptyBody400:
                    response = FakeResponse(status: 400)
                case .html502:
                    response = .text(
                        502,
                        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
                        type: "text/html")
                case .tooManyRequests(let retryAfter):
                    response = azureError(
                        429, "temporarily_unavailable", 90055,
                        "The request was throttled: too many requests. Retry after \(retryAfter) seconds.", request,
                        extraHeaders: [("Retry-After", String(retryAfter))])
                    record.error = "temporarily_unavailable"
                    record.aadsts = 90055
                case .oauthError(let status, let error, let code, let description):
                    response = azureError(status, error, code, description, request)
                    record.error = error
                    record.aadsts = code
                }
                record.status = response.status
                append(&stats.tokenLog, record, cap: 10_000)
                return .respond(response)
            }
        }

        var outcome: (error: String, code: Int)?
        func error(_ status: Int, _ error: String, _ code: Int, _ text: String) -> FakeResponse {
            outcome = (error, code)
            return azureError(status, error, code, text, request)
        }
        let response = tokenResponse(
            request, tenant: tenant, p, isForm: isForm, parseError: parseError, basic: basic,
            hasBasicHeader: hasBasicHeader, error: error)
        record.status = response.status
        record.error = outcome?.error
        record.aadsts = outcome?.code
        append(&stats.tokenLog, record, cap: 10_000)
        return .respond(response)
    }

    /// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
    private func parseBasic(_ header: String) -> (id: String, secret: String)? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
            let id = try? formDecode(text[..<colon]), let secret = try? formDecode(text[text.index(after: colon)...])
        else { return nil }
        return (id, secret)
    }

    private func tokenResponse(
        _ request: FakeRequest, tenant: String, _ p: [String: String], isForm: Bool, parseError: FormDecodeError?,
        basic: (id: String, secret: String)?, hasBasicHeader: Bool,
        error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard request.method == "POST" else {
            return error(400, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a \(request.method) request.")
        }
        if let parseError {
            if case .duplicate(let name) = parseError {
                return error(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid. Parameter '\(name)' is duplicated.")
            }
            return error(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
        }
        guard tenantIsValid(tenant) else {
            return error(
                400, "invalid_request", 90002,
                "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
        }
        guard let grantType = p["grant_type"], !grantType.isEmpty else {
            return error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        }

        // Client authentication.
        if hasBasicHeader && basic == nil {
            return error(401, "invalid_client", 7000215, "Invalid client secret provided. The Authorization header is malformed.")
        }
        if basic != nil && p["client_secret"] != nil {
            return error(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid. Client authentication was sent both in the body and in the Authorization header.")
        }
        let assertionSent = p["client_assertion"] != nil || p["client_assertion_type"] != nil
        if assertionSent && (basic != nil || p["client_secret"] != nil) {
            return error(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid. A client secret and a client assertion were both sent; send exactly one client credential.")
        }
        if let basic, let bodyID = p["client_id"], bodyID != basic.id {
            return error(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid. The client_id in the body does not match the Authorization header.")
        }
        func reject(_ rejection: AssertionRejection) -> FakeResponse {
            stats.assertionsRejected[rejection.reason, default: 0] += 1
            return error(rejection.status, rejection.error, rejection.code, rejection.text)
        }
        var assertion: DecodedAssertion?
        if assertionSent {
            guard let type = p["client_assertion_type"], !type.isEmpty else {
                return reject(AssertionRejection(
                    status: 400, error: "invalid_request", code: 900144,
                    text: "The request body must contain the following parameter: 'client_assertion_type'.",
                    reason: "assertion_type"))
            }
            guard type == jwtBearerAssertionType else {
                return reject(AssertionRejection(
                    status: 400, error: "invalid_request", code: 9002313,
                    text: "Invalid request. Request is malformed or invalid. client_assertion_type must be '\(jwtBearerAssertionType)'.",
                    reason: "assertion_type"))
            }
            guard let jwt = p["client_assertion"], !jwt.isEmpty else {
                return reject(AssertionRejection(
                    status: 400, error: "invalid_request", code: 900144,
                    text: "The request body must contain the following parameter: 'client_assertion'.",
                    reason: "malformed"))
            }
            let (header, decoded) = ClientAssertionVerifier.decode(jwt)
            if let header { stats.lastAssertionHeader = header }
            switch decoded {
            case .success(let value): assertion = value
            case .failure(let rejection): return reject(rejection)
            }
        }
        // RFC 7523 §3: with an assertion the client may be named by its iss/sub alone.
        guard let clientID = p["client_id"] ?? basic?.id ?? assertion?.claimedClientID, !clientID.isEmpty else {
            return error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
        }
        guard let client = config.clients.first(where: { $0.clientID == clientID }) else {
            return error(
                400, "unauthorized_client", 700016,
                "Application with identifier '\(clientID)' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
        }
        let presentedSecret = p["client_secret"] ?? basic?.secret
        if client.isPublic && (presentedSecret != nil || assertionSent) {
            return error(401, "invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
        }
        var authenticated = false
        if let assertion {
            let audience = baseURLLocked + request.path
            switch ClientAssertionVerifier.verify(
                assertion, clientID: client.clientID, audience: audience,
                certificates: certificates[client.clientID] ?? [], now: now())
            {
            case .failure(let rejection):
                return reject(rejection)
            case .success(let jti):
                guard usedAssertionIDs[client.clientID, default: []].insert(jti).inserted else {
                    return reject(.replayed(jti: jti, clientID: client.clientID))
                }
                stats.assertionsAccepted += 1
                authenticated = true
            }
        } else if let presentedSecret, !presentedSecret.isEmpty {
            guard let expected = client.clientSecret, constantTimeEqual(presentedSecret, expected) else {
                return error(
                    401, "invalid_client", 7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientID)'.")
            }
            authenticated = true
        }
        // Azure's "Allow public client flows" exempts only the device code grant; client_credentials
        // always needs a credential (a public client gets the same answer: it has none to send).
        let credentialRequired =
            switch grantType {
            case "client_credentials": true
            case deviceCodeGrantType: !client.isPublic && !client.allowPublicClientFlows
            default: !client.isPublic
            }
        if credentialRequired && !authenticated {
            return error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        }

        switch grantType {
        case "authorization_code":
            return redeemCode(p, client: client, error: error)
        case "refresh_token":
            return redeemRefreshToken(p, client: client, error: error)
        case "client_credentials":
            return clientCredentials(p, client: client, error: error)
        case deviceCodeGrantType:
            return pollDeviceCode(p, client: client, error: error)
        default:
            return error(
                400, "unsupported_grant_type", 70003,
                "The app requested an unsupported grant type '\(grantType)'.")
        }
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    private func redeemCode(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard let code = p["code"], !code.isEmpty else {
            return error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
        }
        guard var record = codes[code] else {
            return error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        }
        if record.used {
            stats.codeReuseDetections += 1
            if let family = record.family { revokeFamily(family) }
            return error(
                400, "invalid_grant", 54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
        }
        guard record.clientID == client.clientID else {
            return error(400, "invalid_grant", 70000, "Provided grant is invalid or malformed. The code was issued to another client.")
        }
        guard now() < record.issuedAt + Double(config.codeLifetime) else {
            return error(
                400, "invalid_grant", 70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
        }
        guard let redirectURI = p["redirect_uri"], redirectURI == record.redirectURI else {
            // Azure answers a mismatch with AADSTS50011 ("...does not match the reply address ... provided
            // when requesting Authorization code"); the fake uses error=invalid_grant for it.
            return error(
                400, "invalid_grant", 50011,
                "The redirect URI '\(p["redirect_uri"] ?? "")' specified in the request does not match the redirect URI '\(record.redirectURI)' provided when requesting Authorization code.")
        }
        guard let verifier = p["code_verifier"], !verifier.isEmpty else {
            return error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'code_verifier'.")
        }
        guard FakePKCE.s256Challenge(for: verifier) == record.challenge else {
            return error(
                400, "invalid_grant", 501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
        }

        let family = nextFamily
        nextFamily += 1
        families[family] = FamilyRecord()
        record.used = true
        record.family = family
        codes[code] = record
        let scopes = Set(record.scope.split(separator: " ").map { $0.lowercased() })
        let withRefresh = scopes.contains("offline_access") || config.issueRefreshTokenWithoutOfflineAccess
        return issue(client: client, scope: record.scope, family: family, refresh: withRefresh, nonce: record.nonce)
    }

    private func redeemRefreshToken(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard let token = p["refresh_token"], !token.isEmpty else {
            return error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'refresh_token'.")
        }
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return error(
                400, "invalid_request", 90014,
                "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request.")
        }
        guard var record = refreshTokens[token] else {
            return error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        }
        guard record.clientID == client.clientID else {
            return error(400, "invalid_grant", 70000, "Provided grant is invalid or malformed. The refresh token was issued to another client.")
        }
        if families[record.family]?.revoked == true {
            return error(
                400, "invalid_grant", 50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
        }
        if record.used {
            stats.reuseDetections += 1
            revokeFamily(record.family)
            return error(
                400, "invalid_grant", 70000,
                "Provided grant is invalid or malformed. The refresh token was already used; every token of its family has been revoked.")
        }
        guard now() < record.expiresAt else {
            return error(
                400, "invalid_grant", 700082,
                "The refresh token has expired due to inactivity. The token was issued on \(azureTimestamp(record.expiresAt - Double(config.refreshTokenLifetime))) and was inactive for \(config.refreshTokenLifetime / 86400) days.")
        }
        record.used = true
        refreshTokens[token] = record
        stats.refreshRotations += 1
        return issue(client: client, scope: scope, family: record.family, refresh: true, nonce: nil)
    }

    /// The client credentials grant: an app-only access token for one resource's `/.default`
    /// scope; no refresh token, no id_token, and (like Azure) no `scope` in the answer.
    private func clientCredentials(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return error(
                400, "invalid_request", 90014,
                "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request.")
        }
        let scopes = scope.split(separator: " ")
        if let bad = scopes.first(where: { !$0.hasSuffix("/.default") || $0.count <= "/.default".count }) {
            return error(
                400, "invalid_scope", 1002012,
                "The provided value for scope \(bad) is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
        }
        // Azure issues a token for a single resource; AADSTS70011 is its generic invalid-scope answer.
        guard scopes.count == 1 else {
            return error(
                400, "invalid_scope", 70011,
                "The provided value for the input parameter 'scope' is not valid. The scope '\(scope)' names more than one resource.")
        }
        let family = nextFamily
        nextFamily += 1
        families[family] = FamilyRecord()
        let accessToken = "fake-at-" + base64URL(randomBytes(32))
        accessTokens[accessToken] = AccessRecord(
            clientID: client.clientID, userOID: nil, scope: String(scopes[0]), family: family,
            expiresAt: now() + Double(config.accessTokenLifetime))
        families[family]?.accessTokens.append(accessToken)
        stats.tokensIssued += 1
        return .json(200, .object([
            ("token_type", .string("Bearer")),
            ("expires_in", .int(config.accessTokenLifetime)),
            ("ext_expires_in", .int(config.accessTokenLifetime)),
            ("access_token", .string(accessToken)),
        ]))
    }

    // MARK: - Device authorization grant

    /// POST /{tenant}/oauth2/v2.0/devicecode. Azure hands out codes to any registered client; whether
    /// the client may poll without credentials is decided at the token endpoint.
    private func deviceCode(_ request: FakeRequest, tenant: String) -> FakeResponse {
        guard request.method == "POST" else {
            return azureError(
                400, "invalid_request", 900561,
                "The endpoint only accepts POST, OPTIONS requests. Received a \(request.method) request.", request)
        }
        var p: [String: String] = [:]
        if request.header("content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            do {
                p = try parseForm(Substring(String(decoding: request.body, as: UTF8.self)))
            } catch .duplicate(let name) {
                return azureError(
                    400, "invalid_request", 9002313,
                    "Invalid request. Request is malformed or invalid. Parameter '\(name)' is duplicated.", request)
            } catch {
                return azureError(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.", request)
            }
        }
        guard tenantIsValid(tenant) else {
            return azureError(
                400, "invalid_request", 90002,
                "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
                request)
        }
        guard let clientID = p["client_id"], !clientID.isEmpty else {
            return azureError(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.", request)
        }
        guard config.clients.contains(where: { $0.clientID == clientID }) else {
            return azureError(
                400, "unauthorized_client", 700016,
                "Application with identifier '\(clientID)' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                request)
        }
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return azureError(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.", request)
        }
        let record = devices.create(
            clientID: clientID, scope: scope, now: now(), lifetime: config.deviceCodeLifetime,
            interval: config.deviceCodeInterval)
        stats.deviceAuthorizations += 1
        let verificationURI = "\(baseURLLocked)/_fake/device"
        return .json(200, .object([
            ("user_code", .string(record.userCode)),
            ("device_code", .string(record.deviceCode)),
            ("verification_uri", .string(verificationURI)),
            ("expires_in", .int(config.deviceCodeLifetime)),
            ("interval", .int(config.deviceCodeInterval)),
            ("message", .string(
                "To sign in, use a web browser to open the page \(verificationURI) and enter the code \(record.userCode) to authenticate.")),
        ]))
    }

    // Codes: AADSTS70016 (authorization_pending) and AADSTS70020 (expired device code) are what Azure
    // answers. For the rest Azure's number is not documented and the fake picks the nearest
    // documented one: 70018 (BadVerificationCode) for an unknown device code, 65004 (user declined)
    // for authorization_declined, 54005 (already redeemed) for a second redemption, and 70016 again
    // for slow_down (Azure is not known to send slow_down at all; RFC 8628 clients must handle it).
    private func pollDeviceCode(
        _ p: [String: String], client: FakeClient, error: (Int, String, Int, String) -> FakeResponse
    ) -> FakeResponse {
        guard let deviceCode = p["device_code"], !deviceCode.isEmpty else {
            return error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'device_code'.")
        }
        stats.devicePolls += 1
        let outcome = devices.poll(
            deviceCode: deviceCode, clientID: client.clientID, now: now(), approval: config.deviceApproval,
            slowDownPolls: config.deviceSlowDownPolls)
        switch outcome {
        case .unknown:
            return error(
                400, "bad_verification_code", 70018,
                "The provided value for the input parameter 'device_code' is not valid. The device code was not recognized.")
        case .otherClient:
            return error(400, "invalid_grant", 70000, "Provided grant is invalid or malformed. The device code was issued to another client.")
        case .redeemed:
            return error(
                400, "invalid_grant", 54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token. The device code has already been exchanged for tokens.")
        case .expired:
            return error(
                400, "expired_token", 70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
        case .slowDown(let interval):
            stats.deviceSlowDowns += 1
            return error(
                400, "slow_down", 70016,
                "OAuth 2.0 device flow error. The client is polling too frequently; wait at least \(interval) seconds between requests.")
        case .pending:
            return error(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        case .declined:
            return error(400, "authorization_declined", 65004, "User declined to consent to access the app.")
        case .approved(let scope):
            let family = nextFamily
            nextFamily += 1
            families[family] = FamilyRecord()
            let scopes = Set(scope.split(separator: " ").map { $0.lowercased() })
            let withRefresh = scopes.contains("offline_access") || config.issueRefreshTokenWithoutOfflineAccess
            return issue(client: client, scope: scope, family: family, refresh: withRefresh, nonce: nil)
        }
    }

    private func revokeFamily(_ family: Int) {
        guard var record = families[family], !record.revoked else { return }
        record.revoked = true
        for token in record.accessTokens { accessTokens[token]?.revoked = true }
        families[family] = record
        stats.familiesRevoked += 1
    }

    private func issue(client: FakeClient, scope: String, family: Int, refresh: Bool, nonce: String?) -> FakeResponse {
        let issuedAt = now()
        let accessToken = "fake-at-" + base64URL(randomBytes(32))
        accessTokens[accessToken] = AccessRecord(
            clientID: client.clientID, userOID: config.user.oid, scope: scope, family: family,
            expiresAt: issuedAt + Double(config.accessTokenLifetime))
        families[family]?.accessTokens.append(accessToken)
        var members: [(String, JSON)] = [
            ("token_type", .string("Bearer")),
            ("scope", .string(scope)),
            ("expires_in", .int(config.accessTokenLifetime)),
            ("ext_expires_in", .int(config.accessTokenLifetime)),
            ("access_token", .string(accessToken)),
        ]
        if refresh {
            let refreshToken = "fake-rt-" + base64URL(randomBytes(48))
            refreshTokens[refreshToken] = RefreshRecord(
                clientID: client.clientID, scope: scope, family: family,
                expiresAt: issuedAt + Double(config.refreshTokenLifetime))
            members.append(("refresh_token", .string(refreshToken)))
        }
        if scope.split(separator: " ").contains(where: { $0.lowercased() == "openid" }) {
            members.append(("id_token", .string(idToken(client: client, issuedAt: issuedAt, nonce: nonce))))
        }
        stats.tokensIssued += 1
        return .json(200, .object(members))
    }

    private func idToken(client: FakeClient, issuedAt: Double, nonce: String?) -> String {
        let iat = Int(issuedAt)
        let header = JSON.object([("alg", .string("RS256")), ("typ", .string("JWT")), ("kid", .string("fake"))])
        var claims: [(String, JSON)] = [
            ("aud", .string(client.clientID)),
            ("iss", .string("\(baseURLLocked)/\(config.tenant)/v2.0")),
            ("iat", .int(iat)),
            ("nbf", .int(iat)),
            ("exp", .int(iat + 3600)),
            ("name", .string(config.user.name)),
        ]
        if let nonce { claims.append(("nonce", .string(nonce))) }
        claims += [
            ("oid", .string(config.user.oid)),
            ("preferred_username", .string(config.user.username)),
            ("sub", .string(base64URL(FakeSHA256.hash(Array("\(config.user.oid)|\(client.clientID)".utf8))))),
            ("tid", .string(config.tenant)),
            ("uti", .string(base64URL(randomBytes(16)))),
            ("ver", .string("2.0")),
        ]
        return base64URL(Array(header.text.utf8)) + "." + base64URL(Array(JSON.object(claims).text.utf8)) + "."
            + base64URL(randomBytes(32))
    }

    // MARK: - Discovery

    private func discoveryTenantError(_ request: FakeRequest, _ tenant: String) -> FakeResponse {
        azureError(
            400, "invalid_tenant", 90002,
            "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
            request)
    }

    private func discovery(_ request: FakeRequest, tenant: String) -> FakeResponse {
        guard tenantIsValid(tenant) else { return discoveryTenantError(request, tenant) }
        let base = baseURLLocked
        let isTenant = tenant.lowercased() == config.tenant.lowercased()
        // Like Azure: a tenant-specific document names the tenant; the multi-tenant aliases publish
        // the literal "{tenantid}" placeholder that clients substitute with the token's tid.
        let issuer = isTenant ? "\(base)/\(config.tenant)/v2.0" : "\(base)/{tenantid}/v2.0"
        let prefix = "\(base)/\(tenant)"
        func strings(_ values: [String]) -> JSON { .array(values.map { .string($0) }) }
        let body = JSON.object([
            ("token_endpoint", .string("\(prefix)/oauth2/v2.0/token")),
            ("token_endpoint_auth_methods_supported", strings(["client_secret_post", "private_key_jwt", "client_secret_basic"])),
            ("jwks_uri", .string("\(prefix)/discovery/v2.0/keys")),
            ("response_modes_supported", strings(["query", "fragment", "form_post"])),
            ("subject_types_supported", strings(["pairwise"])),
            ("id_token_signing_alg_values_supported", strings(["RS256"])),
            ("response_types_supported", strings(["code", "id_token", "code id_token", "id_token token"])),
            ("scopes_supported", strings(["openid", "profile", "email", "offline_access"])),
            ("issuer", .string(issuer)),
            ("request_uri_parameter_supported", .bool(false)),
            ("userinfo_endpoint", .string("\(base)/_fake/resource")),
            ("authorization_endpoint", .string("\(prefix)/oauth2/v2.0/authorize")),
            ("device_authorization_endpoint", .string("\(prefix)/oauth2/v2.0/devicecode")),
            ("http_logout_supported", .bool(true)),
            ("frontchannel_logout_supported", .bool(true)),
            ("end_session_endpoint", .string("\(prefix)/oauth2/v2.0/logout")),
            ("claims_supported", strings([
                "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
                "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
                "c_hash", "email",
            ])),
            ("code_challenge_methods_supported", strings(["S256"])),
            ("tenant_region_scope", .string("EU")),
            ("cloud_instance_name", .string("microsoftonline.com")),
            ("cloud_graph_host_name", .string("graph.windows.net")),
            ("msgraph_host", .string("graph.microsoft.com")),
            ("rbac_url", .string("https://pas.windows.net")),
        ])
        return .json(200, body)
    }

    // MARK: - Control endpoints (/_fake/...)

    private func control(_ request: FakeRequest, _ name: String) -> FakeResponse {
        var p: [String: String] = [:]
        let bodyText = String(decoding: request.body, as: UTF8.self)
        do {
            p = try parseForm(request.query)
            if request.method == "POST", !bodyText.isEmpty,
                request.header("content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? true
            {
                for (k, v) in try parseForm(Substring(bodyText)) { p[k] = v }
            }
        } catch {
            if name != "callback" { return .text(400, "malformed parameters\n") }
        }
        let ok = JSON.object([("ok", .bool(true)), ("pending_faults", .int(faults.count))])
        switch (request.method, name) {
        case ("GET", "stats"), ("HEAD", "stats"):
            return .json(200, statsJSON())
        case ("POST", "fault"):
            let times = Int(p["times"] ?? "1") ?? -1
            guard times >= 0 else { return .text(400, "times must be a number\n") }
            let fault: FakeFault
            switch p["kind"] ?? "" {
            case "empty400": fault = .emptyBody400
            case "html502": fault = .html502
            case "slow": fault = .slow(milliseconds: Int(p["ms"] ?? "1000") ?? 1000)
            case "reset": fault = .connectionReset
            case "429": fault = .tooManyRequests(retryAfter: Int(p["retry_after"] ?? p["retry-after"] ?? "1") ?? 1)
            case "oauth":
                fault = .oauthError(
                    status: Int(p["status"] ?? "400") ?? 400, error: p["error"] ?? "invalid_grant",
                    aadsts: Int(p["aadsts"] ?? "70000") ?? 70000,
                    description: p["description"] ?? "Provided grant is invalid or malformed.")
            case "clear":
                faults.removeAll()
                stats.pendingFaults = 0
                return .json(200, JSON.object([("ok", .bool(true)), ("pending_faults", .int(0))]))
            default:
                return .text(400, "kind must be one of empty400, html502, slow, reset, 429, oauth, clear\n")
            }
            for _ in 0..<times { faults.append(fault) }
            stats.pendingFaults = faults.count
            return .json(200, JSON.object([("ok", .bool(true)), ("pending_faults", .int(faults.count))]))
        case ("POST", "deny"):
            pendingDenial = (
                p["error"] ?? "access_denied",
                p["description"] ?? "AADSTS65004: User declined to consent to access the app."
            )
            return .json(200, ok)
        case ("POST", "clock"):
            guard let seconds = Double(p["seconds"] ?? "") else { return .text(400, "seconds=N required\n") }
            clockOffset += seconds
            return .json(200, ok)
        case ("POST", "expire-access-tokens"):
            let past = now() - 1
            for key in accessTokens.keys { accessTokens[key]!.expiresAt = min(accessTokens[key]!.expiresAt, past) }
            return .json(200, ok)
        case ("POST", "reset-stats"):
            stats = FakeIdPStats()
            stats.pendingFaults = faults.count
            return .json(200, ok)
        case (_, "callback"):
            append(&stats.callbacks, FakeCallbackRecord(method: request.method, parameters: p), cap: 1000)
            return .text(200, "<html><body>Authentication complete. You can close this window.</body></html>\n", type: "text/html; charset=utf-8")
        case ("GET", "device"), ("HEAD", "device"):
            let pending = devices.pendingUserCodes(now: now())
            if request.header("accept")?.lowercased().contains("text/html") == true {
                return .text(200, devicePage(pending), type: "text/html; charset=utf-8")
            }
            return .json(200, .object([("pending_user_codes", .array(pending.map { JSON.string($0) }))]))
        case ("POST", "device/approve"), ("POST", "device/decline"):
            let userCode = p["user_code"].flatMap { $0.isEmpty ? nil : $0 }
            let changed = decideDevicesLocked(userCode: userCode, approve: name == "device/approve")
            let found = userCode == nil || changed > 0
            return .json(found ? 200 : 404, .object([("ok", .bool(found)), ("changed", .int(changed))]))
        case ("GET", "resource"):
            stats.resourceRequests += 1
            let auth = request.header("authorization") ?? ""
            guard auth.lowercased().hasPrefix("bearer "), let record = accessTokens[String(auth.dropFirst(7))],
                info(record).isValid
            else {
                return FakeResponse(
                    status: 401, headers: [("WWW-Authenticate", "Bearer error=\"invalid_token\"")], body: [])
            }
            stats.resourceAuthorized += 1
            guard record.userOID != nil else {
                return .json(200, .object([("appid", .string(record.clientID)), ("scope", .string(record.scope))]))
            }
            return .json(200, .object([
                ("oid", .string(config.user.oid)), ("preferred_username", .string(config.user.username)),
                ("name", .string(config.user.name)), ("scope", .string(record.scope)),
            ]))
        default:
            return notFound(request.path)
        }
    }

    /// The verification page a browser gets at verification_uri: the pending codes, each with
    /// approve and decline buttons (plain forms, no script).
    private func devicePage(_ pending: [String]) -> String {
        var rows = ""
        for code in pending {
            let value = htmlEscape(code)
            rows += "<li><code>\(value)</code> "
                + "<form method=\"POST\" action=\"/_fake/device/approve\" style=\"display:inline\"><input type=\"hidden\" name=\"user_code\" value=\"\(value)\"><button>Approve</button></form> "
                + "<form method=\"POST\" action=\"/_fake/device/decline\" style=\"display:inline\"><input type=\"hidden\" name=\"user_code\" value=\"\(value)\"><button>Decline</button></form></li>\n"
        }
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>Enter code</title></head>
            <body><h1>Device sign-in</h1>
            <p>Signing in as \(htmlEscape(config.user.username)).</p>
            <ul>
            \(rows.isEmpty ? "<li>No pending codes.</li>\n" : rows)</ul>
            </body></html>

            """
    }

    private func statsJSON() -> JSON {
        func opt(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }
        let base: [(String, JSON)] = [
            ("authorize_requests", .int(stats.authorizeRequests)),
            ("codes_issued", .int(stats.codesIssued)),
            ("token_requests", .object(stats.tokenRequests.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("token_requests_total", .int(stats.totalTokenRequests)),
            ("tokens_issued", .int(stats.tokensIssued)),
            ("refresh_rotations", .int(stats.refreshRotations)),
            ("reuse_detections", .int(stats.reuseDetections)),
            ("code_reuse_detections", .int(stats.codeReuseDetections)),
            ("families_revoked", .int(stats.familiesRevoked)),
            ("faults_applied", .int(stats.faultsApplied)),
            ("pending_faults", .int(faults.count)),
            ("not_found", .int(stats.notFound)),
            ("resource_requests", .int(stats.resourceRequests)),
            ("resource_authorized", .int(stats.resourceAuthorized)),
            ("token_log", .array(stats.tokenLog.map { r in
                .object([
                    ("grant_type", opt(r.grantType)), ("client_id", opt(r.clientID)),
                    ("client_auth", .string(r.clientAuth.rawValue)), ("scope_sent", .bool(r.scopeSent)),
                    ("scope", opt(r.scope)), ("status", .int(r.status)), ("error", opt(r.error)),
                    ("aadsts", r.aadsts.map { .int($0) } ?? .null), ("fault", opt(r.fault)),
                ])
            })),
            ("authorize_log", .array(stats.authorizeLog.map { r in
                .object([
                    ("client_id", opt(r.clientID)), ("redirect_uri", opt(r.redirectURI)),
                    ("response_mode", opt(r.responseMode)), ("scope", opt(r.scope)), ("prompt", opt(r.prompt)),
                    ("login_hint", opt(r.loginHint)), ("has_nonce", .bool(r.nonce != nil)),
                    ("has_state", .bool(r.state != nil)), ("code_challenge_method", opt(r.codeChallengeMethod)),
                    ("outcome", .string(r.outcome)),
                ])
            })),
            ("callbacks", .array(stats.callbacks.map { c in
                .object([
                    ("method", .string(c.method)),
                    ("parameters", .object(c.parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ])
            })),
            ("not_found_paths", .array(stats.notFoundPaths.map { .string($0) })),
        ]
        return .object(base + assertionAndDeviceStatsJSON())
    }

    private func assertionAndDeviceStatsJSON() -> [(String, JSON)] {
        let rejected: [(String, JSON)] = stats.assertionsRejected.sorted { $0.key < $1.key }.map { ($0.key, JSON.int($0.value)) }
        let header: [(String, JSON)] = stats.lastAssertionHeader.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }
        let pending: [JSON] = devices.pendingUserCodes(now: now()).map { JSON.string($0) }
        return [
            ("assertions_accepted", .int(stats.assertionsAccepted)),
            ("assertions_rejected", .object(rejected)),
            ("last_assertion_header", .object(header)),
            ("device_authorizations", .int(stats.deviceAuthorizations)),
            ("device_polls", .int(stats.devicePolls)),
            ("device_slow_downs", .int(stats.deviceSlowDowns)),
            ("pending_device_user_codes", .array(pending)),
        ]
    }
}

// MARK: - Redirect URI matching

/// Azure's rule: an `http` loopback redirect URI (localhost, 127.0.0.1, [::1]) matches a registered one
/// with the same host and path whatever the port; anything else must be equal as a string.
/// An empty path and "/" are treated alike.
func redirectMatches(sent: String, registered: String) -> Bool {
    if sent == registered { return true }
    guard let s = LoopbackURI(sent), let r = LoopbackURI(registered) else { return false }
    return s.host == r.host && s.rest == r.rest
}

private struct LoopbackURI {
    var host: String
    var rest: String

    init?(_ uri: String) {
        guard uri.lowercased().hasPrefix("http://") else { return nil }
        let afterScheme = uri.dropFirst(7)
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard !authority.contains("@") else { return nil }
        let host: Substring, portPart: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            portPart = authority[authority.index(after: close)...]
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portPart = authority[colon...]
        } else {
            host = authority
            portPart = ""
        }
        if !portPart.isEmpty {
            guard portPart.hasPrefix(":"), portPart.dropFirst().allSatisfy(\.isASCII),
                portPart.dropFirst().allSatisfy(\.isNumber)
            else { return nil }
        }
        let lowered = host.lowercased()
        guard lowered == "localhost" || lowered == "127.0.0.1" || lowered == "[::1]" else { return nil }
        self.host = lowered
        var rest = String(afterScheme[authorityEnd...])
        if rest.isEmpty || rest.hasPrefix("?") || rest.hasPrefix("#") { rest = "/" + rest }
        self.rest = rest
    }
}
