import Foundation
import TokvaultFlow
import TokvaultVault

/// `export --format curl`: a bash script that performs the token request with curl (the
/// Postman replacement). Secrets never reach curl's argv, which every user can read in
/// /proc: they are passed as `--data-urlencode name@<(printf %s "$VAR")` (printf is a bash
/// builtin, so no process sees them either) and the Authorization header is read from a file
/// descriptor with `-H @…`.
package struct CurlSnippet: Sendable {
    package var appName: String
    package var tokenEndpoint: String
    package var clientID: String
    package var scope: String
    package var clientAuth: App.ClientAuth
    /// The app gets tokens as itself: a client_credentials request, no refresh token.
    package var clientCredentials: Bool
    /// Secret values to define in the script (--with-secrets), or nil to expect them in the environment.
    package var clientSecret: SecureBytes?
    package var refreshToken: SecureBytes?
    package var defineSecrets = false
    /// Inline the secrets' values (shell-quoted) where they are used, instead of "$VARS".
    package var revealSecrets = false
    package var apiURL: String?
    /// The app's stored headers (`add-app/set --header`) first, then any given to export.
    package var headers: [String] = []
    /// The app's API base, against which a relative `--url` is resolved.
    package var apiBase: String?

    package init(app: App) {
        appName = app.name
        tokenEndpoint = app.tokenEndpoint
        clientID = app.clientID
        scope = app.scope
        clientAuth = app.clientAuth
        clientCredentials = app.usesClientCredentialsFlow
        headers = RequestDefaults.decode(app.requestHeaders).map(\.line)
        apiBase = app.apiBase
    }

    /// Single-quoted for bash: any bytes but NUL.
    static func quote(_ text: String) -> String {
        // Scalar by scalar: replacingOccurrences compares Characters and skips a "'" that a
        // combining mark joins into one Character, which would end the quoting early.
        var out = "'"
        for scalar in text.unicodeScalars {
            if scalar == "'" { out += "'\\''" } else { out.unicodeScalars.append(scalar) }
        }
        return out + "'"
    }

    static func quote(_ secret: SecureBytes) throws -> String {
        try secret.withUnsafeBytes { bytes in
            guard !bytes.contains(0), let text = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
            else {
                throw UseCaseError.failure("a secret is not text without NUL bytes; it cannot be put in a script")
            }
            return quote(text)
        }
    }

    /// What every curl call of the script starts with: `-q` first (curl reads ~/.curlrc
    /// unless -q is its first argument, and a .curlrc can add a proxy, a trace file, -L or
    /// headers), then the protocols `url` may use: https only, plain http only for a
    /// loopback URL (which no proxy may carry); redirects, should a .curlrc-free curl ever
    /// follow one, only to https.
    static func curlPrefix(for url: String) throws -> String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), let host = parts.host
        else {
            throw UseCaseError.usage("\(Display.printable(url)) is not an absolute URL")
        }
        switch scheme {
        case "https": return "curl -q --proto =https --proto-redir =https"
        case "http" where EndpointRules.isLoopbackHost(host):
            return "curl -q --proto =http --proto-redir =https --noproxy '*'"
        default:
            throw UseCaseError.usage(
                "\(Display.printable(url)) is not https",
                hint: "plain http is only used with localhost, 127.0.0.1 or [::1]")
        }
    }

    /// The script; `spell` writes the tokvault commands its comments and checks name.
    package func render(spelling spell: (Action) -> String) throws -> SecureBytes {
        for header in headers {
            guard header.contains(":"), !header.contains("\n"), !header.contains("\r") else {
                throw UseCaseError.usage("--header takes 'Name: value' on one line")
            }
        }
        if let apiURL { _ = try EndpointRules.validateEndpoint(apiURL, option: "--url") }
        if clientAuth == .privateKeyJWT {
            throw UseCaseError.usage(
                "app \"\(appName)\" authenticates with a certificate: a curl script cannot sign its client assertion",
                hint:
                    "let tokvault get the token: `curl -H @<(printf 'Authorization: Bearer %s\\n' \"$(\(.getToken(appName)))\") URL`, or `\(.runCommand(appName))`"
            )
        }
        if clientAuth == .federatedAssertion {
            throw UseCaseError.usage(
                "app \"\(appName)\" authenticates with a federated credential: tokvault fetches its assertion for every grant",
                hint:
                    "let tokvault get the token: `curl -H @<(printf 'Authorization: Bearer %s\\n' \"$(\(.getToken(appName)))\") URL`, or `\(.runCommand(appName))`"
            )
        }
        var lines: [String] = [
            "#!/usr/bin/env bash",
            "# Generated by `\(spell(.exportCurlScript(appName)))`: refreshes the access token of",
            "# \(appName) with curl\(apiURL == nil ? "" : " and calls the API"). Secrets are passed to curl through",
            "# file descriptors, never on its command line. Each curl call starts with -q (no ~/.curlrc)",
            "# and may use https only (plain http only to a loopback address)."
        ]
        if !clientCredentials {
            lines += [
                "# Note: a server that rotates refresh tokens hands back a new one; tokvault's stored copy",
                "# is then outdated, so run `\(spell(.signIn(appName, .plain)))` before using tokvault again for it."
            ]
        }
        lines += ["set -euo pipefail", ""]
        let needsSecret = clientAuth != .none
        var secretRef = "\"$AZURE_CLIENT_SECRET\""
        var refreshRef = "\"$REFRESH_TOKEN\""
        let needsRefresh = !clientCredentials
        if revealSecrets {
            if needsRefresh {
                guard let refreshToken else {
                    throw UseCaseError(
                        .loginRequired, "app \"\(appName)\" has no refresh token",
                        hint: "run `\(.signIn(appName, .plain))`")
                }
                refreshRef = try Self.quote(refreshToken)
            }
            if needsSecret {
                guard let clientSecret else { throw UseCaseError.failure("app \"\(appName)\" has no client secret") }
                secretRef = try Self.quote(clientSecret)
            }
        } else if defineSecrets {
            if needsRefresh {
                guard let refreshToken else {
                    throw UseCaseError(
                        .loginRequired, "app \"\(appName)\" has no refresh token",
                        hint: "run `\(.signIn(appName, .plain))`")
                }
                lines.append("REFRESH_TOKEN=\(try Self.quote(refreshToken))")
            }
            if needsSecret {
                guard let clientSecret else { throw UseCaseError.failure("app \"\(appName)\" has no client secret") }
                lines.append("AZURE_CLIENT_SECRET=\(try Self.quote(clientSecret))")
            }
        } else {
            if needsRefresh {
                lines.append(
                    ": \"${REFRESH_TOKEN:?set REFRESH_TOKEN (\(spell(.runScriptWithSecrets(appName))))}\""
                )
            }
            if needsSecret {
                lines.append(
                    ": \"${AZURE_CLIENT_SECRET:?set AZURE_CLIENT_SECRET (\(spell(.runScriptWithSecrets(appName))))}\""
                )
            }
        }
        lines += [
            "TOKEN_ENDPOINT=\(Self.quote(tokenEndpoint))",
            "command -v jq >/dev/null || { echo 'this script needs jq' >&2; exit 1; }",
            "",
            "response=$(\(try Self.curlPrefix(for: tokenEndpoint)) --silent --show-error --fail-with-body --request POST \"$TOKEN_ENDPOINT\" \\",
            "  --data-urlencode grant_type=\(clientCredentials ? "client_credentials" : "refresh_token") \\",
            "  --data-urlencode \(Self.quote("scope=" + scope)) \\"
        ]
        switch clientAuth {
        case .none, .post:
            lines.append("  --data-urlencode \(Self.quote("client_id=" + clientID)) \\")
            if clientAuth == .post {
                lines.append("  --data-urlencode \"client_secret@\"<(printf %s \(secretRef)) \\")
            }
        case .privateKeyJWT, .federatedAssertion:
            preconditionFailure("refused above")
        case .basic:
            // RFC 6749 §2.3.1: form-encoded id and secret, base64, in a header read from a descriptor.
            lines.append(
                "  --header @<(printf 'Authorization: Basic %s\\n' \"$(printf '%s:%s' \(Self.quote(FormEncoding.encode(clientID))) \"$(printf %s \(secretRef) | jq -sRr @uri)\" | base64 -w0)\") \\"
            )
        }
        if clientCredentials {
            // The last continuation line ends the command.
            lines[lines.count - 1] = String(lines[lines.count - 1].dropLast(2)) + ")"
        } else {
            lines.append("  --data-urlencode \"refresh_token@\"<(printf %s \(refreshRef)))")
        }
        lines += [
            "ACCESS_TOKEN=$(jq -r .access_token <<<\"$response\")",
            ""
        ]
        if let apiURL {
            var call =
                "\(try Self.curlPrefix(for: apiURL)) --silent --show-error --fail-with-body \(Self.quote(apiURL))"
            for header in headers { call += " \\\n  --header \(Self.quote(header))" }
            call += " \\\n  --header @<(printf 'Authorization: Bearer %s\\n' \"$ACCESS_TOKEN\")"
            lines.append(call)
        } else {
            lines.append("printf '%s\\n' \"$ACCESS_TOKEN\"")
        }
        var bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        return SecureBytes(consuming: &bytes)
    }
}
