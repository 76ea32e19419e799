import ArgumentParser
import Foundation
import TokvaultUseCases
import TokvaultVault

/// Public app fields shared by add-app and set.
struct AppFieldOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Azure directory (tenant) id or domain.", valueName: "tenant"))
    var tenant: String?

    @Option(name: .long, help: ArgumentHelp("Application (client) id.", valueName: "id"))
    var clientID: String?

    @Option(
        name: .long, help: ArgumentHelp("Azure cloud: public, usgov or china (default public).", valueName: "cloud"))
    var cloud: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Azure authority host instead of --cloud, e.g. login.microsoftonline.us.", valueName: "host")
    )
    var authorityHost: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Authorization endpoint of a non-Azure OAuth server (with --token-endpoint).", valueName: "url"))
    var authorizeEndpoint: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Token endpoint of a non-Azure OAuth server (with --authorize-endpoint).", valueName: "url"))
    var tokenEndpoint: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Redirect URI registered for the app (default http://localhost:8080).", valueName: "uri"))
    var redirectURI: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Scopes, space-separated (default: '{client_id}/.default openid profile offline_access' for Azure, 'openid offline_access' otherwise).",
            valueName: "scopes"))
    var scope: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Client authentication: post or basic (default post for Azure, basic otherwise).", valueName: "method"))
    var clientAuth: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How tokens are obtained: authorization-code (a user signs in; default) or client-credentials (the app as itself, no user).",
            valueName: "flow"))
    var flow: String?

    @Option(
        name: .customLong("header"),
        help: ArgumentHelp(
            "A header `tokvault curl` sends with every request of the app, e.g. 'data-partition-id: opendes' (repeatable; replaces a stored one of the same name; stored readable, so no secrets).",
            valueName: "name: value"))
    var headers: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Base URL of the app's API: `tokvault curl APP /path` requests it, and sends the token to no other origin.",
            valueName: "url"))
    var apiBase: String?

    @Option(
        name: .customLong("client-capability"),
        help: ArgumentHelp(
            "A client capability to declare on every request, e.g. cp1 (continuous access evaluation; repeatable).",
            valueName: "name"))
    var clientCapabilities: [String] = []

    func fields() throws -> AppFields {
        var fields = AppFields()
        fields.tenant = tenant
        fields.clientID = clientID
        if let cloud {
            guard let parsed = AppSpec.Cloud(rawValue: cloud.lowercased()) else {
                throw CommandError.usage(
                    "unknown --cloud \"\(Display.printable(cloud))\"",
                    hint: "use public, usgov or china, or --authority-host HOST")
            }
            fields.cloud = parsed
        }
        fields.authorityHost = authorityHost
        fields.authorizeEndpoint = authorizeEndpoint
        fields.tokenEndpoint = tokenEndpoint
        fields.redirectURI = redirectURI
        fields.scope = scope
        fields.headers = try headers.map(RequestDefaults.parseHeader)
        fields.apiBase = apiBase
        if !clientCapabilities.isEmpty { fields.clientCapabilities = clientCapabilities }
        if let clientAuth {
            switch clientAuth.lowercased() {
            case "post", "client_secret_post": fields.clientAuth = .post
            case "basic", "client_secret_basic": fields.clientAuth = .basic
            default:
                throw CommandError.usage(
                    "unknown --client-auth \"\(Display.printable(clientAuth))\"", hint: "use post or basic")
            }
        }
        if let flow {
            switch flow.lowercased().replacingOccurrences(of: "_", with: "-") {
            case "authorization-code", "code": fields.flow = .authorizationCode
            case "client-credentials": fields.flow = .clientCredentials
            default:
                throw CommandError.usage(
                    "unknown --flow \"\(Display.printable(flow))\"",
                    hint:
                        "use authorization-code or client-credentials (the device code flow is `tokvault login APP --device`)"
                )
            }
        }
        return fields
    }
}
