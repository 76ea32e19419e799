import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// Token responses and the ID token claims in them: parsing, expiry, and validation.
@Suite("token responses and ID tokens")
struct TokenResponseTests {
    // MARK: - TokenResponseParser

    static let endpoint = "https://login.example.com/token"

    @Test func expiresInAsNumberOrString() throws {
        for raw in ["3599", "\"3599\"", "\" 3599 \"", "3599.0"] {
            let json =
                #"{"access_token":"at-1","token_type":"Bearer","expires_in":\#(raw),"refresh_token":"rt-1","scope":"a b"}"#
            let response = try TokenResponseParser.parseSuccess(
                Data(json.utf8), now: 1_700_000_000, endpoint: Self.endpoint)
            #expect(response.expiresIn == 3599, "\(raw)")
            #expect(response.tokenSet.expiresAt == 1_700_003_599, "\(raw): counted from now")
            #expect(plaintext(response.tokenSet.accessToken) == "at-1")
            #expect(response.tokenSet.refreshToken.map(plaintext) == "rt-1")
            #expect(response.tokenSet.grantedScope == "a b")
            #expect(response.tokenSet.tokenType == "Bearer")
            #expect(response.idTokenClaims == nil)
        }
    }

    @Test func expiryDefaultsAndClamps() throws {
        let missing = try TokenResponseParser.parseSuccess(
            Data(#"{"access_token":"a"}"#.utf8), now: 100, endpoint: Self.endpoint)
        #expect(missing.tokenSet.expiresAt == 3700, "one hour when expires_in is missing")
        #expect(missing.tokenSet.refreshToken == nil)
        let negative = try TokenResponseParser.parseSuccess(
            Data(#"{"access_token":"a","expires_in":-5}"#.utf8), now: 100, endpoint: Self.endpoint)
        #expect(negative.tokenSet.expiresAt == 100)
        let huge = try TokenResponseParser.parseSuccess(
            Data(#"{"access_token":"a","expires_in":99999999999}"#.utf8), now: 0, endpoint: Self.endpoint)
        #expect(huge.tokenSet.expiresAt == 366 * 86400)
    }

    @Test(arguments: [
        #"{"token_type":"Bearer","expires_in":3600}"#, #"{"access_token":"","expires_in":3600}"#,
        #"{"access_token":null}"#, "not json", "", #"{"access_token":"a","expires_in":"soon"}"#
    ])
    func responsesWithoutAUsableAccessTokenAreRejected(_ json: String) {
        #expect(throws: FlowError.self) {
            try TokenResponseParser.parseSuccess(Data(json.utf8), now: 0, endpoint: Self.endpoint)
        }
    }

    @Test func nonBearerTokenTypeIsRejected() {
        for type in ["mac", "N_A", "DPoP-ish"] {
            #expect(throws: FlowError.self, "\(type)") {
                try TokenResponseParser.parseSuccess(
                    Data(#"{"access_token":"a","token_type":"\#(type)"}"#.utf8), now: 0, endpoint: Self.endpoint)
            }
        }
        #expect(throws: Never.self) {
            try TokenResponseParser.parseSuccess(
                Data(#"{"access_token":"a","token_type":"bearer"}"#.utf8), now: 0, endpoint: Self.endpoint)
        }
    }

    @Test func idTokenClaimsAreDecoded() throws {
        let jwt = unsignedJWT([
            "aud": FlowFixture.clientID, "iss": "https://login.microsoftonline.com/tid-1/v2.0",
            "preferred_username": "alice@contoso.example",
            "nonce": "n-1", "tid": "tid-1", "exp": 2_000_000_000
        ])
        let json = #"{"access_token":"a","expires_in":60,"id_token":"\#(jwt)"}"#
        let response = try TokenResponseParser.parseSuccess(Data(json.utf8), now: 0, endpoint: Self.endpoint)
        #expect(response.idTokenClaims?.account == "alice@contoso.example")
        #expect(response.tokenSet.account == "alice@contoso.example")
        #expect(response.tokenSet.idToken.map(plaintext) == jwt)
        // An unreadable ID token is reported with the answer (a refresh keeps its other tokens),
        // and the token set carries none.
        let garbage = try TokenResponseParser.parseSuccess(
            Data(#"{"access_token":"a","refresh_token":"r","id_token":"not-a-jwt"}"#.utf8),
            now: 0, endpoint: Self.endpoint)
        #expect(garbage.idTokenProblem?.message == "the token endpoint returned an id_token that is not a JWT")
        #expect(garbage.tokenSet.idToken == nil && garbage.tokenSet.account == nil)
        #expect(garbage.tokenSet.refreshToken.map(plaintext) == "r")
        #expect(throws: FlowError.self) {
            try garbage.validateIDToken(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: nil, now: 0)
        }
    }

    // MARK: - IDTokenClaims.validate

    static func claims(_ values: [String: Any]) throws -> IDTokenClaims {
        try IDTokenClaims.decode(unsignedJWT(values))
    }

    static let now: Int64 = 1_700_000_000
    static let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"

    static var goodClaims: [String: Any] {
        [
            "aud": FlowFixture.clientID, "iss": "https://login.microsoftonline.com/\(tid)/v2.0", "tid": tid,
            "nonce": "nonce-1", "exp": now + 3600
        ]
    }

    @Test func validClaimsPass() throws {
        let c = try Self.claims(Self.goodClaims)
        try c.validate(
            clientID: FlowFixture.clientID, expectedIssuer: "https://login.microsoftonline.com/{tenantid}/v2.0",
            nonce: "nonce-1", now: Self.now)
        try c.validate(
            clientID: FlowFixture.clientID, expectedIssuer: "https://login.microsoftonline.com/\(Self.tid)/v2.0",
            nonce: nil, now: Self.now)
        try c.validate(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: "nonce-1", now: Self.now)
        var multi = Self.goodClaims
        multi["aud"] = ["other", FlowFixture.clientID]
        try Self.claims(multi).validate(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: nil, now: Self.now)
        // Five minutes of clock skew are allowed.
        try c.validate(clientID: FlowFixture.clientID, expectedIssuer: nil, nonce: nil, now: Self.now + 3600 + 300)
    }

    func expectRejected(
        _ values: [String: Any], issuer: String? = "https://login.microsoftonline.com/{tenantid}/v2.0",
        nonce: String? = "nonce-1", now: Int64 = Self.now, _ why: String
    ) throws {
        let c = try Self.claims(values)
        do {
            try c.validate(clientID: FlowFixture.clientID, expectedIssuer: issuer, nonce: nonce, now: now)
            Issue.record("accepted: \(why)")
        } catch let error as FlowError {
            #expect(error.exitCode == 1)
            #expect(error.message.contains(why), "\(error.message)")
            #expect(error.message.contains("the tokens were not stored"))
        }
    }

    @Test func audienceMismatchIsRejected() throws {
        var v = Self.goodClaims
        v["aud"] = "11111111-2222-3333-4444-555555555555"
        try expectRejected(v, "audience")
        v.removeValue(forKey: "aud")
        try expectRejected(v, "audience")
    }

    @Test func nonceMismatchIsRejected() throws {
        var v = Self.goodClaims
        v["nonce"] = "nonce-2"
        try expectRejected(v, "nonce")
        v.removeValue(forKey: "nonce")
        try expectRejected(v, "nonce")
    }

    @Test func issuerTemplateIsFilledFromTid() throws {
        var v = Self.goodClaims
        v["tid"] = "00000000-0000-0000-0000-000000000bad"
        // The tid fills the template, and the result must then match iss.
        try expectRejected(v, "issuer")
        v.removeValue(forKey: "tid")
        try expectRejected(v, "tid")
        v = Self.goodClaims
        v["iss"] = "https://evil.example.com/\(Self.tid)/v2.0"
        try expectRejected(v, "issuer")
        try expectRejected(
            Self.goodClaims, issuer: "https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/v2.0",
            "issuer")
    }

    @Test func expiredIDTokenIsRejected() throws {
        var v = Self.goodClaims
        v["exp"] = Self.now - 301
        try expectRejected(v, "expired")
    }
}
