import Foundation
import TokvaultVault

/// The curl options `tokvault curl` passes on, read the way curl reads them: every word that is
/// not an option or an option's value is another URL, which would get the app's token too. The
/// options and which take a value come from the installed curl's own `--help all`, so that
/// clustered short options (`-sK file`, `-Kfile`) are seen as curl sees them. Long options are
/// taken by their exact names only: curl also accepts unique prefixes, but of a table that
/// holds names `--help all` does not list (`--keepalive` is a flag, `--keepalive-time` is not),
/// so an abbreviation is refused rather than guessed.
package struct CurlArguments {
    /// Long option name (without `--`) → whether it takes a value.
    package var takesValue: [String: Bool] = [:]
    /// Short option letter → its long name.
    package var short: [Character: String] = [:]

    /// Options that would send the token elsewhere, read other options, or undo the protocol
    /// limits tokvault sets.
    static let refused: Set<String> = [
        "next", "config", "proto", "proto-redir", "proto-default", "location-trusted",
        // Connect somewhere else than the URL names.
        "connect-to", "resolve", "unix-socket", "abstract-unix-socket"
    ]
    /// For a plain-http loopback URL (tokvault sets --noproxy '*'): a proxy would see the token.
    static let refusedForLoopback: Set<String> = [
        "noproxy", "proxy", "proxy1.0", "preproxy", "socks4", "socks4a", "socks5", "socks5-hostname"
    ]
    /// Options that take a value whatever their help line looks like (`-x, --proxy
    /// [protocol://]host[:port]`): a layout change must not make them flags.
    static let alwaysTakeValue: Set<String> = ["proxy", "preproxy", "url", "config", "output", "data", "header"]

    /// From `curl --help all`: lines such as ` -d, --data <data>  HTTP POST data`.
    package init(help: String) {
        for line in help.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            var index = 0
            var letter: Character?
            if let first = words.first, first.count == 3, first.hasPrefix("-"), first.hasSuffix(",") {
                letter = first.dropFirst().first
                index = 1
            }
            guard index < words.count, words[index].hasPrefix("--") else { continue }
            let name = String(words[index].dropFirst(2))
            let value = index + 1 < words.count && (words[index + 1].hasPrefix("<") || words[index + 1].hasPrefix("["))
            takesValue[name] = value || Self.alwaysTakeValue.contains(name)
            if let letter { short[letter] = name }
        }
    }

    /// The long option `word` (without `--`) names: exact, or the `no-` form of a flag.
    func resolve(_ word: String) -> String? {
        if takesValue[word] != nil { return word }
        if word.hasPrefix("no-"), let flag = takesValue[String(word.dropFirst(3))], !flag {
            return String(word.dropFirst(3))
        }
        return nil
    }

    /// Refuses what would take the token elsewhere; with `anyOrigin`, other URLs (words and
    /// `--url`) are the user's to give.
    package func check(_ arguments: [String], anyOrigin: Bool, loopback: Bool) throws {
        var index = arguments.startIndex
        func refuse(_ what: String) -> UseCaseError {
            UseCaseError.usage(
                "tokvault curl does not pass \(Display.printable(what)) on: it would send the app's token elsewhere or lift the limits tokvault sets",
                hint: "run one tokvault curl per request, with one URL")
        }
        func option(_ name: String, shown: String) throws -> Bool {
            if Self.refused.contains(name) || (loopback && Self.refusedForLoopback.contains(name)) {
                throw refuse(shown)
            }
            if name == "url" && !anyOrigin { throw refuse(shown) }
            return takesValue[name] ?? false
        }
        while index < arguments.endIndex {
            let word = arguments[index]
            index += 1
            if word == "--" { throw refuse("--") }
            if word.hasPrefix("--") {
                guard let name = resolve(String(word.dropFirst(2))) else {
                    throw UseCaseError.usage(
                        "curl has no option \(Display.printable(word)) in `curl --help all`",
                        hint: "give curl's options by their full names")
                }
                if try option(name, shown: word) { index += 1 }
            } else if word.hasPrefix("-") && word.count > 1 {
                // A cluster: flags until one that takes a value, which is the rest of the word or the next.
                var letters = word.dropFirst()
                while let letter = letters.first {
                    letters = letters.dropFirst()
                    guard let name = short[letter] else {
                        throw UseCaseError.usage(
                            "curl has no option -\(Display.printable(String(letter))) (in \(Display.printable(word)))",
                            hint: "see `curl --help all`")
                    }
                    if try option(name, shown: "-\(letter) (\(word))") {
                        if letters.isEmpty { index += 1 }
                        break
                    }
                }
            } else if !anyOrigin {
                throw UseCaseError.usage(
                    "\(Display.printable(word)) among the curl options is a URL to curl: it would get the app's token too",
                    hint: "give one URL (or pass --any-origin if the token is meant for it); quote option values")
            }
        }
    }
}
