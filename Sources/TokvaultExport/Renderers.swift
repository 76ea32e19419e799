import Foundation
import TokvaultVault

/// One exported variable. Values stay in guarded memory until rendered.
package struct ExportVariable: Sendable {
    package var name: String
    package var value: SecureBytes
    package var isSecret: Bool

    package init(name: String, value: SecureBytes, isSecret: Bool) {
        self.name = name
        self.value = value
        self.isSecret = isSecret
    }

    package init(name: String, text: String, isSecret: Bool = false) {
        var bytes = Array(text.utf8)
        self.init(name: name, value: SecureBytes(consuming: &bytes), isSecret: isSecret)
    }
}

/// Output formats, each quoted for the program that reads it.
package enum ExportFormat: String, CaseIterable, Sendable {
    case dotenv, shell, json, github, docker

    /// Renders `variables`; values a format cannot carry exactly are refused, naming the
    /// variable (never showing the value).
    package func render(_ variables: [ExportVariable], githubDelimiter: String? = nil) throws -> SecureBytes {
        for variable in variables { try ExportNames.validate(variable.name) }
        var out: [UInt8] = []
        switch self {
        case .shell:
            for v in variables {
                try v.value.withUnsafeBytes { bytes in
                    guard !bytes.contains(0) else {
                        throw refuse(v, "contains a NUL byte, which no shell variable can hold")
                    }
                    out += Array("export \(v.name)='".utf8)
                    // Inside single quotes only ' is special: close, escaped quote, reopen.
                    for byte in bytes {
                        if byte == UInt8(ascii: "'") { out += Array("'\\''".utf8) } else { out.append(byte) }
                    }
                    out += Array("'\n".utf8)
                }
            }
        case .dotenv:
            for v in variables {
                try v.value.withUnsafeBytes { bytes in
                    guard String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil, !bytes.contains(0)
                    else {
                        throw refuse(v, "is not UTF-8 text without NUL bytes")
                    }
                    // python-dotenv (and docker compose) expand ${…} even inside single quotes.
                    if zip(bytes, bytes.dropFirst()).contains(where: {
                        $0 == UInt8(ascii: "$") && $1 == UInt8(ascii: "{")
                    }) {
                        throw refuse(v, "contains \"${\", which dotenv readers expand; use --format shell or json")
                    }
                    // python-dotenv reads files with universal newlines: a carriage return would come
                    // back as "\n".
                    if bytes.contains(0x0D) {
                        throw refuse(
                            v,
                            "contains a carriage return, which dotenv readers turn into a line break; use --format shell or json"
                        )
                    }
                    // python-dotenv reads an escaped backslash right before the closing quote as an
                    // escaped quote, and the value runs on into the next lines.
                    if bytes.last == UInt8(ascii: "\\") {
                        throw refuse(
                            v, "ends with a backslash, which dotenv readers misread; use --format shell or json")
                    }
                    out += Array("\(v.name)='".utf8)
                    for byte in bytes {
                        switch byte {
                        case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                        case UInt8(ascii: "'"): out += Array("\\'".utf8)
                        default: out.append(byte)
                        }
                    }
                    out += Array("'\n".utf8)
                }
            }
        case .docker:
            // docker run --env-file: NAME=value per line, taken verbatim: no quoting exists.
            for v in variables {
                try v.value.withUnsafeBytes { bytes in
                    guard String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil else {
                        throw refuse(v, "is not UTF-8 text, which docker's --env-file cannot carry")
                    }
                    guard !bytes.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) else {
                        throw refuse(
                            v, "contains a line break or NUL, which docker's --env-file cannot carry; use --format json"
                        )
                    }
                    out += Array("\(v.name)=".utf8) + Array(bytes) + [0x0A]
                }
            }
        case .github:
            // $GITHUB_ENV: NAME<<DELIMITER, the value, DELIMITER — with a random delimiter.
            let delimiter = githubDelimiter ?? "ghadelimiter_" + UUID().uuidString
            for v in variables {
                try v.value.withUnsafeBytes { bytes in
                    guard !bytes.contains(0), String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil
                    else {
                        throw refuse(v, "is not UTF-8 text without NUL bytes")
                    }
                    guard !Data(bytes).contains(Data(delimiter.utf8)) else {
                        throw refuse(v, "contains the heredoc delimiter; run the command again for a new one")
                    }
                    out += Array("\(v.name)<<\(delimiter)\n".utf8) + Array(bytes) + Array("\n\(delimiter)\n".utf8)
                }
            }
        case .json:
            out += Array("{".utf8)
            for (index, v) in variables.sorted(by: { $0.name < $1.name }).enumerated() {
                try v.value.withUnsafeBytes { bytes in
                    guard let text = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
                        throw refuse(v, "is not UTF-8 text, which JSON strings cannot carry")
                    }
                    let encoded = try JSONEncoder().encode([v.name: text])
                    // {"NAME":"value"} → "NAME":"value"
                    out +=
                        (index == 0 ? Array("\n  ".utf8) : Array(",\n  ".utf8)) + Array(encoded.dropFirst().dropLast())
                }
            }
            out += Array((variables.isEmpty ? "}\n" : "\n}\n").utf8)
        }
        return SecureBytes(consuming: &out)
    }

    /// The `::add-mask::` workflow commands for the secrets among `variables`, one per line,
    /// for the runner's log (stdout), never for `$GITHUB_ENV`. The runner unescapes a
    /// command's data by turning `%0D` into CR, `%0A` into LF and `%25` into `%`, so the value
    /// is escaped the other way round (`%` first). The runner masks log output line by line:
    /// a multi-line value is masked whole and each of its lines on its own as well.
    package static func githubMaskCommands(_ variables: [ExportVariable]) -> SecureBytes {
        var out: [UInt8] = []
        for variable in variables where variable.isSecret {
            variable.value.withUnsafeBytes { bytes in
                let isLineBreak: (UInt8) -> Bool = { $0 == 0x0A || $0 == 0x0D }
                var values = [bytes[...]]
                if bytes.contains(where: isLineBreak) { values += bytes.split(whereSeparator: isLineBreak) }
                for (index, value) in values.enumerated() {
                    // The runner refuses (and warns about) an empty or all-whitespace mask.
                    guard value.contains(where: { $0 != 0x20 && $0 != 0x09 && !isLineBreak($0) }),
                        !values[..<index].contains(where: { $0.elementsEqual(value) })
                    else { continue }
                    out += Array("::add-mask::".utf8)
                    for byte in value {
                        switch byte {
                        case UInt8(ascii: "%"): out += Array("%25".utf8)
                        case 0x0D: out += Array("%0D".utf8)
                        case 0x0A: out += Array("%0A".utf8)
                        default: out.append(byte)
                        }
                    }
                    out.append(0x0A)
                }
            }
        }
        return SecureBytes(consuming: &out)
    }

    func refuse(_ variable: ExportVariable, _ why: String) -> ExportError {
        ExportError.failure(
            "cannot export \(variable.name) as \(rawValue): its value \(why)",
            hint: variable.isSecret ? "the value is not shown because it is secret" : nil)
    }
}

package enum ExportNames {
    /// Shell identifiers: what every consumer accepts.
    package static func validate(_ name: String) throws {
        let ok =
            !name.isEmpty && name.utf8.count <= 128
            && name.unicodeScalars.enumerated().allSatisfy { index, s in
                s == "_" || ("A"..."Z").contains(s) || ("a"..."z").contains(s) || (index > 0 && ("0"..."9").contains(s))
            }
        guard ok else {
            throw ExportError.usage(
                "invalid variable name \"\(Display.printable(name))\"",
                hint: "use letters, digits and _, not starting with a digit (e.g. ADME_ACCESS_TOKEN)")
        }
    }
}
