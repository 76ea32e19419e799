import Foundation
import TokvaultVault

/// How `tokvault token --format` prints a token, for the program that reads it.
package enum TokenFormat: String, CaseIterable, Sendable {
    /// The token alone on one line (for `$(tokvault token APP)`).
    case raw
    /// tokvault's own fields.
    case json
    /// The fields of `az account get-access-token`.
    case az
    /// A client-go ExecCredential, for a kubeconfig `users[].user.exec` entry.
    case kubectl
}

/// A token and what is printed with it.
package struct TokenOutput: Sendable {
    package var token: SecureBytes
    package var tokenType: String
    package var expiresAt: Int64
    package var scope: String
    package var tenant: String?

    package init(token: SecureBytes, tokenType: String, expiresAt: Int64, scope: String, tenant: String?) {
        self.token = token
        self.tokenType = tokenType
        self.expiresAt = expiresAt
        self.scope = scope
        self.tenant = tenant
    }

    /// The ExecCredential API versions tokvault answers (client-go accepts these two).
    package static let execCredentialVersions = [
        "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"
    ]

    /// Renders the token in `format`; `execCredentialVersion` is the apiVersion of a kubectl
    /// answer. Refuses what the format cannot carry, naming the problem, never the token.
    package func render(_ format: TokenFormat, execCredentialVersion: String = execCredentialVersions[0]) throws
        -> SecureBytes
    {
        var out: [UInt8] = []
        switch format {
        case .raw:
            token.withUnsafeBytes { out += $0 }
            out.append(0x0A)
        case .json:
            out += try Self.object([
                ("access_token", .secret(token)), ("token_type", .text(tokenType)), ("expires_on", .number(expiresAt)),
                ("expires_at", .text(Timestamp.iso8601(expiresAt))), ("scope", .text(scope))
            ])
        case .az:
            // az prints "Bearer" whatever the case the server used; another type (a PoP token)
            // sent as a bearer token would fail in a way that is hard to trace.
            guard tokenType.lowercased() == "bearer" else {
                throw ExportError.failure(
                    "the token is of type \(Display.printable(tokenType)), not Bearer; the az format cannot carry it",
                    hint: "use --format json")
            }
            var fields: [(String, JSONValue)] = [
                ("accessToken", .secret(token)), ("expiresOn", .text(Timestamp.localMicroseconds(expiresAt))),
                ("expires_on", .number(expiresAt))
            ]
            if let tenant { fields.append(("tenant", .text(tenant))) }
            fields.append(("tokenType", .text("Bearer")))
            out += try Self.object(fields)
        case .kubectl:
            guard Self.execCredentialVersions.contains(execCredentialVersion) else {
                throw ExportError.usage(
                    "ExecCredential apiVersion \(Display.printable(execCredentialVersion)) is not supported",
                    hint: "use \(Self.execCredentialVersions.joined(separator: " or ")) in the kubeconfig's exec entry")
            }
            out += try Self.object([
                ("apiVersion", .text(execCredentialVersion)), ("kind", .text("ExecCredential")),
                ("spec", .object([("interactive", .bool(false))])),
                (
                    "status",
                    .object([
                        ("expirationTimestamp", .text(Timestamp.iso8601(expiresAt))), ("token", .secret(token))
                    ])
                )
            ])
        }
        return SecureBytes(consuming: &out)
    }

    /// JSON values in the order they are written (az and kubectl readers do not care, people
    /// reading the output do).
    indirect enum JSONValue {
        case text(String)
        case secret(SecureBytes)
        case number(Int64)
        case bool(Bool)
        case object([(String, JSONValue)])
    }

    static func object(_ fields: [(String, JSONValue)], indent: Int = 0) throws -> [UInt8] {
        let pad = String(repeating: "  ", count: indent + 1)
        var out = Array("{\n".utf8)
        for (index, (key, value)) in fields.enumerated() {
            out += Array(pad.utf8) + (try quoted(key)) + Array(": ".utf8)
            switch value {
            case .text(let text): out += try quoted(text)
            case .secret(let secret):
                out += try secret.withUnsafeBytes { bytes in
                    guard let text = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
                        throw ExportError.failure("the token is not UTF-8 text, which JSON strings cannot carry")
                    }
                    return try quoted(text)
                }
            case .number(let number): out += Array(String(number).utf8)
            case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
            case .object(let inner): out += try object(inner, indent: indent + 1).dropLast()
            }
            out += Array((index == fields.count - 1 ? "\n" : ",\n").utf8)
        }
        out += Array((String(repeating: "  ", count: indent) + "}\n").utf8)
        return out
    }

    /// A JSON string literal, escaped by JSONEncoder.
    static func quoted(_ text: String) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // ["text"] → "text"
        return Array(try encoder.encode([text]).dropFirst().dropLast())
    }
}

extension TokenOutput {
    /// A managed-identity endpoint's answer as Azure App Service gives it (api-version
    /// 2019-08-01): `expires_on` is epoch seconds as a string, and `token_type` is what the
    /// provider said.
    package static func managedIdentityAnswer(
        token: SecureBytes, tokenType: String, expiresAt: Int64, resource: String, clientID: String
    ) throws -> SecureBytes {
        var out = try object([
            ("access_token", .secret(token)), ("expires_on", .text(String(expiresAt))), ("resource", .text(resource)),
            ("token_type", .text(tokenType)), ("client_id", .text(clientID))
        ])
        return SecureBytes(consuming: &out)
    }

    /// An App Service error answer: `{"statusCode": N, "message": "…"}`.
    package static func managedIdentityError(status: Int, message: String) -> [UInt8] {
        (try? object([("statusCode", .number(Int64(status))), ("message", .text(message))]))
            ?? Array("{\"statusCode\": \(status)}\n".utf8)
    }
}
