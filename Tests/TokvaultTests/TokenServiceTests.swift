import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// The issuer an app's ID tokens must name, and the token cache's scope keys.
@Suite("token service")
struct TokenServiceTests {
    @Test func expectedIssuerForAGUIDTenant() throws {
        let app = try FlowFixture.azureApp(tenant: "72F988BF-86F1-41AF-91AB-2D7CD011DB47")
        #expect(
            TokenService.expectedIssuer(for: app)
                == "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0")
    }

    @Test(arguments: ["contoso.onmicrosoft.com", "organizations", "common"])
    func expectedIssuerForADomainTenantIsATemplate(_ tenant: String) throws {
        let app = try FlowFixture.azureApp(tenant: tenant)
        #expect(TokenService.expectedIssuer(for: app) == "https://login.microsoftonline.com/{tenantid}/v2.0")
    }

    @Test func expectedIssuerKeepsSchemeAndPortOfALoopbackAuthority() throws {
        let app = try FlowFixture.azureApp(
            tenant: "00000000-0000-0000-0000-0000000000aa", authorityHost: "http://127.0.0.1:49152")
        #expect(app.tokenEndpoint.hasPrefix("http://127.0.0.1:49152/"))
        #expect(
            TokenService.expectedIssuer(for: app) == "http://127.0.0.1:49152/00000000-0000-0000-0000-0000000000aa/v2.0")
        let sovereign = try FlowFixture.azureApp(
            tenant: "contoso.onmicrosoft.us", authorityHost: "login.microsoftonline.us")
        #expect(TokenService.expectedIssuer(for: sovereign) == "https://login.microsoftonline.us/{tenantid}/v2.0")
    }

    @Test func expectedIssuerIsUnknownForGenericServers() throws {
        var app = try FlowFixture.genericApp()
        #expect(TokenService.expectedIssuer(for: app) == nil)
        // Apps added by discovery carry their issuer, which wins.
        app.issuer = "https://idp.example.com"
        #expect(TokenService.expectedIssuer(for: app) == "https://idp.example.com")
    }

    @Test func scopeKeyNormalizesAndDefaults() throws {
        let app = try FlowFixture.azureApp()
        #expect(TokenService.scopeKey(nil, app: app) == "")
        #expect(TokenService.scopeKey(app.scope, app: app) == "")
        #expect(
            TokenService.scopeKey("  other/.default   offline_access ", app: app) == "other/.default offline_access")
    }
}
