// Tests of the fake identity provider: the device authorization grant (DeviceAuthorizationEndpoint.swift, DeviceCodeGrant.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPDeviceCodeTests {
    @Test func deviceCodePendingThenApproved() throws {
        let idp = try IdP()
        let device = http(
            "POST", "\(idp.base)/\(tid)/oauth2/v2.0/devicecode",
            form: [("client_id", publicID), ("scope", "openid profile offline_access User.Read")])
        #expect(device.status == 200, "\(device)")
        let json = device.json
        let userCode = try #require(json["user_code"] as? String)
        let deviceCode = try #require(json["device_code"] as? String)
        #expect(userCode.wholeMatch(of: /[A-Z0-9]{9}/) != nil)
        #expect(deviceCode.count >= 64)
        #expect(json["verification_uri"] as? String == "\(idp.base)/_fake/device")
        #expect(json["expires_in"] as? Int == 900 && json["interval"] as? Int == 5)
        #expect(
            json["message"] as? String
                == "To sign in, use a web browser to open the page \(idp.base)/_fake/device and enter the code \(userCode) to authenticate."
        )
        #expect(idp.provider.pendingDeviceUserCodes == [userCode])

        let pending = idp.pollDevice(deviceCode)
        expectAzureError(pending, status: 400, error: "authorization_pending", code: 70016)
        idp.provider.advanceClock(seconds: 5)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
        #expect(idp.provider.approveDevice(userCode: userCode.lowercased()) == 1)
        #expect(idp.provider.pendingDeviceUserCodes.isEmpty)
        idp.provider.advanceClock(seconds: 5)
        let tokens = idp.pollDevice(deviceCode)
        #expect(tokens.status == 200, "\(tokens)")
        let accessToken = try #require(tokens.json["access_token"] as? String)
        #expect(tokens.json["scope"] as? String == "openid profile offline_access User.Read")
        #expect((tokens.json["refresh_token"] as? String)?.hasPrefix("fake-rt-") == true)
        #expect((tokens.json["id_token"] as? String)?.split(separator: ".").count == 3)
        #expect(idp.provider.accessTokenInfo(accessToken)?.userOID == FakeUser.alice.oid)
        // The refresh token works like one from a code.
        #expect(idp.refresh(tokens.json["refresh_token"] as? String ?? "").status == 200)

        // Single use.
        idp.provider.advanceClock(seconds: 5)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "invalid_grant", code: 54005)
        let stats = idp.provider.stats
        #expect(stats.deviceAuthorizations == 1 && stats.devicePolls == 4 && stats.deviceSlowDowns == 0)
        #expect(stats.tokenRequests[deviceGrant] == 4)
    }

    @Test func deviceCodeWithoutOfflineAccessHasNoRefreshToken() throws {
        let idp = try IdP(configure: { $0.deviceApproval = .approveAfterPolls(0) })
        let deviceCode = try #require(idp.deviceCode(scope: "User.Read")["device_code"] as? String)
        let tokens = idp.pollDevice(deviceCode)
        #expect(tokens.status == 200, "\(tokens)")
        #expect(tokens.json["access_token"] is String)
        #expect(tokens.json["refresh_token"] == nil && tokens.json["id_token"] == nil)
    }

    @Test func deviceCodeDeclinedAndExpired() throws {
        let idp = try IdP(configure: {
            $0.deviceCodeLifetime = 60
            $0.deviceCodeInterval = 0
        })
        let declined = try #require(idp.deviceCode()["device_code"] as? String)
        let waiting = try #require(idp.deviceCode()["device_code"] as? String)
        #expect(idp.provider.pendingDeviceUserCodes.count == 2)
        let first = try #require(idp.provider.pendingDeviceUserCodes.first)
        #expect(idp.provider.declineDevice(userCode: first) == 1)
        expectAzureError(idp.pollDevice(declined), status: 400, error: "authorization_declined", code: 65004)
        expectAzureError(idp.pollDevice(declined), status: 400, error: "authorization_declined", code: 65004)
        expectAzureError(idp.pollDevice(waiting), status: 400, error: "authorization_pending", code: 70016)

        idp.provider.advanceClock(seconds: 61)
        #expect(idp.provider.pendingDeviceUserCodes.isEmpty)
        #expect(idp.provider.approveDevice() == 0)
        let expired = idp.pollDevice(waiting)
        expectAzureError(expired, status: 400, error: "expired_token", code: 70020)
        #expect(descriptionOf(expired).contains("This device code has expired."))
    }

    @Test func deviceCodeSlowDown() throws {
        let idp = try IdP()
        let deviceCode = try #require(idp.deviceCode()["device_code"] as? String)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
        // Sooner than the 5 s interval: slow_down, and the interval becomes 10 s (RFC 8628 §3.5).
        let slow = idp.pollDevice(deviceCode)
        expectAzureError(slow, status: 400, error: "slow_down", code: 70016)
        #expect(descriptionOf(slow).contains("10 seconds"))
        idp.provider.advanceClock(seconds: 6)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "slow_down", code: 70016)
        idp.provider.advanceClock(seconds: 15)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
        #expect(idp.provider.stats.deviceSlowDowns == 2 && idp.provider.stats.devicePolls == 4)

        // The first N polls answer slow_down whatever their timing; they do not count as pending polls.
        let forced = try IdP(configure: {
            $0.deviceCodeInterval = 0
            $0.deviceSlowDownPolls = 2
            $0.deviceApproval = .approveAfterPolls(1)
        })
        let code = try #require(forced.deviceCode()["device_code"] as? String)
        expectAzureError(forced.pollDevice(code), status: 400, error: "slow_down", code: 70016)
        forced.provider.advanceClock(seconds: 60)
        expectAzureError(forced.pollDevice(code), status: 400, error: "slow_down", code: 70016)
        forced.provider.advanceClock(seconds: 10)
        expectAzureError(forced.pollDevice(code), status: 400, error: "authorization_pending", code: 70016)
        forced.provider.advanceClock(seconds: 10)
        #expect(forced.pollDevice(code).status == 200)
        #expect(forced.provider.stats.deviceSlowDowns == 2)
    }

    @Test func deviceCodeScriptedApproval() throws {
        let approving = try IdP(configure: {
            $0.deviceCodeInterval = 0
            $0.deviceApproval = .approveAfterPolls(2)
        })
        let a = try #require(approving.deviceCode()["device_code"] as? String)
        expectAzureError(approving.pollDevice(a), status: 400, error: "authorization_pending", code: 70016)
        expectAzureError(approving.pollDevice(a), status: 400, error: "authorization_pending", code: 70016)
        #expect(approving.pollDevice(a).status == 200)

        let declining = try IdP(configure: {
            $0.deviceCodeInterval = 0
            $0.deviceApproval = .declineAfterPolls(1)
        })
        let d = try #require(declining.deviceCode()["device_code"] as? String)
        expectAzureError(declining.pollDevice(d), status: 400, error: "authorization_pending", code: 70016)
        expectAzureError(declining.pollDevice(d), status: 400, error: "authorization_declined", code: 65004)

        let never = try IdP(configure: {
            $0.deviceCodeInterval = 0
            $0.deviceApproval = .never
        })
        let n = try #require(never.deviceCode()["device_code"] as? String)
        #expect(never.provider.approveDevice() == 0)
        #expect(http("POST", "\(never.base)/_fake/device/approve", form: []).json["changed"] as? Int == 0)
        expectAzureError(never.pollDevice(n), status: 400, error: "authorization_pending", code: 70016)
        never.provider.advanceClock(seconds: 900)
        expectAzureError(never.pollDevice(n), status: 400, error: "expired_token", code: 70020)
    }

    @Test func deviceCodeErrors() throws {
        let idp = try IdP(configure: { $0.deviceCodeInterval = 0 })
        let endpoint = "\(idp.base)/\(tid)/oauth2/v2.0/devicecode"
        expectAzureError(
            http("POST", endpoint, form: [("client_id", "nobody"), ("scope", "openid")]), status: 400,
            error: "unauthorized_client", code: 700016)
        expectAzureError(
            http("POST", endpoint, form: [("client_id", publicID)]), status: 400,
            error: "invalid_request", code: 900144)
        expectAzureError(
            http("POST", endpoint, form: [("scope", "openid")]), status: 400,
            error: "invalid_request", code: 900144)
        expectAzureError(http("GET", endpoint), status: 400, error: "invalid_request", code: 900561)
        expectAzureError(
            http(
                "POST", "\(idp.base)/fabrikam.example/oauth2/v2.0/devicecode",
                form: [("client_id", publicID), ("scope", "openid")]),
            status: 400, error: "invalid_request", code: 90002)
        #expect(idp.provider.stats.deviceAuthorizations == 0)

        expectAzureError(idp.pollDevice("fake-dc-unknown"), status: 400, error: "bad_verification_code", code: 70018)
        expectAzureError(
            http("POST", idp.tokenURL, form: [("grant_type", deviceGrant), ("client_id", publicID)]),
            status: 400, error: "invalid_request", code: 900144)
        // A device code belongs to the client that asked for it.
        let deviceCode = try #require(idp.deviceCode(client: publicID)["device_code"] as? String)
        expectAzureError(idp.pollDevice(deviceCode, client: deviceID), status: 400, error: "invalid_grant", code: 70000)
        // A public client must not authenticate here either.
        expectAzureError(
            idp.pollDevice(deviceCode, extra: [("client_secret", "x")]), status: 401,
            error: "invalid_client", code: 700025)
        expectAzureError(idp.pollDevice(deviceCode), status: 400, error: "authorization_pending", code: 70016)
    }

    @Test func deviceCodeConfidentialClients() throws {
        let idp = try IdP(configure: { $0.deviceCodeInterval = 0 })
        // Without "Allow public client flows" a confidential client must authenticate.
        let confidential = try #require(idp.deviceCode(client: confidentialID)["device_code"] as? String)
        expectAzureError(
            idp.pollDevice(confidential, client: confidentialID), status: 401, error: "invalid_client",
            code: 7_000_218)
        expectAzureError(
            idp.pollDevice(confidential, client: confidentialID, extra: [("client_secret", "nope")]),
            status: 401, error: "invalid_client", code: 7_000_215)
        expectAzureError(
            idp.pollDevice(
                confidential, client: confidentialID,
                extra: [("client_secret", confidentialSecret)]),
            status: 400, error: "authorization_pending", code: 70016)
        // With it, no credential is needed, but a wrong one is still refused.
        let allowed = try #require(idp.deviceCode(client: deviceID)["device_code"] as? String)
        expectAzureError(
            idp.pollDevice(allowed, client: deviceID), status: 400, error: "authorization_pending",
            code: 70016)
        expectAzureError(
            idp.pollDevice(allowed, client: deviceID, extra: [("client_secret", "nope")]), status: 401,
            error: "invalid_client", code: 7_000_215)
        #expect(idp.provider.approveDevice() == 2)
        #expect(idp.pollDevice(allowed, client: deviceID).status == 200)
        #expect(
            idp.pollDevice(confidential, client: confidentialID, extra: [("client_secret", confidentialSecret)])
                .status == 200)
        // "Allow public client flows" does not extend to the other grants.
        let code = try #require(idp.code(client: deviceID))
        expectAzureError(idp.redeem(code, client: deviceID), status: 401, error: "invalid_client", code: 7_000_218)
    }
}
