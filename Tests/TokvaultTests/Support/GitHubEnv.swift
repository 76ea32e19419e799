import Foundation

/// $GITHUB_ENV: `NAME=value` lines, or `NAME<<DELIMITER` … `DELIMITER` blocks.
func parseGitHubEnv(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    var lines = text.components(separatedBy: "\n")[...]
    while let line = lines.popFirst() {
        if let range = line.range(of: "<<") {
            let name = String(line[..<range.lowerBound])
            let delimiter = String(line[range.upperBound...])
            var value: [String] = []
            while let next = lines.popFirst(), next != delimiter { value.append(next) }
            out[name] = value.joined(separator: "\n")
        } else if let eq = line.firstIndex(of: "=") {
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
    }
    return out
}
