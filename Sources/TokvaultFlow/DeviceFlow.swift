import Foundation
import TokvaultVault

/// A device authorization (RFC 8628 §3.2): what the user must do on another device.
package struct DeviceAuthorization: Sendable {
    package var deviceCode: SecureBytes
    package var userCode: String
    package var verificationURI: String
    package var verificationURIComplete: String?
    package var expiresIn: Int64
    /// Seconds between polls (RFC 8628: 5 when the server names none).
    package var interval: Int64
    /// The server's own instructions (Azure sends a sentence with the URL and code).
    package var message: String?
}

/// The device code flow (RFC 8628) for machines without a browser: ask the device
/// authorization endpoint for a code, show it, and poll the token endpoint until the user has
/// signed in elsewhere, declined, or the code expired.
package struct DeviceFlow: Sendable {
    package var client: TokenClient
    /// Replaced in tests; the real one sleeps.
    package var sleep: @Sendable (Int64) async throws -> Void = { seconds in
        try await Task.sleep(nanoseconds: UInt64(seconds) * 1_000_000_000)
    }

    package init(client: TokenClient = TokenClient()) {
        self.client = client
    }

    private struct Body: Decodable {
        var deviceCode: String?
        var userCode: String?
        var verificationURI: String?
        var verificationURL: String?
        var verificationURIComplete: String?
        var expiresIn: TokenResponseParser.FlexibleInt?
        var interval: TokenResponseParser.FlexibleInt?
        var message: String?

        enum CodingKeys: String, CodingKey {
            case message, interval
            case deviceCode = "device_code"
            case userCode = "user_code"
            case verificationURI = "verification_uri"
            // Azure's v1 endpoint and some servers spell it with "url".
            case verificationURL = "verification_url"
            case verificationURIComplete = "verification_uri_complete"
            case expiresIn = "expires_in"
        }
    }

    /// Asks for a device code. Azure's endpoint takes only the client id and scope; other
    /// servers get the client's authentication as on the token endpoint (RFC 8628 §3.1).
    package func start(app: App, credential: TokenClient.Credential, claims: String? = nil) async throws
        -> DeviceAuthorization
    {
        guard let endpoint = app.deviceEndpoint else {
            throw FlowError.usage(
                "app \"\(app.name)\" has no device authorization endpoint",
                hint:
                    "its server did not announce one; sign in with `\(.signIn(app.name, .plain))` (paste the redirect URL on a machine without a browser)"
            )
        }
        _ = try EndpointRules.validateEndpoint(endpoint, option: "device authorization endpoint")
        let grant = TokenClient.Grant.deviceCode(SecureBytes(count: 0))
        let data = try await client.post(to: endpoint, app: app, grant: grant, passing: []) {
            var form = FormBody()
            var basic: SecureBytes?
            if app.provider == .azure {
                form.add("client_id", app.clientID)
            } else {
                basic = try TokenClient.addClientAuthentication(
                    to: &form, app: app, credential: credential, audience: endpoint,
                    now: Int64(Date().timeIntervalSince1970))
            }
            form.add("scope", app.scope)
            if let claims { form.add("claims", claims) }
            return (form.encoded(), basic)
        }
        return try Self.parse(data, endpoint: endpoint)
    }

    static func parse(_ data: Data, endpoint: String) throws -> DeviceAuthorization {
        let host = URLComponents(string: endpoint)?.host ?? endpoint
        guard let body = try? JSONDecoder().decode(Body.self, from: data) else {
            throw FlowError.failure(
                "the device authorization endpoint \(host) answered 200 with a body that is not a device authorization")
        }
        guard var deviceCode = body.deviceCode, !deviceCode.isEmpty, let userCode = body.userCode, !userCode.isEmpty,
            let uri = body.verificationURI ?? body.verificationURL
        else {
            throw FlowError.failure(
                "the device authorization endpoint \(host) answered without device_code, user_code or verification_uri")
        }
        guard let url = URLComponents(string: uri), ["https", "http"].contains(url.scheme?.lowercased() ?? ""),
            url.host != nil
        else {
            throw FlowError.failure(
                "the device authorization endpoint \(host) answered a verification_uri that is not a web address")
        }
        var bytes = Array(deviceCode.utf8)
        deviceCode = ""
        return DeviceAuthorization(
            deviceCode: SecureBytes(consuming: &bytes),
            userCode: Display.printable(userCode),
            verificationURI: Display.printable(uri),
            verificationURIComplete: body.verificationURIComplete.map(Display.printable),
            // RFC 8628 requires expires_in; without it, Azure's 15 minutes.
            expiresIn: max(1, min(body.expiresIn?.value ?? 900, 86400)),
            interval: max(1, min(body.interval?.value ?? 5, 60)),
            message: body.message.map(Display.printable))
    }

    /// Polls until the user finished. `authorization_pending` waits another interval,
    /// `slow_down` adds 5 s to it for good (RFC 8628 §3.5); every other answer ends the wait.
    package func poll(
        _ authorization: DeviceAuthorization, app: App, credential: TokenClient.Credential,
        onSlowDown: @Sendable (Int64) -> Void = { _ in }
    ) async throws -> TokenResponse {
        var interval = authorization.interval
        let deadline = Date().addingTimeInterval(TimeInterval(authorization.expiresIn))
        while true {
            try await sleep(interval)
            guard Date() < deadline else {
                throw FlowError.failure(
                    "the device code expired before the sign-in was completed",
                    hint:
                        "run `\(.signIn(app.name, .device))` again and enter the new code within \(authorization.expiresIn / 60) minutes"
                )
            }
            do {
                return try await client.redeem(
                    .deviceCode(authorization.deviceCode), app: app, credential: credential,
                    passing: ["authorization_pending", "slow_down"])
            } catch let refusal as TokenClient.OAuthRefusal {
                if refusal.body.error == "slow_down" {
                    interval += 5
                    onSlowDown(interval)
                }
            }
        }
    }
}
