// Tests of the fake identity provider: the OpenID configuration document (DiscoveryEndpoint.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPDiscoveryTests {
    @Test func discoveryDocument() throws {
        let idp = try IdP()
        let reply = http("GET", "\(idp.base)/\(tid)/v2.0/.well-known/openid-configuration")
        #expect(reply.status == 200)
        let doc = reply.json
        #expect(doc["issuer"] as? String == "\(idp.base)/\(tid)/v2.0")
        #expect(doc["authorization_endpoint"] as? String == "\(idp.base)/\(tid)/oauth2/v2.0/authorize")
        #expect(doc["token_endpoint"] as? String == "\(idp.base)/\(tid)/oauth2/v2.0/token")
        #expect(doc["device_authorization_endpoint"] as? String == "\(idp.base)/\(tid)/oauth2/v2.0/devicecode")
        #expect(
            doc["token_endpoint_auth_methods_supported"] as? [String]
                == ["client_secret_post", "private_key_jwt", "client_secret_basic"])
        #expect(doc["code_challenge_methods_supported"] as? [String] == ["S256"])
        #expect((doc["response_modes_supported"] as? [String])?.contains("form_post") == true)
        // Like Azure, the multi-tenant aliases publish a placeholder issuer.
        let common = http("GET", "\(idp.base)/common/v2.0/.well-known/openid-configuration").json
        #expect(common["issuer"] as? String == "\(idp.base)/{tenantid}/v2.0")
        #expect(common["token_endpoint"] as? String == "\(idp.base)/common/oauth2/v2.0/token")
        let bad = http("GET", "\(idp.base)/contoso.example/v2.0/.well-known/openid-configuration")
        #expect(bad.status == 400 && bad.errorCodes == [90002])
        let device = http(
            "POST", "\(idp.base)/\(tid)/oauth2/v2.0/devicecode",
            form: [("client_id", publicID), ("scope", "openid")])
        #expect(device.status == 200 && device.json["device_code"] is String)
    }
}
