import AsyncHTTPClient
import Foundation
import TokvaultVault

/// `HTTPS_PROXY` / `NO_PROXY`, as curl reads them (AsyncHTTPClient does not read them itself).
/// Loopback hosts are always reached directly.
package struct ProxySettings: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var username: String?
    package var password: String?

    /// The proxy for `url`'s host, or nil for a direct connection.
    package static func forURL(_ url: String, environment: (String) -> String? = VaultFile.environment) throws
        -> ProxySettings?
    {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return nil }
        if EndpointRules.isLoopbackHost(host) { return nil }
        guard components.scheme?.lowercased() == "https" else { return nil }
        let raw =
            environment("HTTPS_PROXY") ?? environment("https_proxy") ?? environment("ALL_PROXY")
            ?? environment("all_proxy")
        guard let raw, !raw.isEmpty else { return nil }
        let noProxy = environment("NO_PROXY") ?? environment("no_proxy") ?? ""
        if bypasses(host: host, port: components.port ?? 443, noProxy: noProxy) { return nil }
        return try parse(raw)
    }

    static func parse(_ raw: String) throws -> ProxySettings {
        let text = raw.contains("://") ? raw : "http://" + raw
        guard let c = URLComponents(string: text), let host = c.host, !host.isEmpty else {
            throw FlowError.usage(
                "HTTPS_PROXY=\(RedirectParser.redactedProxy(raw)) is not a proxy URL",
                hint: "e.g. HTTPS_PROXY=http://proxy.example.com:3128")
        }
        guard c.scheme?.lowercased() == "http" else {
            throw FlowError.usage(
                "HTTPS_PROXY: only http:// proxies (CONNECT) are supported, not \(c.scheme ?? "?")://")
        }
        // URLComponents has already percent-decoded user and password (`+` stays `+`).
        return ProxySettings(host: host, port: c.port ?? 80, username: c.user, password: c.password)
    }

    /// NO_PROXY: comma-separated hosts or domain suffixes (`example.com` and `.example.com`
    /// both match subdomains), optional `:port`, or `*` for everything.
    static func bypasses(host: String, port: Int, noProxy: String) -> Bool {
        for entry in noProxy.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() })
        where !entry.isEmpty {
            if entry == "*" { return true }
            var pattern = entry
            if let colon = pattern.lastIndex(of: ":"), !pattern.hasPrefix("["),
                let p = Int(pattern[pattern.index(after: colon)...])
            {
                if p != port { continue }
                pattern = String(pattern[..<colon])
            }
            if pattern.hasPrefix("*.") { pattern.removeFirst() }
            let bare = pattern.hasPrefix(".") ? String(pattern.dropFirst()) : pattern
            if host == bare || host.hasSuffix("." + bare) { return true }
        }
        return false
    }

    var configuration: HTTPClient.Configuration.Proxy {
        if let username {
            return .server(host: host, port: port, authorization: .basic(username: username, password: password ?? ""))
        }
        return .server(host: host, port: port)
    }
}

extension RedirectParser {
    /// A proxy URL without its password, for messages.
    static func redactedProxy(_ raw: String) -> String {
        guard let at = raw.lastIndex(of: "@") else { return raw }
        let scheme = raw.range(of: "://").map { String(raw[..<$0.upperBound]) } ?? ""
        return scheme + "REDACTED@" + raw[raw.index(after: at)...]
    }
}
