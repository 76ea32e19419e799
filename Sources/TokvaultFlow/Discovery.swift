import Foundation
import TokvaultVault

/// OpenID Connect discovery (OpenID Connect Discovery 1.0 §4; RFC 8414 for the issuer rule).
package struct DiscoveryDocument: Decodable, Sendable, Equatable {
    package var issuer: String
    package var authorizationEndpoint: String
    package var tokenEndpoint: String
    package var deviceAuthorizationEndpoint: String?
    package var tokenEndpointAuthMethodsSupported: [String]?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case deviceAuthorizationEndpoint = "device_authorization_endpoint"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
    }

    /// The document URL for an issuer: `{issuer}/.well-known/openid-configuration`.
    package static func url(for issuer: String) -> String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
    }

    /// Parses and checks a document fetched for `expectedIssuer`.
    package static func parse(_ data: Data, expectedIssuer: String) throws -> DiscoveryDocument {
        guard let document = try? JSONDecoder().decode(DiscoveryDocument.self, from: data) else {
            throw FlowError.failure(
                "the discovery document of \(expectedIssuer) is not OpenID Connect metadata (missing issuer, authorization_endpoint or token_endpoint)",
                hint: "check the issuer URL; it is the part before /.well-known/openid-configuration")
        }
        // The issuer in the document must be exactly the one asked for; otherwise the document
        // could point tokvault (and the client secret) at someone else's endpoints.
        guard document.issuer == expectedIssuer else {
            throw FlowError.failure(
                "the discovery document of \(expectedIssuer) names another issuer: \(Display.printable(document.issuer))",
                hint: "give \(.option(.issuer)) exactly as the server publishes it (including any trailing slash)")
        }
        _ = try EndpointRules.validateEndpoint(
            document.authorizationEndpoint, option: "authorization_endpoint (discovery)")
        _ = try EndpointRules.validateEndpoint(document.tokenEndpoint, option: "token_endpoint (discovery)")
        if let device = document.deviceAuthorizationEndpoint {
            _ = try EndpointRules.validateEndpoint(device, option: "device_authorization_endpoint (discovery)")
        }
        return document
    }

    /// The client authentication to use: what the server lists, client_secret_basic when it
    /// lists nothing (the OAuth default).
    package var preferredClientAuth: App.ClientAuth {
        guard let methods = tokenEndpointAuthMethodsSupported, !methods.isEmpty else { return .basic }
        if methods.contains("client_secret_basic") { return .basic }
        if methods.contains("client_secret_post") { return .post }
        return .basic
    }

    /// Fetches and checks the document (https only, except loopback; no redirects; 1 MiB cap).
    package static func fetch(issuer: String) async throws -> DiscoveryDocument {
        _ = try EndpointRules.validateEndpoint(issuer, option: "--issuer")
        let url = Self.url(for: issuer)
        let answer: (status: UInt, body: Data)
        do {
            answer = try await HTTPSession.get(
                url, connectTimeout: .seconds(10), readTimeout: .seconds(30), limit: 1 << 20)
        } catch let error as FlowError {
            throw error
        } catch {
            throw FlowError(
                .unreachable, "cannot fetch \(url): \(TokenClient.describe(error))",
                hint: "check the issuer URL, the network and HTTPS_PROXY/NO_PROXY")
        }
        guard answer.status == 200 else {
            throw FlowError.failure(
                "\(url) answered HTTP \(answer.status)",
                hint: "check the issuer URL; OpenID Connect servers publish their metadata there")
        }
        return try parse(answer.body, expectedIssuer: issuer)
    }
}
