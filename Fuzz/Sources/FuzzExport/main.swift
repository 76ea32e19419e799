import Foundation
import FuzzSupport
@testable import TokvaultExport
@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

// `tokvault export`: random names and values, rendered in each format, must read back to the
// same values through the format's consumer, modelled below from that consumer's source
// (bash's single quotes; python-dotenv 1.x, which reads files with universal newlines;
// docker's --env-file reader; the Actions runner's $GITHUB_ENV heredocs; JSONSerialization),
// or be refused with an error. Also CurlSnippet.render: the secrets and endpoint it assigns
// must read back through the same shell word reader.
//
// Input: one byte picks the format (mod 6; 5 is the curl script), then records of
// [flags][name chunk][value chunk]; flags bit 0 uses the chunk as the name (else V<index>).

let formats: [ExportFormat] = [.shell, .dotenv, .docker, .github, .json]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExport(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let selector = Int(input.byte()) % 6
    if selector == 5 {
        curl(&input)
        return 0
    }
    let format = formats[selector]
    var variables: [ExportVariable] = []
    var validNames = true
    var seen = Set<String>()
    while !input.isEmpty {
        let flags = input.byte()
        let nameBytes = input.chunk()
        var value = input.chunk()
        let name = flags & 1 == 1 ? String(decoding: nameBytes, as: UTF8.self) : "V\(variables.count)"
        // `export` refuses duplicate names before rendering (ExportNaming.selected).
        guard seen.insert(name).inserted else { continue }
        if (try? ExportNames.validate(name)) == nil { validNames = false }
        variables.append(ExportVariable(name: name, value: SecureBytes(consuming: &value), isSecret: flags & 2 == 2))
    }
    let expected = variables.map { v in (v.name, v.value.withUnsafeBytes { Array($0) }) }

    let output: [UInt8]
    do {
        output = try format.render(variables, githubDelimiter: "ghadelimiter_0f1e2d3c").withUnsafeBytes { Array($0) }
    } catch let error as ExportError {
        if !validNames {
            require(error.kind == .badInput, "kind \(error.kind) for an invalid name")
        } else {
            require(error.kind == .failed, "kind \(error.kind) refusing a value")
            // The refusal names the variable; a secret value is never shown.
            let message = Array(error.message.utf8)
            // Values with "@" (which no refusal text has) and 8 printable bytes or more.
            for v in expected where v.1.count >= 8 && v.1.contains(UInt8(ascii: "@")) && v.1.allSatisfy({ (0x21...0x7E).contains($0) }) {
                let shown = message.count >= v.1.count && (0...(message.count - v.1.count)).contains { message[$0..<($0 + v.1.count)].elementsEqual(v.1) }
                require(!shown, "refusal shows a value: \(error.message)")
            }
        }
        return 0
    } catch {
        require(false, "non-ExportError \(error) from render")
        return 0
    }
    require(validNames, "rendered an invalid variable name")

    let parsed: [(String, [UInt8])]?
    switch format {
    case .shell: parsed = readShell(output)
    case .dotenv: parsed = readDotenv(output)
    case .docker: parsed = readDockerEnvFile(output)
    case .github: parsed = readGitHubEnv(output)
    case .json: parsed = readJSON(output)
    }
    guard let parsed else {
        require(false, "\(format) output does not parse: \(String(decoding: output, as: UTF8.self).debugDescription)")
        return 0
    }
    let want = format == .json ? expected.sorted { $0.0 < $1.0 } : expected
    require(parsed.count == want.count, "\(format): \(want.count) variables rendered, \(parsed.count) read back")
    for (got, wanted) in zip(parsed, want) {
        require(got.0 == wanted.0 && got.1 == wanted.1,
                "\(format): \(wanted.0)=\(String(decoding: wanted.1, as: UTF8.self).debugDescription) read back as \(got.0)=\(String(decoding: got.1, as: UTF8.self).debugDescription)")
    }
    return 0
}

// MARK: - bash

/// One shell word at `index` (single quotes, backslash escapes, plain characters), up to
/// unquoted white space. Nil when it holds anything the shell would expand or split on.
func readShellWord(_ bytes: [UInt8], _ index: inout Int) -> [UInt8]? {
    var word: [UInt8] = []
    let plain = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:,+@%".utf8))
    while index < bytes.count {
        let c = bytes[index]
        if c == UInt8(ascii: "'") {
            index += 1
            while index < bytes.count && bytes[index] != UInt8(ascii: "'") { word.append(bytes[index]); index += 1 }
            guard index < bytes.count else { return nil }
            index += 1
        } else if c == UInt8(ascii: "\\") {
            guard index + 1 < bytes.count, bytes[index + 1] != 0x0A else { return nil }
            word.append(bytes[index + 1])
            index += 2
        } else if c == 0x20 || c == 0x0A || c == 0x09 {
            break
        } else if plain.contains(c) {
            word.append(c)
            index += 1
        } else {
            return nil
        }
    }
    return word
}

func readShell(_ output: [UInt8]) -> [(String, [UInt8])]? {
    var result: [(String, [UInt8])] = []
    var i = 0
    let export = Array("export ".utf8)
    while i < output.count {
        guard output[i...].starts(with: export) else { return nil }
        i += export.count
        guard let eq = output[i...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
        let name = String(decoding: output[i..<eq], as: UTF8.self)
        i = eq + 1
        guard let value = readShellWord(output, &i), i < output.count, output[i] == 0x0A else { return nil }
        i += 1
        result.append((name, value))
    }
    return result
}

// MARK: - python-dotenv

/// python-dotenv 1.x (parser.py): the file is read as UTF-8 text with universal newlines;
/// a binding is KEY=, then a single-quoted value matched by '((?:\\'|[^'])*)' in which
/// \\ and \' are unescaped; then optional blanks and a line end. ${NAME} is then expanded.
func readDotenv(_ output: [UInt8]) -> [(String, [UInt8])]? {
    guard let text = String(validating: output, as: UTF8.self) else { return nil }
    let universal = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    let chars = Array(universal.unicodeScalars)
    var result: [(String, [UInt8])] = []
    var i = 0
    while i < chars.count {
        guard let eq = chars[i...].firstIndex(of: "=") else { return nil }
        let name = String(String.UnicodeScalarView(chars[i..<eq]))
        i = eq + 1
        guard i < chars.count, chars[i] == "'" else { return nil }
        i += 1
        var raw: [Unicode.Scalar] = []
        while true {
            guard i < chars.count else { return nil }
            if chars[i] == "\\", i + 1 < chars.count, chars[i + 1] == "'" {
                raw += [chars[i], chars[i + 1]]
                i += 2
            } else if chars[i] == "'" {
                i += 1
                break
            } else {
                raw.append(chars[i])
                i += 1
            }
        }
        guard i == chars.count || chars[i] == "\n" else { return nil }
        i += 1
        var value = ""
        var j = 0
        while j < raw.count {
            if raw[j] == "\\", j + 1 < raw.count, raw[j + 1] == "\\" || raw[j + 1] == "'" {
                value.unicodeScalars.append(raw[j + 1])
                j += 2
            } else {
                value.unicodeScalars.append(raw[j])
                j += 1
            }
        }
        if value.contains("${") { return nil }
        result.append((name, Array(value.utf8)))
    }
    return result
}

// MARK: - docker --env-file

/// docker/cli opts/file.go: bufio.Scanner lines (split at \n, one trailing \r dropped,
/// at most 64 KiB), valid UTF-8, leading white space trimmed, blank and # lines skipped,
/// NAME=value with the value passed through untrimmed.
func readDockerEnvFile(_ output: [UInt8]) -> [(String, [UInt8])]? {
    var result: [(String, [UInt8])] = []
    var lines = output.split(separator: 0x0A, omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    for var line in lines {
        if line.last == 0x0D { line = line.dropLast() }
        guard line.count <= 65536, let text = String(validating: line, as: UTF8.self) else { return nil }
        // Go works on runes and bytes: scalars here, not Characters, which would join "=" and
        // a combining mark after it into one.
        let scalars = Array(text.unicodeScalars.drop(while: { $0.properties.isWhitespace }))
        if scalars.isEmpty || scalars[0] == "#" { continue }
        guard let eq = scalars.firstIndex(of: "=") else { return nil }
        let name = String(String.UnicodeScalarView(scalars[..<eq]))
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.isWhitespace }) else { return nil }
        result.append((name, Array(String(String.UnicodeScalarView(scalars[(eq + 1)...])).utf8)))
    }
    return result
}

// MARK: - $GITHUB_ENV

/// actions/runner FileCommandManager (Linux): lines end at \n; NAME<<DELIMITER, then the
/// value is the text up to the \n before a line equal to DELIMITER.
func readGitHubEnv(_ output: [UInt8]) -> [(String, [UInt8])]? {
    var result: [(String, [UInt8])] = []
    var i = 0
    func line() -> ArraySlice<UInt8>? {
        guard i < output.count, let nl = output[i...].firstIndex(of: 0x0A) else { return nil }
        defer { i = nl + 1 }
        return output[i..<nl]
    }
    let marker = Array("<<".utf8)
    while i < output.count {
        guard let head = line(), let at = head.indices.first(where: { head[$0...].starts(with: marker) }) else { return nil }
        if let eq = head.firstIndex(of: UInt8(ascii: "=")), eq < at { return nil }
        let name = String(decoding: head[head.startIndex..<at], as: UTF8.self)
        let delimiter = Array(head[(at + 2)...])
        let start = i
        var end = i
        while true {
            guard let next = line() else { return nil }
            if Array(next) == delimiter { break }
            end = i - 1
        }
        result.append((name, Array(output[start..<max(start, end)])))
    }
    return result
}

// MARK: - JSON

func readJSON(_ output: [UInt8]) -> [(String, [UInt8])]? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(output)) as? [String: Any] else { return nil }
    var result: [(String, [UInt8])] = []
    for (name, value) in object {
        guard let text = value as? String else { return nil }
        result.append((name, Array(text.utf8)))
    }
    return result.sorted { $0.0 < $1.0 }
}

// MARK: - curl script

func curl(_ input: inout FuzzInput) {
    let flags = input.byte()
    let auth = App.ClientAuth.allCases[Int(input.byte()) % App.ClientAuth.allCases.count]
    let endpoint = String(decoding: input.chunk(), as: UTF8.self)
    let clientID = String(decoding: input.chunk(), as: UTF8.self)
    let scope = String(decoding: input.chunk(), as: UTF8.self)
    var secretBytes = input.chunk(), refreshBytes = input.chunk()
    let secret = secretBytes, refresh = refreshBytes
    let apiURL = String(decoding: input.chunk(), as: UTF8.self)
    let header = String(decoding: input.chunk(), as: UTF8.self)

    let app = App(id: "0b5d1e2a-7c3f-4a19-8e6d-2f4b9c1a3e57", name: "adme", provider: .oauth, tenant: nil, cloud: nil,
                  authorityHost: nil, clientID: clientID, authorizeEndpoint: "", tokenEndpoint: endpoint, deviceEndpoint: nil,
                  redirectURI: "http://localhost:8080", scope: scope, flow: flags & 1 == 1 ? "client_credentials" : "authorization_code",
                  clientAuth: auth, clientSecret: nil, createdAt: 0, updatedAt: 0)
    var snippet = CurlSnippet(app: app)
    snippet.clientSecret = flags & 2 == 2 ? SecureBytes(consuming: &secretBytes) : nil
    snippet.refreshToken = flags & 4 == 4 ? SecureBytes(consuming: &refreshBytes) : nil
    snippet.defineSecrets = flags & 8 == 8
    snippet.revealSecrets = flags & 16 == 16
    snippet.apiURL = flags & 32 == 32 ? apiURL : nil
    snippet.headers = flags & 64 == 64 ? [header] : []

    let script: [UInt8]
    do {
        script = try snippet.render(spelling: { "<\($0)>" }).withUnsafeBytes { Array($0) }
    } catch let error as UseCaseError {
        require([.failed, .loginRequired, .badInput].contains(error.kind),
                "kind \(error.kind) from the curl script")
        return
    } catch let error as FlowError {
        // An endpoint or API URL that is not acceptable.
        require(error.kind == .badInput, "kind \(error.kind) for a URL in the curl script")
        return
    } catch {
        require(false, "non-UseCaseError \(error) from CurlSnippet.render")
        return
    }
    require(script.starts(with: Array("#!/usr/bin/env bash\n".utf8)), "script without its shebang")
    guard let assignments = readAssignments(script) else {
        require(false, "the script's assignments do not read back: \(String(decoding: script, as: UTF8.self).debugDescription)")
        return
    }
    require(assignments["TOKEN_ENDPOINT"] == Array(endpoint.utf8), "TOKEN_ENDPOINT does not read back")
    if snippet.defineSecrets && !snippet.revealSecrets {
        if auth != .none { require(assignments["AZURE_CLIENT_SECRET"] == secret, "AZURE_CLIENT_SECRET does not read back") }
        if flags & 1 == 0 { require(assignments["REFRESH_TOKEN"] == refresh, "REFRESH_TOKEN does not read back") }
    }
}

/// The variable assignments between `set -euo pipefail` and TOKEN_ENDPOINT, read as bash
/// reads them; the `: "${VAR:?…}"` checks there hold no outside text and are skipped.
func readAssignments(_ script: [UInt8]) -> [String: [UInt8]]? {
    let start = Array("\nset -euo pipefail\n\n".utf8)
    guard var i = script.indices.first(where: { script[$0...].starts(with: start) }).map({ $0 + start.count }) else { return nil }
    var result: [String: [UInt8]] = [:]
    while i < script.count {
        if script[i...].starts(with: Array(": \"".utf8)) {
            guard let nl = script[i...].firstIndex(of: 0x0A) else { return nil }
            i = nl + 1
            continue
        }
        guard let eq = script[i...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
        let name = String(decoding: script[i..<eq], as: UTF8.self)
        guard name.allSatisfy({ $0 == "_" || ($0.isASCII && $0.isUppercase) }) else { return nil }
        i = eq + 1
        guard let value = readShellWord(script, &i), i < script.count, script[i] == 0x0A else { return nil }
        i += 1
        result[name] = value
        if name == "TOKEN_ENDPOINT" { return result }
    }
    return nil
}

runFuzzer { fuzzExport($0 ?? emptyInput, $1) }
