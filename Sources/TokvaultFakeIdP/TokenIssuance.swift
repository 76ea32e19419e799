// The token response shared by the user grants (access, refresh and id tokens), and family revocation.

import Foundation

extension FakeIdPCore {
    func revokeFamily(_ family: Int) {
        guard var record = families[family], !record.revoked else { return }
        record.revoked = true
        for token in record.accessTokens { accessTokens[token]?.revoked = true }
        families[family] = record
        stats.familiesRevoked += 1
    }

    func issue(client: FakeClient, scope: String, family: Int, refresh: Bool, nonce: String?) -> FakeResponse {
        let issuedAt = now()
        let accessToken = "fake-at-" + base64URL(randomBytes(32))
        accessTokens[accessToken] = AccessRecord(
            clientID: client.clientID, userOID: config.user.oid, scope: scope, family: family,
            expiresAt: issuedAt + Double(config.accessTokenLifetime))
        families[family]?.accessTokens.append(accessToken)
        var members: [(String, JSON)] = [
            ("token_type", .string("Bearer")),
            ("scope", .string(scope)),
            ("expires_in", .int(config.accessTokenLifetime)),
            ("ext_expires_in", .int(config.accessTokenLifetime)),
            ("access_token", .string(accessToken))
        ]
        if refresh {
            let refreshToken = "fake-rt-" + base64URL(randomBytes(48))
            refreshTokens[refreshToken] = RefreshRecord(
                clientID: client.clientID, scope: scope, family: family,
                expiresAt: issuedAt + Double(config.refreshTokenLifetime))
            members.append(("refresh_token", .string(refreshToken)))
            if sendRefreshExpiresIn { members.append(("refresh_expires_in", .int(config.refreshTokenLifetime))) }
        }
        if scope.split(separator: " ").contains(where: { $0.lowercased() == "openid" }) {
            members.append(("id_token", .string(idToken(client: client, issuedAt: issuedAt, nonce: nonce))))
        }
        stats.tokensIssued += 1
        return .json(200, .object(members))
    }

    private func idToken(client: FakeClient, issuedAt: Double, nonce: String?) -> String {
        let iat = Int(issuedAt)
        let header = JSON.object([("alg", .string("RS256")), ("typ", .string("JWT")), ("kid", .string("fake"))])
        var claims: [(String, JSON)] = [
            ("aud", .string(client.clientID)),
            ("iss", .string("\(baseURLLocked)/\(config.tenant)/v2.0")),
            ("iat", .int(iat)),
            ("nbf", .int(iat)),
            ("exp", .int(iat + 3600)),
            ("name", .string(config.user.name))
        ]
        if let nonce { claims.append(("nonce", .string(nonce))) }
        claims += [
            ("oid", .string(config.user.oid)),
            ("preferred_username", .string(config.user.username)),
            ("sub", .string(base64URL(FakeSHA256.hash(Array("\(config.user.oid)|\(client.clientID)".utf8))))),
            ("tid", .string(config.tenant)),
            ("uti", .string(base64URL(randomBytes(16)))),
            ("ver", .string("2.0"))
        ]
        return base64URL(Array(header.text.utf8)) + "." + base64URL(Array(JSON.object(claims).text.utf8)) + "."
            + base64URL(randomBytes(32))
    }
}
