// POST /{tenant}/oauth2/v2.0/devicecode: starts a device authorization (RFC 8628).

import Foundation

extension FakeIdPCore {
    /// POST /{tenant}/oauth2/v2.0/devicecode. Azure hands out codes to any registered client; whether
    /// the client may poll without credentials is decided at the token endpoint.
    func deviceCode(_ request: FakeRequest, tenant: String) -> FakeResponse {
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
                    400, "invalid_request", 9_002_313,
                    "Invalid request. Request is malformed or invalid. Parameter '\(name)' is duplicated.", request)
            } catch {
                return azureError(
                    400, "invalid_request", 9_002_313, "Invalid request. Request is malformed or invalid.", request)
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
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.",
                request)
        }
        guard config.clients.contains(where: { $0.clientID == clientID }) else {
            return azureError(
                400, "unauthorized_client", 700016,
                "Application with identifier '\(clientID)' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                request)
        }
        guard let scope = p["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return azureError(
                400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.",
                request)
        }
        let record = devices.create(
            clientID: clientID, scope: scope, now: now(), lifetime: config.deviceCodeLifetime,
            interval: config.deviceCodeInterval)
        stats.deviceAuthorizations += 1
        let verificationURI = "\(baseURLLocked)/_fake/device"
        return .json(
            200,
            .object([
                ("user_code", .string(record.userCode)),
                ("device_code", .string(record.deviceCode)),
                ("verification_uri", .string(verificationURI)),
                ("expires_in", .int(config.deviceCodeLifetime)),
                ("interval", .int(config.deviceCodeInterval)),
                (
                    "message",
                    .string(
                        "To sign in, use a web browser to open the page \(verificationURI) and enter the code \(record.userCode) to authenticate."
                    )
                )
            ]))
    }
}
