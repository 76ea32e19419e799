import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// Token request bodies and client authentication (TokenClient.requestBody).
@Suite("token request bodies")
struct TokenClientTests {
    @Test func clientSecretPostForCodeGrant() throws {
        let app = try FlowFixture.azureApp()
        #expect(app.clientAuth == .post)
        let (body, basic) = try TokenClient.requestBody(
            app: app,
            grant: .authorizationCode(
                code: secure("the-code"), verifier: secure("the-verifier"), redirectURI: "http://localhost:8080/cb"),
            clientSecret: secure("s3cr+t&="))
        #expect(basic == nil)
        let encoded = plaintext(body.encoded())
        let f = FlowFixture.fields(encoded[...])
        #expect(f["grant_type"] == ["authorization_code"])
        #expect(f["code"] == ["the-code"])
        #expect(f["code_verifier"] == ["the-verifier"])
        #expect(f["redirect_uri"] == ["http://localhost:8080/cb"])
        #expect(f["scope"] == [app.scope])
        #expect(f["client_id"] == [FlowFixture.clientID])
        #expect(f["client_secret"] == ["s3cr+t&="])
        #expect(encoded.contains("client_secret=s3cr%2Bt%26%3D"))
        #expect(f.values.allSatisfy { $0.count == 1 })
    }

    @Test func clientSecretPostForRefreshGrantSendsTheGivenScope() throws {
        let app = try FlowFixture.azureApp()
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .refreshToken(secure("rt-1"), scope: "other/.default offline_access"),
            clientSecret: secure("s"))
        #expect(basic == nil)
        let f = FlowFixture.fields(plaintext(body.encoded())[...])
        #expect(f["grant_type"] == ["refresh_token"])
        #expect(f["refresh_token"] == ["rt-1"])
        #expect(f["scope"] == ["other/.default offline_access"])
        #expect(f["client_secret"] == ["s"])
        #expect(f["code_verifier"] == nil && f["code"] == nil)
    }

    @Test func clientSecretBasicFormEncodesIdAndSecretBeforeBase64() throws {
        let app = try FlowFixture.genericApp(clientID: "my.client:1")
        #expect(app.clientAuth == .basic)
        let (body, basic) = try TokenClient.requestBody(
            app: app, grant: .refreshToken(secure("rt"), scope: app.scope), clientSecret: secure("p@ss:w+rd é"))
        let f = FlowFixture.fields(plaintext(body.encoded())[...])
        #expect(f["client_secret"] == nil && f["client_id"] == nil, "basic auth keeps the credentials out of the body")
        #expect(f["scope"] == ["openid offline_access"])
        // Independently: form-encode by hand, then base64.
        let pair = "my.client%3A1:p%40ss%3Aw%2Brd%20%C3%A9"
        let expected = "Basic " + Data(pair.utf8).base64EncodedString()
        #expect(basic.map(plaintext) == expected)
    }

    @Test func publicClientSendsNoSecret() throws {
        let app = try FlowFixture.azureApp(isPublic: true)
        #expect(app.clientAuth == .none)
        let (body, basic) = try TokenClient.requestBody(
            app: app,
            grant: .authorizationCode(code: secure("c"), verifier: secure("v"), redirectURI: "http://localhost"),
            clientSecret: secure("ignored-secret"))
        #expect(basic == nil)
        let encoded = plaintext(body.encoded())
        #expect(!encoded.contains("ignored-secret") && !encoded.contains("client_secret"))
        let f = FlowFixture.fields(encoded[...])
        #expect(f["client_id"] == [FlowFixture.clientID])
        #expect(f["code_verifier"] == ["v"])
        #expect(f["scope"] == [app.scope])
    }

    @Test func confidentialClientWithoutSecretIsRefused() throws {
        for app in [try FlowFixture.azureApp(), try FlowFixture.genericApp()] {
            do {
                _ = try TokenClient.requestBody(
                    app: app, grant: .refreshToken(secure("rt"), scope: "x"), clientSecret: nil)
                Issue.record("\(app.clientAuth) without a secret was accepted")
            } catch let error as FlowError {
                #expect(error.exitCode == 1)
                #expect(error.shownHint?.contains("--secret-prompt") == true)
            }
        }
    }
}
