// GET|POST /{tenant}/oauth2/v2.0/authorize: validates the request, issues an authorization code
// and answers through the redirect URI (query, fragment or form_post), or shows Azure's error page.

import Foundation

extension FakeIdPCore {
    func authorize(_ request: FakeRequest, tenant: String) -> FakeResponse {
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
            return page(
                9_002_313, "Invalid request. Request is malformed or invalid. Parameter '\(name)' is duplicated.")
        } catch {
            return page(9_002_313, "Invalid request. Request is malformed or invalid.")
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
        record.claims = p["claims"]

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
            return fail(
                "invalid_request", 900144, "The request body must contain the following parameter: 'response_type'.")
        }
        guard responseType == "code" else {
            return fail(
                "unsupported_response_type", 700054,
                "response_type '\(responseType)' is not enabled for the application.")
        }
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return fail("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        }
        guard let challenge = p["code_challenge"], !challenge.isEmpty else {
            return fail(
                "invalid_request", 900144,
                "The request body must contain the following parameter: 'code_challenge'. Proof Key for Code Exchange is required by this application."
            )
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
            claims: p["claims"], issuedAt: now())
        stats.codesIssued += 1
        record.outcome = "code"
        append(&stats.authorizeLog, record, cap: 10_000)
        return deliver([("code", code)])
    }

    private func isBase64URLByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2d || b == 0x5f
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
            headers: [
                ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store, no-cache"),
                ("x-ms-request-id", trace)
            ],
            body: Array(html.utf8))
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
        let host: Substring
        let portPart: Substring
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
