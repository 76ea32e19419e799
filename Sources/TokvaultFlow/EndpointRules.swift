import Foundation
import TokvaultVault

/// Which URLs tokvault sends secrets to, and which hosts are this machine.
package enum EndpointRules {
    package static func isLoopbackHost(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" { return true }
        // 127.0.0.0/8, checked without a regex: NSRegularExpression loads ICU's tables, which
        // costs more than the rest of a `token` refresh.
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127"
            && octets.allSatisfy { (1...3).contains($0.count) && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    /// An endpoint tokvault may send secrets to: https, or http on a loopback host.
    package static func validateEndpoint(_ text: String, option: String) throws -> String {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            let host = url.host, !host.isEmpty
        else {
            throw FlowError.usage(
                "\(option): \"\(Display.printable(text))\" is not an absolute URL",
                hint: "e.g. https://login.example.com/oauth2/token")
        }
        guard url.user == nil, url.password == nil else {
            throw FlowError.usage(
                "\(option): credentials in the URL are not allowed",
                hint: "the client secret is read from \(.option(.secretInput))")
        }
        guard url.fragment == nil else {
            throw FlowError.usage("\(option): \"\(Display.printable(text))\" must not have a #fragment")
        }
        guard scheme == "https" || (scheme == "http" && isLoopbackHost(host)) else {
            throw FlowError.usage(
                "\(option): \"\(Display.printable(text))\" is not https",
                hint: "tokens and secrets are only sent over https (plain http only to localhost/127.0.0.1/[::1])")
        }
        return text
    }
}
