import Foundation
import TokvaultVault

/// A client assertion issued by the app's platform (workload identity federation): a
/// Kubernetes projected service account token read from a file, or a GitHub Actions OIDC
/// token. It is fetched afresh for every grant and never stored. Only its shape is checked
/// here (a JWS whose header and payload are JSON objects); which issuer, subject and audience
/// it must carry is the identity provider's decision.
package struct FederatedAssertion: Sendable {
    package let token: SecureBytes
    /// What the token says about itself, unverified: quoted when the provider finds no
    /// federated identity record matching it (never the token itself).
    package let claims: Claims

    package struct Claims: Decodable, Sendable, Equatable {
        package var iss: String?
        package var sub: String?
        package var aud: IDTokenClaims.Audience?
        package var exp: Int64?

        /// `issuer 'I', subject 'S', audience 'A'`, made printable.
        package var summary: String {
            func quoted(_ value: String?) -> String { value.map { "'\(Display.printable($0))'" } ?? "(none)" }
            let audience =
                aud.map { $0.values.map { "'\(Display.printable($0))'" }.joined(separator: ", ") } ?? "(none)"
            return "issuer \(quoted(iss)), subject \(quoted(sub)), audience \(audience)"
        }
    }

    /// Largest assertion read (a projected token is about 1 KiB; GitHub's about 1.5 KiB).
    static let maxBytes = 64 * 1024

    /// The audience a GitHub Actions app asks for: its own, or its cloud's default.
    package static func audience(for app: App) -> String {
        app.federatedAudience ?? defaultAudience(cloud: app.cloud)
    }

    /// The audience GitHub is asked for by default: Entra's token exchange audience per cloud.
    package static func defaultAudience(cloud: String?) -> String {
        switch cloud {
        case "usgov": return "api://AzureADTokenExchangeUSGov"
        case "china": return "api://AzureADTokenExchangeChina"
        default: return "api://AzureADTokenExchange"
        }
    }

    /// Trims surrounding whitespace and checks the JWS shape; `source` names where it came from.
    package static func checked(_ bytes: [UInt8], source: String) throws -> FederatedAssertion {
        var text = bytes
        while let last = text.last, isSpace(last) { text.removeLast() }
        let start = text.firstIndex { !isSpace($0) } ?? text.endIndex
        text.removeSubrange(text.startIndex..<start)
        guard !text.isEmpty else {
            throw FlowError.failure(
                "\(source) is empty", hint: "it should hold the token the platform issues (a JWT)")
        }
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        func decoded(_ part: ArraySlice<UInt8>) -> SecureBytes? {
            Sodium.decodeBase64URL(String(decoding: part, as: UTF8.self), into: part.count)
        }
        func json(_ part: ArraySlice<UInt8>) -> Data? {
            guard let data = decoded(part)?.withUnsafeBytes({ Data($0) }),
                (try? JSONSerialization.jsonObject(with: data)) is [String: Any]
            else { return nil }
            return data
        }
        guard parts.count == 3, !parts[2].isEmpty, decoded(parts[2]) != nil, json(parts[0]) != nil,
            let payload = json(parts[1]),
            let claims = try? JSONDecoder().decode(Claims.self, from: payload)
        else {
            throw FlowError.failure(
                "\(source) does not hold a JWT (three base64url parts whose header and payload are JSON)",
                hint: "it should hold the token the platform issues, e.g. a Kubernetes service account token")
        }
        return FederatedAssertion(token: SecureBytes(consuming: &text), claims: claims)
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    /// Reads `path` now (the platform rotates it: a path through a symlink is followed at
    /// every read, as Kubernetes' `..data` swap needs). Any file mode is accepted: a projected
    /// token is commonly 0644, and it is not one of tokvault's secrets at rest.
    package static func read(file path: String) throws -> FederatedAssertion {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            throw FlowError.failure(
                "cannot read the federated token file \(Display.printable(path)): \(String(cString: strerror(errno)))",
                hint:
                    "on AKS it is mounted at $AZURE_FEDERATED_TOKEN_FILE; change it with `tokvault set APP --federated-token-file FILE`"
            )
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw FlowError.failure("the federated token file \(Display.printable(path)) is not a regular file")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        defer { Sodium.wipe(&chunk) }
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                Sodium.wipe(&bytes)
                throw FlowError.failure(
                    "cannot read the federated token file \(Display.printable(path)): \(String(cString: strerror(errno)))"
                )
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxBytes else {
                Sodium.wipe(&bytes)
                throw FlowError.failure(
                    "the federated token file \(Display.printable(path)) is larger than \(maxBytes / 1024) KiB: it does not hold a token"
                )
            }
        }
        defer { Sodium.wipe(&bytes) }
        return try checked(bytes, source: "the federated token file \(Display.printable(path))")
    }

    package static let gitHubURLVariable = "ACTIONS_ID_TOKEN_REQUEST_URL"
    package static let gitHubTokenVariable = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"

    /// A fresh ID token from GitHub Actions' OIDC endpoint for `audience`.
    package static func fromGitHubActions(
        environment: [String: String], audience: String, options: TokenClient.Options = .init()
    ) async throws -> FederatedAssertion {
        guard let base = environment[gitHubURLVariable], !base.isEmpty,
            let requestToken = environment[gitHubTokenVariable], !requestToken.isEmpty
        else {
            throw FlowError.failure(
                "no GitHub Actions OIDC token: \(gitHubURLVariable) and \(gitHubTokenVariable) are not set",
                hint:
                    "run inside a GitHub Actions job whose workflow grants `permissions: id-token: write`, or give the app a --federated-token-file"
            )
        }
        let endpoint = try EndpointRules.validateEndpoint(base, option: gitHubURLVariable)
        guard var url = URLComponents(string: endpoint) else {
            throw FlowError.usage("\(gitHubURLVariable) is not a URL")
        }
        var query = url.queryItems ?? []
        query.removeAll { $0.name == "audience" }
        query.append(URLQueryItem(name: "audience", value: audience))
        url.queryItems = query
        // URLComponents leaves '+', ':' and '/' as they are in a query; encode the audience fully.
        url.percentEncodedQuery = query.map { item in
            FormEncoding.encode(item.name) + (item.value.map { "=" + FormEncoding.encode($0) } ?? "")
        }.joined(separator: "&")
        guard let target = url.string else { throw FlowError.usage("\(gitHubURLVariable) is not a URL") }
        let host = url.host ?? "?"
        let answer: (status: UInt, body: Data)
        do {
            answer = try await HTTPSession.get(
                target, headers: [("Authorization", "bearer " + requestToken)],
                connectTimeout: options.connectTimeout, readTimeout: options.readTimeout, limit: maxBytes)
        } catch let error as FlowError {
            throw error
        } catch {
            throw FlowError(
                .unreachable, "cannot get a GitHub Actions OIDC token from \(host): \(TokenClient.describe(error))",
                hint: "check the network and HTTPS_PROXY/NO_PROXY")
        }
        guard answer.status == 200 else {
            throw FlowError.failure(
                "GitHub's OIDC token endpoint \(host) answered HTTP \(answer.status)",
                hint: answer.status == 401 || answer.status == 403
                    ? "the job's \(gitHubTokenVariable) was refused: the workflow needs `permissions: id-token: write`"
                    : "try again; GitHub Actions may be having a problem")
        }
        struct Answer: Decodable { var value: String? }
        guard var value = (try? JSONDecoder().decode(Answer.self, from: answer.body))?.value else {
            throw FlowError.failure("GitHub's OIDC token endpoint \(host) answered without a token (no \"value\")")
        }
        var bytes = Array(value.utf8)
        value = ""
        defer { Sodium.wipe(&bytes) }
        return try checked(bytes, source: "the token from GitHub's OIDC endpoint \(host)")
    }
}
