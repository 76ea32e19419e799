import Foundation
import FuzzSupport
@testable import TokvaultFlow
@testable import TokvaultVault

// A token endpoint's 200 answer (TokenResponseParser.parseSuccess) and the ID token in it
// (IDTokenClaims.decode and validate). The input is the response body; it is also tried
// as a whole JWT, and as the claims of one, because random bytes rarely form base64url JSON.

enum Fixture {
    static let now: Int64 = 1_700_000_000
    static let endpoint = "https://login.example.com/tenant/oauth2/v2.0/token"
    static let clientID = "11111111-2222-3333-4444-555555555555"
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenResponse(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    do {
        let response = try TokenResponseParser.parseSuccess(Data(bytes), now: Fixture.now, endpoint: Fixture.endpoint)
        let set = response.tokenSet
        require(set.accessToken.count > 0, "empty access token accepted")
        require(set.tokenType == "Bearer", "token type \(set.tokenType)")
        require((0...(366 * 86400)).contains(response.expiresIn), "expires_in \(response.expiresIn) outside 0…366 days")
        require(set.expiresAt == Fixture.now + response.expiresIn, "expiresAt is not now + expiresIn")
        if let claims = response.idTokenClaims { validate(claims) }
        // An unreadable ID token is reported with the answer and never stored.
        if response.idTokenProblem != nil {
            require(set.idToken == nil && set.account == nil && response.idTokenClaims == nil, "an unreadable ID token kept")
        }
    } catch let error as FlowError {
        require(error.kind == .failed, "kind \(error.kind) for a token response")
    } catch {
        require(false, "non-FlowError \(error) from parseSuccess")
    }

    let text = String(decoding: bytes, as: UTF8.self)
    decode(text)
    decode("eyJhbGciOiJub25lIn0." + Sodium.base64URL(bytes) + ".c2ln")
    return 0
}

func decode(_ jwt: String) {
    do {
        validate(try IDTokenClaims.decode(jwt))
    } catch let error as FlowError {
        require(error.kind == .failed, "kind \(error.kind) for an id_token")
    } catch {
        require(false, "non-FlowError \(error) from IDTokenClaims.decode")
    }
}

func validate(_ claims: IDTokenClaims) {
    _ = claims.account
    for issuer in [nil, "https://login.microsoftonline.com/{tenantid}/v2.0", "https://idp.example.com"] {
        do {
            try claims.validate(clientID: Fixture.clientID, expectedIssuer: issuer, nonce: "n-0S6_WzA2Mj", now: Fixture.now)
            require(claims.aud?.values.contains(Fixture.clientID) == true, "validated without the client id in aud")
            require(claims.nonce == "n-0S6_WzA2Mj", "validated with another nonce")
        } catch let error as FlowError {
            require(error.kind == .failed, "kind \(error.kind) from validate")
        } catch {
            require(false, "non-FlowError \(error) from validate")
        }
    }
}

runFuzzer { fuzzTokenResponse($0 ?? emptyInput, $1) }
