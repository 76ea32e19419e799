// /_fake/...: the control API for scripts (faults, denial, clock, stats, device approval,
// Conditional Access settings, federated tokens), the callback recorder and the protected resource.

import Foundation

extension FakeIdPCore {
    func control(_ request: FakeRequest, _ name: String) -> FakeResponse {
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
        case ("POST", "settings"):
            return changeSettings(p)
        case ("POST", "federated-token"):
            guard let issuer = p["issuer"], !issuer.isEmpty, let subject = p["subject"], !subject.isEmpty else {
                return .text(400, "issuer= and subject= required\n")
            }
            guard let lifetime = Int(p["lifetime"] ?? "600") else { return .text(400, "lifetime must be a number\n") }
            let issuedAt = Int(now())
            let token = workloadIssuer.mint(
                issuer: issuer, subject: subject, audience: p["audience"] ?? "api://AzureADTokenExchange",
                issuedAt: issuedAt, notBefore: issuedAt, expires: issuedAt + lifetime)
            return .json(200, .object([("token", .string(token))]))
        case ("POST", "reset-stats"):
            stats = FakeIdPStats()
            stats.pendingFaults = faults.count
            return .json(200, ok)
        case (_, "callback"):
            append(&stats.callbacks, FakeCallbackRecord(method: request.method, parameters: p), cap: 1000)
            return .text(
                200, "<html><body>Authentication complete. You can close this window.</body></html>\n",
                type: "text/html; charset=utf-8")
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
            return .json(
                200,
                .object([
                    ("oid", .string(config.user.oid)), ("preferred_username", .string(config.user.username)),
                    ("name", .string(config.user.name)), ("scope", .string(record.scope))
                ]))
        default:
            return notFound(request.path)
        }
    }

    /// POST /_fake/settings: each parameter present replaces its setting; the answer lists them all.
    private func changeSettings(_ p: [String: String]) -> FakeResponse {
        func flag(_ name: String) -> Bool?? {
            guard let value = p[name] else { return .some(nil) }
            switch value {
            case "true", "1": return true
            case "false", "0": return false
            default: return nil
            }
        }
        guard let block = flag("conditional_access_block"), let expiresIn = flag("send_refresh_expires_in") else {
            return .text(400, "conditional_access_block and send_refresh_expires_in take true or false\n")
        }
        if let challenge = p["claims_challenge"] { claimsChallenge = challenge.isEmpty ? nil : challenge }
        if let block { conditionalAccessBlock = block }
        if let expiresIn { sendRefreshExpiresIn = expiresIn }
        return .json(
            200,
            .object([
                ("claims_challenge", claimsChallenge.map { .string($0) } ?? .null),
                ("conditional_access_block", .bool(conditionalAccessBlock)),
                ("send_refresh_expires_in", .bool(sendRefreshExpiresIn))
            ]))
    }

    /// The verification page a browser gets at verification_uri: the pending codes, each with
    /// approve and decline buttons (plain forms, no script).
    private func devicePage(_ pending: [String]) -> String {
        var rows = ""
        for code in pending {
            let value = htmlEscape(code)
            rows +=
                "<li><code>\(value)</code> "
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
            (
                "token_requests",
                .object(stats.tokenRequests.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })
            ),
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
            (
                "token_log",
                .array(
                    stats.tokenLog.map { r in
                        .object([
                            ("grant_type", opt(r.grantType)), ("client_id", opt(r.clientID)),
                            ("client_auth", .string(r.clientAuth.rawValue)), ("scope_sent", .bool(r.scopeSent)),
                            ("scope", opt(r.scope)), ("status", .int(r.status)), ("error", opt(r.error)),
                            ("aadsts", r.aadsts.map { .int($0) } ?? .null), ("fault", opt(r.fault)),
                            ("claims", opt(r.claims))
                        ])
                    })
            ),
            (
                "authorize_log",
                .array(
                    stats.authorizeLog.map { r in
                        .object([
                            ("client_id", opt(r.clientID)), ("redirect_uri", opt(r.redirectURI)),
                            ("response_mode", opt(r.responseMode)), ("scope", opt(r.scope)), ("prompt", opt(r.prompt)),
                            ("login_hint", opt(r.loginHint)), ("has_nonce", .bool(r.nonce != nil)),
                            ("has_state", .bool(r.state != nil)), ("code_challenge_method", opt(r.codeChallengeMethod)),
                            ("claims", opt(r.claims)), ("outcome", .string(r.outcome))
                        ])
                    })
            ),
            (
                "callbacks",
                .array(
                    stats.callbacks.map { c in
                        .object([
                            ("method", .string(c.method)),
                            (
                                "parameters",
                                .object(c.parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
                            )
                        ])
                    })
            ),
            ("not_found_paths", .array(stats.notFoundPaths.map { .string($0) }))
        ]
        return .object(base + assertionAndDeviceStatsJSON())
    }

    private func assertionAndDeviceStatsJSON() -> [(String, JSON)] {
        let rejected: [(String, JSON)] = stats.assertionsRejected.sorted { $0.key < $1.key }.map {
            ($0.key, JSON.int($0.value))
        }
        let header: [(String, JSON)] = stats.lastAssertionHeader.sorted { $0.key < $1.key }.map {
            ($0.key, JSON.string($0.value))
        }
        let pending: [JSON] = devices.pendingUserCodes(now: now()).map { JSON.string($0) }
        return [
            ("assertions_accepted", .int(stats.assertionsAccepted)),
            ("assertions_rejected", .object(rejected)),
            ("last_assertion_header", .object(header)),
            ("device_authorizations", .int(stats.deviceAuthorizations)),
            ("device_polls", .int(stats.devicePolls)),
            ("device_slow_downs", .int(stats.deviceSlowDowns)),
            ("pending_device_user_codes", .array(pending)),
            ("federated_grants", .int(stats.federatedGrants)),
            ("last_federated_subject", stats.lastFederatedSubject.map { .string($0) } ?? .null),
            ("github_token_requests", .int(stats.githubTokenRequests)),
            ("last_github_audience", stats.lastGitHubAudience.map { .string($0) } ?? .null),
            ("claims_challenges_sent", .int(stats.claimsChallengesSent))
        ]
    }
}
