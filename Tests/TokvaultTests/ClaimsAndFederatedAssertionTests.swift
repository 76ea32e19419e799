import Foundation
import NIOHTTP1
import Testing

@testable import TokvaultFlow
@testable import TokvaultUseCases
@testable import TokvaultVault

/// The claims parameter (step-up challenges, client capabilities) and the shape check of a
/// federated assertion, without a server.
@Suite("claims requests and federated assertions")
struct ClaimsAndFederatedAssertionTests {
    static let challenge = #"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#

    @Test func claimsAreTakenAsJSONOrAsBase64() throws {
        #expect(try ClaimsRequest.parse("  \(Self.challenge)\n") == Self.challenge)
        let standard = Data((Self.challenge + " ").utf8).base64EncodedString()
        #expect(standard.hasSuffix("="), "the fixture exercises padding")
        #expect(try ClaimsRequest.parse(standard) == Self.challenge)
        let url = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        #expect(try ClaimsRequest.parse(url) == Self.challenge)
    }

    @Test(arguments: [
        "", "   ", "[1,2]", "\"text\"", "{not json", "bm90IGpzb24=", String(repeating: "a", count: 20_000)
    ])
    func claimsThatAreNotAJSONObjectAreRefused(_ text: String) {
        #expect(throws: FlowError.self) { try ClaimsRequest.parse(text) }
    }

    @Test func capabilitiesAreMergedIntoTheChallenge() throws {
        let merged = try #require(ClaimsRequest.merged(Self.challenge, capabilities: ["cp1"]))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(merged.utf8)) as? [String: [String: Any]])
        let access = try #require(object["access_token"])
        #expect((access["xms_cc"] as? [String: [String]])?["values"] == ["cp1"])
        #expect((access["acrs"] as? [String: Any])?["value"] as? String == "c1")
        #expect(merged.contains(#""essential":true"#), "booleans stay booleans: \(merged)")
        #expect(ClaimsRequest.merged(nil, capabilities: ["cp1"]) == #"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#)
        #expect(ClaimsRequest.merged(Self.challenge, capabilities: []) == Self.challenge)
        #expect(ClaimsRequest.merged(nil, capabilities: []) == nil)
    }

    @Test func aChallengeBecomesOneShellWordOrNothing() throws {
        #expect(ClaimsRequest.shellWord(Self.challenge) == "'\(Self.challenge)'")
        let quote = #"{"access_token":{"acrs":{"value":"it's"}}}"#
        let word = try #require(ClaimsRequest.shellWord(quote))
        // What a POSIX shell makes of the word is the JSON again.
        let echoed = CLI.exec(["/bin/sh", "-c", "printf %s \(word)"], environment: [:])
        #expect(echoed.stdout == quote, "\(echoed)")
        #expect(ClaimsRequest.shellWord(#"{"a":"$(touch /tmp/x)"}"#) == #"'{"a":"$(touch /tmp/x)"}'"#)
        #expect(ClaimsRequest.shellWord(#"{"a":"é"}"#) == nil, "non-ASCII is not echoed into a command")
        #expect(ClaimsRequest.shellWord("not json") == nil)
    }

    /// A refresh answered with a claims challenge: exit 2 and the exact login command.
    @Test func aStepUpChallengeNamesTheLoginCommand() throws {
        let body =
            #"{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.\r\nTrace ID: 1","error_codes":[50076],"suberror":"basic_action","claims":"{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"p1\"]}}}"}"#
        let error = try TokenErrorsTests.mapped(body)
        #expect(error.exitCode == 2)
        #expect(error.refusal?.code == "AADSTS50076")
        #expect(error.refusal?.claims == #"{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}"#)
        #expect(
            error.shownHint?.contains(
                #"tokvault login adme --claims '{"access_token":{"capolids":{"essential":true,"values":["p1"]}}}'"#)
                == true, "\(error.shownHint ?? "")")
        // A challenge that is not a JSON object is not quoted into a command.
        let hostile = body.replacingOccurrences(
            of: #""claims":"{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"p1\"]}}}""#,
            with: #""claims":"'; rm -rf ~; '""#)
        let refused = try TokenErrorsTests.mapped(hostile)
        #expect(refused.exitCode == 2)
        #expect(refused.refusal?.claims == nil)
        #expect(refused.shownHint?.contains("--claims") == false, "\(refused.shownHint ?? "")")
        #expect(refused.shownHint?.contains("rm -rf") == false)
    }

    /// An API's 401 challenge: its claims are offered as `login --claims` only when they are
    /// base64 of a JSON object (the header is the API's, not the provider's).
    @Test func anAPIsClaimsChallengeIsQuotedOnlyWhenItIsOne() {
        func hint(_ claims: String) -> String? {
            ResponseHint.after(
                headerDump: Array(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer error=\"insufficient_claims\", claims=\"\(claims)\"\r\n\r\n"
                        .utf8), appName: "adme")
        }
        let good = Data(Self.challenge.utf8).base64EncodedString()
        #expect(hint(good)?.contains("tokvault login adme --claims '\(good)'") == true)
        for hostile in ["'; touch /tmp/x; '", "e30$(id)", "bm90IGpzb24=", ""] {
            let text = hint(hostile)
            #expect(
                text?.contains("`tokvault login adme`") == true && text?.contains("--claims") == false, "\(hostile)")
        }
    }

    @Test func aConditionalAccessBlockIsNotALoginRequired() throws {
        let error = try TokenErrorsTests.mapped(
            TokenErrorsTests.azureError(
                "invalid_grant", 53003,
                "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."
            ))
        #expect(error.exitCode == 1)
        #expect(error.message.contains("blocked by Conditional Access"))
        #expect(error.shownHint?.contains("signing in again does not help") == true)
        #expect(error.refusal?.summary == "invalid_grant AADSTS53003")
    }

    static func jwt(_ header: String, _ payload: String, signature: String = "c2ln") -> String {
        Sodium.base64URL(Array(header.utf8)) + "." + Sodium.base64URL(Array(payload.utf8)) + "." + signature
    }

    @Test func anAssertionIsCheckedForShapeOnly() throws {
        let token = Self.jwt(
            #"{"alg":"RS256","kid":"k"}"#,
            #"{"iss":"https://issuer","sub":"system:serviceaccount:ns:sa","aud":["api://AzureADTokenExchange"],"exp":1}"#
        )
        let assertion = try FederatedAssertion.checked(Array("\n  \(token)\n\n".utf8), source: "the file")
        #expect(assertion.token.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == token)
        #expect(assertion.claims.sub == "system:serviceaccount:ns:sa")
        #expect(
            assertion.claims.summary
                == "issuer 'https://issuer', subject 'system:serviceaccount:ns:sa', audience 'api://AzureADTokenExchange'"
        )
        // No claim is required locally: the provider decides.
        _ = try FederatedAssertion.checked(Array(Self.jwt(#"{"alg":"none"}"#, "{}").utf8), source: "the file")
    }

    @Test(arguments: [
        "", " \n\t", "abc", "a.b", "a.b.c.d", "e30.e30.", "W10.e30.c2ln", "e30.W10.c2ln", "e30.bm90IGpzb24.c2ln",
        "e30.e30.c2ln\u{0}", "e30.e3é.c2ln"
    ])
    func whatIsNotAJWTIsRefusedWithoutEchoingIt(_ text: String) {
        do {
            _ = try FederatedAssertion.checked(Array(text.utf8), source: "the file F")
            Issue.record("accepted \(text.debugDescription)")
        } catch let error as FlowError {
            #expect(error.message.hasPrefix("the file F "), "\(error.message)")
            if text.count > 3 { #expect(!error.message.contains(text), "the content is never echoed") }
        } catch {
            Issue.record("\(error)")
        }
    }

    /// `refresh_expires_in` is informational: a value that is not a usable number never costs
    /// the answer's tokens.
    static let refreshExpiries: [(String, Int64?)] = [
        (#""refresh_expires_in":7776000"#, 1000 + 7_776_000), (#""refresh_expires_in":"60""#, 1060),
        (#""refresh_expires_in":0"#, nil), (#""refresh_expires_in":-5"#, nil), (#""refresh_expires_in":"soon""#, nil),
        (#""refresh_expires_in":{"a":1}"#, nil), (#""refresh_expires_in":1e300"#, 1000 + 10 * 366 * 86_400)
    ]

    @Test(arguments: ClaimsAndFederatedAssertionTests.refreshExpiries)
    func refreshExpiryIsReadLeniently(_ field: String, _ expected: Int64?) throws {
        let body = #"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","#
        let parsed = try TokenResponseParser.parseSuccess(Data((body + field + "}").utf8), now: 1000, endpoint: "e")
        #expect(parsed.tokenSet.refreshExpiresAt == expected, "\(field)")
        #expect(parsed.tokenSet.refreshToken != nil)
    }

    @Test func theAudienceFollowsTheCloud() {
        #expect(FederatedAssertion.defaultAudience(cloud: nil) == "api://AzureADTokenExchange")
        #expect(FederatedAssertion.defaultAudience(cloud: "public") == "api://AzureADTokenExchange")
        #expect(FederatedAssertion.defaultAudience(cloud: "usgov") == "api://AzureADTokenExchangeUSGov")
        #expect(FederatedAssertion.defaultAudience(cloud: "china") == "api://AzureADTokenExchangeChina")
    }
}
