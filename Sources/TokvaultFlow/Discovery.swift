import AsyncHTTPClient
import Foundation
import NIOCore
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
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(30)),
            proxy: try ProxySettings.forURL(url)?.configuration)
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "tokvault")
            let deadline = NIODeadline.now() + .seconds(40)
            let response = try await client.execute(request, deadline: deadline)
            let body = try await TokenClient.collect(response.body, upTo: 1 << 20, deadline: deadline)
            try await client.shutdown()
            guard response.status == .ok else {
                throw FlowError.failure(
                    "\(url) answered HTTP \(response.status.code)",
                    hint: "check the issuer URL; OpenID Connect servers publish their metadata there")
            }
            return try parse(Data(body.readableBytesView), expectedIssuer: issuer)
        } catch let error as FlowError {
            try? await client.shutdown()
            throw error
        } catch {
            try? await client.shutdown()
            throw FlowError(
                .unreachable, "cannot fetch \(url): \(TokenClient.describe(error))",
                hint: "check the issuer URL, the network and HTTPS_PROXY/NO_PROXY")
        }
    }
}
