// POST /{tenant}/oauth2/v2.0/token: injected faults, form parsing, client authentication (secret
// in the body or in Basic, a certificate assertion, or a federated assertion for the client
// credentials grant) and the dispatch to the grants.

import Foundation

extension FakeIdPCore {
    func token(_ request: FakeRequest, tenant: String, delayedFault: String?) -> FakeAction {
        let contentType = request.header("content-type")?.lowercased() ?? ""
        let isForm = contentType.hasPrefix("application/x-www-form-urlencoded")
        var parseError: FormDecodeError?
        var p: [String: String] = [:]
        if isForm {
            do { p = try parseForm(Substring(String(decoding: request.body, as: UTF8.self))) } catch {
                parseError = error
            }
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
            scopeSent: p["scope"] != nil, scope: p["scope"], status: 0, error: nil, aadsts: nil, fault: delayedFault,
            claims: p["claims"])

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
        func detailedError(_ status: Int, _ error: String, _ code: Int, _ text: String, _ members: [(String, JSON)])
            -> FakeResponse
        {
            outcome = (error, code)
            return azureError(status, error, code, text, request, members: members)
        }
        func error(_ status: Int, _ error: String, _ code: Int, _ text: String) -> FakeResponse {
            detailedError(status, error, code, text, [])
        }
        let response = tokenResponse(
            request, tenant: tenant, p, isForm: isForm, parseError: parseError, basic: basic,
            hasBasicHeader: hasBasicHeader, error: error, detailedError: detailedError)
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
        error: (Int, String, Int, String) -> FakeResponse,
        detailedError: (Int, String, Int, String, [(String, JSON)]) -> FakeResponse
    ) -> FakeResponse {
        guard request.method == "POST" else {
            return error(
                400, "invalid_request", 900561,
                "The endpoint only accepts POST, OPTIONS requests. Received a \(request.method) request.")
        }
        if let parseError {
            if case .duplicate(let name) = parseError {
                return error(
                    400, "invalid_request", 9_002_313,
                    "Invalid request. Request is malformed or invalid. Parameter '\(name)' is duplicated.")
            }
            return error(400, "invalid_request", 9_002_313, "Invalid request. Request is malformed or invalid.")
        }
        guard tenantIsValid(tenant) else {
            return error(
                400, "invalid_request", 90002,
                "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            )
        }
        guard let grantType = p["grant_type"], !grantType.isEmpty else {
            return error(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        }

        // Client authentication.
        if hasBasicHeader && basic == nil {
            return error(
                401, "invalid_client", 7_000_215,
                "Invalid client secret provided. The Authorization header is malformed.")
        }
        if basic != nil && p["client_secret"] != nil {
            return error(
                400, "invalid_request", 9_002_313,
                "Invalid request. Request is malformed or invalid. Client authentication was sent both in the body and in the Authorization header."
            )
        }
        let assertionSent = p["client_assertion"] != nil || p["client_assertion_type"] != nil
        if assertionSent && (basic != nil || p["client_secret"] != nil) {
            return error(
                400, "invalid_request", 9_002_313,
                "Invalid request. Request is malformed or invalid. A client secret and a client assertion were both sent; send exactly one client credential."
            )
        }
        if let basic, let bodyID = p["client_id"], bodyID != basic.id {
            return error(
                400, "invalid_request", 9_002_313,
                "Invalid request. Request is malformed or invalid. The client_id in the body does not match the Authorization header."
            )
        }
        func reject(_ rejection: AssertionRejection) -> FakeResponse {
            stats.assertionsRejected[rejection.reason, default: 0] += 1
            return error(rejection.status, rejection.error, rejection.code, rejection.text)
        }
        var assertion: DecodedAssertion?
        if assertionSent {
            guard let type = p["client_assertion_type"], !type.isEmpty else {
                return reject(
                    AssertionRejection(
                        status: 400, error: "invalid_request", code: 900144,
                        text: "The request body must contain the following parameter: 'client_assertion_type'.",
                        reason: "assertion_type"))
            }
            guard type == jwtBearerAssertionType else {
                return reject(
                    AssertionRejection(
                        status: 400, error: "invalid_request", code: 9_002_313,
                        text:
                            "Invalid request. Request is malformed or invalid. client_assertion_type must be '\(jwtBearerAssertionType)'.",
                        reason: "assertion_type"))
            }
            guard let jwt = p["client_assertion"], !jwt.isEmpty else {
                return reject(
                    AssertionRejection(
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
            return error(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
        }
        guard let client = config.clients.first(where: { $0.clientID == clientID }) else {
            return error(
                400, "unauthorized_client", 700016,
                "Application with identifier '\(clientID)' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            )
        }
        let presentedSecret = p["client_secret"] ?? basic?.secret
        if client.isPublic && (presentedSecret != nil || assertionSent) {
            return error(
                401, "invalid_client", 700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
        }
        var authenticated = false
        /// The subject of the federated assertion that authenticated the client, if one did.
        var federatedSubject: String?
        if let assertion, !client.federatedCredentials.isEmpty,
            !FederatedAssertionVerifier.isCertificateAssertion(assertion, clientID: client.clientID)
        {
            guard grantType == "client_credentials" else {
                return reject(FederatedAssertionVerifier.wrongGrant(grantType))
            }
            switch FederatedAssertionVerifier.verify(
                assertion, clientID: client.clientID, credentials: client.federatedCredentials,
                issuer: workloadIssuer, now: now())
            {
            case .failure(let rejection):
                return reject(rejection)
            case .success(let subject):
                federatedSubject = subject
                authenticated = true
            }
        } else if let assertion {
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
                    401, "invalid_client", 7_000_215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientID)'."
                )
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
            return error(
                401, "invalid_client", 7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        }

        switch grantType {
        case "authorization_code":
            return redeemCode(p, client: client, error: error, detailedError: detailedError)
        case "refresh_token":
            return redeemRefreshToken(p, client: client, error: error, detailedError: detailedError)
        case "client_credentials":
            let response = clientCredentials(p, client: client, error: error)
            if let federatedSubject, response.status == 200 {
                stats.federatedGrants += 1
                stats.lastFederatedSubject = federatedSubject
            }
            return response
        case deviceCodeGrantType:
            return pollDeviceCode(p, client: client, error: error)
        default:
            return error(
                400, "unsupported_grant_type", 70003,
                "The app requested an unsupported grant type '\(grantType)'.")
        }
    }
}
