import Foundation
import GRDB
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// A refresh answer whose ID token fails its checks still carries the rotated refresh token:
/// it is stored with the new access token, the previous ID token is kept, and stderr says so.
/// A sign-in (`login`) stores nothing from such an answer.
@Suite("refresh with a bad ID token")
struct RefreshIDTokenTests {
    static let firstAccess = "at-CANARY-idt-first"
    static let secondAccess = "at-CANARY-idt-second"
    static let rotated = "rt-CANARY-idt-rotated-1"
    static let rotatedAgain = "rt-CANARY-idt-rotated-2"

    struct BadIDToken: Sendable, CustomTestStringConvertible {
        var name: String
        /// The id_token value, given the server's issuer.
        var make: @Sendable (String) -> String
        var warning: String
        var testDescription: String { name }
    }

    static let cases: [BadIDToken] = [
        BadIDToken(
            name: "wrong audience",
            make: { issuer in unsignedJWT(["aud": "someone-else", "iss": issuer, "exp": 4_000_000_000]) },
            warning: "the ID token failed validation: its audience is not client id \(Hostile.clientID)"),
        BadIDToken(
            name: "wrong issuer",
            make: { _ in
                unsignedJWT(["aud": Hostile.clientID, "iss": "https://evil.example/v2.0", "exp": 4_000_000_000])
            },
            warning: "the ID token failed validation: its issuer https://evil.example/v2.0 is not "),
        BadIDToken(
            name: "expired",
            make: { issuer in unsignedJWT(["aud": Hostile.clientID, "iss": issuer, "exp": 1_000_000_000]) },
            warning: "the ID token failed validation: it expired at 1000000000"),
        BadIDToken(
            name: "not a JWT", make: { _ in "garbage.!!!.x" }, warning: "returned an id_token that is not a JWT"),
        BadIDToken(
            name: "claims not JSON", make: { _ in "eyJhbGciOiJub25lIn0.bm90IGpzb24.x" },
            warning: "returned an id_token whose claims are not JSON")
    ]

    static func answer(access: String, refresh: String, expiresIn: Int, idToken: String) -> HostileServer.Behavior {
        Hostile.json(
            "200 OK",
            #"{"access_token":"\#(access)","token_type":"Bearer","expires_in":\#(expiresIn),"refresh_token":"\#(refresh)","id_token":"\#(idToken)"}"#
        )
    }

    static func session(_ path: String) throws -> (refresh: Data?, idToken: Data?, account: String?) {
        try DatabaseQueue(path: path).read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT refresh_token, id_token, account FROM session"))
            return (row["refresh_token"], row["id_token"], row["account"])
        }
    }

    @Test(arguments: cases)
    func rotatedRefreshTokenIsKeptWhenTheIDTokenFails(_ c: BadIDToken) throws {
        let box = IssuerBox()
        let server = try HostileServer { _ in
            let issuer = box.issuer
            switch box.count() {
            case 1:
                // Stored as expired at once, so that the next `token` refreshes.
                return Self.answer(
                    access: Self.firstAccess, refresh: Self.rotated, expiresIn: 0,
                    idToken: unsignedJWT([
                        "aud": Hostile.clientID, "iss": issuer, "exp": 4_000_000_000,
                        "preferred_username": "alice@contoso.com"
                    ]))
            case 2:
                return Self.answer(
                    access: Self.secondAccess, refresh: Self.rotatedAgain, expiresIn: 3600, idToken: c.make(issuer))
            default:
                return Hostile.json(
                    "200 OK", #"{"access_token":"at-CANARY-idt-third","token_type":"Bearer","expires_in":3600}"#)
            }
        }
        defer { server.stop() }
        box.issuer = "\(server.url)/\(Hostile.tenant)/v2.0"
        let e = Hostile.Endpoint(authorityHost: server.url)
        let secrets = [Hostile.clientSecret, Hostile.refreshToken, Self.rotated, Self.rotatedAgain]

        let first = e.run(["token", "adme"])
        #expect(first.status == 0 && first.stdout == Self.firstAccess + "\n", "\(first)")
        #expect(!first.stderr.contains("warning"), "\(first.stderr)")
        let before = try Self.session(e.cli.vaultPath)
        #expect(before.account == "alice@contoso.com" && before.idToken != nil)

        let second = e.run(["token", "adme"])
        #expect(second.status == 0, "\(second)")
        #expect(second.stdout == Self.secondAccess + "\n", "the new access token is printed")
        #expect(second.stderr.contains("tokvault: warning: app \"adme\": "), "\(second.stderr)")
        #expect(second.stderr.contains(c.warning), "\(second.stderr)")
        #expect(
            second.stderr.contains(
                "that ID token was not stored (the previous one is kept), the new access and refresh tokens were"),
            "\(second.stderr)")
        #expect(!second.stderr.contains("error"), "\(second.stderr)")
        Hostile.expectClean(second, secrets: secrets)
        let after = try Self.session(e.cli.vaultPath)
        #expect(after.idToken == before.idToken, "the previous ID token is kept, byte for byte")
        #expect(after.account == "alice@contoso.com")
        #expect(after.refresh != before.refresh, "the rotated refresh token was stored")

        // The next refresh sends the rotated refresh token.
        let third = e.run(["refresh", "adme"])
        #expect(third.status == 0, "\(third)")
        Hostile.expectClean(third, secrets: secrets)
        #expect(server.requests.count == 3)
        if server.requests.count == 3 {
            #expect(server.requests[1].bodyText.contains("refresh_token=" + Self.rotated))
            #expect(
                server.requests[2].bodyText.contains("refresh_token=" + Self.rotatedAgain),
                "sent: \(server.requests[2].bodyText.replacingOccurrences(of: Hostile.clientSecret, with: "<secret>"))")
        }
    }

    /// `login` (here the device code flow) keeps the hard failure: nothing is stored.
    @Test(arguments: [cases[0], cases[3]])
    func loginWithABadIDTokenStoresNothing(_ c: BadIDToken) throws {
        let box = IssuerBox()
        let server = try HostileServer { request in
            if Hostile.isDevicePath(request) {
                return Hostile.json(
                    "200 OK",
                    #"{"device_code":"dc-CANARY-idt","user_code":"ABCD1234","verification_uri":"https://microsoft.com/devicelogin","expires_in":60,"interval":1}"#
                )
            }
            return Self.answer(
                access: Self.firstAccess, refresh: Self.rotated, expiresIn: 3600, idToken: c.make(box.issuer))
        }
        defer { server.stop() }
        box.issuer = "\(server.url)/\(Hostile.tenant)/v2.0"
        let e = Hostile.Endpoint(authorityHost: server.url)
        let before = try Hostile.snapshot(e.cli.vaultPath)
        let login = e.run(["login", "adme", "--device"])
        #expect(login.status == 1, "\(login)")
        #expect(login.stderr.contains(c.warning), "\(login.stderr)")
        #expect(!login.stderr.contains("warning"), "\(login.stderr)")
        Hostile.expectClean(
            login,
            secrets: [Hostile.clientSecret, Hostile.refreshToken, Self.rotated, Self.firstAccess, "dc-CANARY-idt"])
        #expect(try Hostile.snapshot(e.cli.vaultPath) == before, "nothing stored")
    }
}
