@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// Apps made as `add-app` makes them, for the suites that drive the OAuth protocol layer
/// without the command line.
enum FlowFixture {
    static let clientID = "0b6a2f1e-1111-4c4c-9a9a-123456789abc"

    static func azureApp(
        tenant: String = "contoso.onmicrosoft.com", scope: String? = nil, authorityHost: String? = nil,
        redirectURI: String? = nil, isPublic: Bool = false
    ) throws -> App {
        var fields = AppFields()
        fields.tenant = tenant
        fields.clientID = clientID
        fields.scope = scope
        fields.authorityHost = authorityHost
        fields.redirectURI = redirectURI
        return try AppSpec.newApp(name: "adme", fields: fields, isPublic: isPublic)
    }

    static func genericApp(clientID: String = "my-client", scope: String = "openid offline_access") throws -> App {
        var fields = AppFields()
        fields.clientID = clientID
        fields.authorizeEndpoint = "https://idp.example.com/authorize?tenant=x"
        fields.tokenEndpoint = "https://idp.example.com/token"
        fields.scope = scope
        return try AppSpec.newApp(name: "generic", fields: fields, isPublic: false)
    }

    /// Decoded query of a URL or form body, as name → values.
    static func fields(_ query: Substring) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for field in FormEncoding.parse(query) ?? [] { out[field.name, default: []].append(field.value) }
        return out
    }
}
