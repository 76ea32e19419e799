import Foundation
import TokvaultFlow
import TokvaultVault

/// One default request header of an app (`add-app/set --header 'Name: value'`).
package struct RequestHeader: Equatable, Sendable {
    package var name: String
    package var value: String

    package init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    package var line: String { "\(name): \(value)" }
}

/// What `tokvault curl` adds to every request of an app: its stored headers and API base
/// (docs/vault-format.md §2, columns `request_headers` and `api_base`), and where it may send
/// the token.
package enum RequestDefaults {
    /// Headers tokvault sets itself or that would carry a secret in a public column.
    static let refusedHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "host", "content-length", "transfer-encoding"
    ]

    /// `Name: value` as given on the command line.
    package static func parseHeader(_ text: String) throws -> RequestHeader {
        guard let colon = text.firstIndex(of: ":") else {
            throw UseCaseError.usage(
                "--header \"\(Display.printable(text))\" is not Name: value",
                hint: "e.g. --header 'data-partition-id: opendes'")
        }
        let name = String(text[..<colon])
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        try validateName(name)
        guard !value.isEmpty else {
            throw UseCaseError.usage(
                "--header \(name) has no value",
                hint: "remove a stored header with `tokvault set APP --remove-header \(name)`")
        }
        guard value.utf8.count <= 8192 else { throw UseCaseError.usage("--header \(name): the value is over 8 KiB") }
        guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw UseCaseError.usage(
                "--header \(name): the value must be printable ASCII (no control characters, line breaks or non-ASCII)")
        }
        guard !refusedHeaders.contains(name.lowercased()) else {
            throw UseCaseError.usage(
                "--header \(name) cannot be stored",
                hint: name.lowercased() == "authorization"
                    ? "tokvault curl sends the app's access token as the Authorization header itself"
                    : "stored headers are public columns of the vault, and tokvault curl does not set \(name)")
        }
        return RequestHeader(name: name, value: value)
    }

    /// An RFC 9110 field name: a token.
    static func validateName(_ name: String) throws {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        guard !name.isEmpty, name.utf8.count <= 256, name.utf8.allSatisfy({ tchar.contains($0) }) else {
            throw UseCaseError.usage(
                "invalid header name \"\(Display.printable(name))\"",
                hint: "a header name is letters, digits and !#$%&'*+-.^_`|~, e.g. data-partition-id")
        }
    }

    /// The stored column: one `Name: value` per line, nil when there is none.
    package static func encode(_ headers: [RequestHeader]) -> String? {
        headers.isEmpty ? nil : headers.map(\.line).joined(separator: "\n")
    }

    /// The stored headers (the column is bound to the data key before anything is sent).
    package static func decode(_ column: String?) -> [RequestHeader] {
        guard let column else { return [] }
        return column.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return RequestHeader(
                name: String(line[..<colon]),
                value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// `headers` with `added` set (replacing any of the same name, in place) and `removed` gone.
    package static func merge(_ headers: [RequestHeader], adding added: [RequestHeader], removing removed: [String])
        throws -> [RequestHeader]
    {
        var out = headers
        for name in removed {
            guard out.contains(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw UseCaseError.usage(
                    "the app has no stored header \(Display.printable(name))",
                    hint: "`tokvault show APP` lists its headers")
            }
            out.removeAll { $0.name.lowercased() == name.lowercased() }
        }
        for header in added {
            if let index = out.firstIndex(where: { $0.name.lowercased() == header.name.lowercased() }) {
                out[index] = header
            } else {
                out.append(header)
            }
        }
        guard out.count <= 32 else { throw UseCaseError.usage("an app keeps at most 32 request headers") }
        return out
    }

    /// An API base: an https URL (http only to a loopback host) without credentials, query or
    /// fragment; stored without a trailing slash.
    package static func validateAPIBase(_ text: String) throws -> String {
        _ = try EndpointRules.validateEndpoint(text, option: "--api-base")
        guard let url = URLComponents(string: text), url.query == nil else {
            throw UseCaseError.usage("--api-base \"\(Display.printable(text))\" must not have a ?query")
        }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// Whether `text` starts with a URL scheme and `://`.
    package static func isAbsolute(_ text: String) -> Bool {
        text.range(of: "^[A-Za-z][A-Za-z0-9+.-]*://", options: .regularExpression) != nil
    }

    /// `scheme://host[:port]`, lowercased, the port left out when it is the scheme's default.
    package static func origin(of text: String) -> String? {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            let host = url.host?.lowercased(), !host.isEmpty
        else { return nil }
        let port = url.port.flatMap { port -> Int? in
            (scheme == "https" && port == 443) || (scheme == "http" && port == 80) ? nil : port
        }
        return "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }

    /// The URL `tokvault curl APP TARGET` requests: TARGET itself when absolute (https, or http to
    /// loopback; to the API base's origin unless `anyOrigin`), else TARGET appended to the API base.
    package static func resolve(_ target: String, apiBase: String?, anyOrigin: Bool, appName: String) throws -> String {
        guard isAbsolute(target) else {
            guard let apiBase else {
                throw UseCaseError.usage(
                    "\"\(Display.printable(target))\" is not an absolute URL, and app \"\(appName)\" has no API base",
                    hint: "give https://HOST/PATH, or store one: `tokvault set \(appName) --api-base https://HOST`")
            }
            guard !target.isEmpty, target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw UseCaseError.usage("invalid path \"\(Display.printable(target))\"")
            }
            return apiBase + (target.hasPrefix("/") ? "" : "/") + target
        }
        _ = try EndpointRules.validateEndpoint(target, option: "tokvault curl")
        if let apiBase, !anyOrigin, origin(of: target) == nil || origin(of: target) != origin(of: apiBase) {
            throw UseCaseError.usage(
                "\(Display.printable(target)) is not at the API base \(apiBase) of app \"\(appName)\"; "
                    + "the app's token is not sent to another origin",
                hint: "give a path below the API base, or pass --any-origin if the token is meant for that server")
        }
        return target
    }
}
