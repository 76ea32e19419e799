import Foundation
import GRDB
import Testing
import TokvaultFakeIdP

/// Claims challenges (step-up), Conditional Access blocks, client capabilities and the
/// refresh token's age, end to end against the fake provider.
@Suite("step-up sign-in and refresh-token age")
struct StepUpAndRefreshAgeTests {
    static let challenge = #"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#

    static func sealedRefreshToken(_ s: LoginSetup) throws -> Data? {
        try DatabaseQueue(path: s.cli.vaultPath).read {
            try Data.fetchOne($0, sql: "SELECT refresh_token FROM session")
        }
    }

    /// The value of `show`'s row `label`.
    static func row(_ label: String, of text: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(label + " ") }.map {
            $0.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func aClaimsChallengePrintsTheLoginCommandThatSatisfiesIt() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        s.idp.setClaimsChallenge(Self.challenge)
        try s.expireCachedToken()
        let refused = s.token()
        #expect(refused.status == 2, "\(refused)")
        let command = "tokvault login adme --claims '\(Self.challenge)'"
        #expect(refused.stderr.contains(command), "\(refused)")
        #expect(!refused.stdout.contains("fake-at-"))

        // The refusal is on record until a sign-in replaces the refresh token.
        let show = s.cli.run(["show", "adme"])
        #expect(show.stdout.contains("REFUSED") && show.stdout.contains("invalid_grant AADSTS50076"), "\(show)")
        let doctor = s.cli.run(["doctor"])
        #expect(doctor.status == 1 && doctor.stdout.contains("refresh token refused"), "\(doctor)")

        // The printed command, as a shell reads it, is the sign-in that works.
        let word = String(refused.stderr[refused.stderr.range(of: "--claims ")!.upperBound...].prefix { $0 != "`" })
        let login = CLI.exec(
            [
                "/bin/sh", "-c",
                "exec /usr/bin/setsid -w \"$BIN\" login adme --claims \(word) --key-file \"$KEY\" --port 0"
            ],
            environment: s.cli.environment.merging([
                "BIN": CLI.binary, "KEY": s.f.keyFile, "BROWSER": LoginSetup.browser, "SCRIPTED_BROWSER_MODE": "normal"
            ]) { $1 }, cwd: s.f.dir.path)
        #expect(login.status == 0, "\(login)")
        #expect(s.idp.stats.authorizeLog.last?.claims == Self.challenge)
        #expect(s.idp.stats.tokenLog.last?.claims == Self.challenge)
        #expect(s.token().status == 0)
        #expect(!s.cli.run(["show", "adme"]).stdout.contains("REFUSED"))

        // token --claims: past the cache, with the claims; the rotated refresh token is stored.
        let before = try Self.sealedRefreshToken(s)
        let rotations = s.idp.stats.refreshRotations
        let cached = s.token()
        let fresh = s.token(["--claims", Self.challenge])
        #expect(fresh.status == 0 && fresh.stdout != cached.stdout, "\(fresh)")
        #expect(
            s.idp.stats.tokenLog.last?.grantType == "refresh_token"
                && s.idp.stats.tokenLog.last?.claims == Self.challenge)
        #expect(s.idp.stats.refreshRotations == rotations + 1)
        #expect(try Self.sealedRefreshToken(s) != before, "the rotated refresh token was stored")
        let base64 = s.token(["--claims", Data(Self.challenge.utf8).base64EncodedString()])
        #expect(base64.status == 0 && s.idp.stats.tokenLog.last?.claims == Self.challenge, "\(base64)")
        let bad = s.token(["--claims", "{oops"])
        #expect(bad.status == 64 && bad.stderr.contains("--claims is neither a JSON object nor base64"), "\(bad)")
    }

    @Test func aConditionalAccessBlockIsNotAStepUp() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.login().status == 0)
        s.idp.setConditionalAccessBlock(true)
        try s.expireCachedToken()
        let blocked = s.token()
        #expect(blocked.status == 1 && blocked.stderr.contains("blocked by Conditional Access"), "\(blocked)")
        #expect(!blocked.stderr.contains("--claims"))
        #expect(Self.row("refresh token", of: s.cli.run(["show", "adme"]).stdout) == "present", "the token is kept")
    }

    @Test func clientCapabilitiesAreDeclaredOnEveryRequest() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        #expect(s.cli.run(["set", "adme", "--client-capability", "cp1", "--key-file", s.f.keyFile]).status == 0)
        #expect(s.login().status == 0)
        let cp1 = #"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#
        #expect(s.idp.stats.authorizeLog.last?.claims == cp1)
        try s.expireCachedToken()
        #expect(s.token().status == 0)
        #expect(s.idp.stats.tokenLog.last?.claims == cp1)
        #expect(Self.row("capabilities", of: s.cli.run(["show", "adme"]).stdout) == "cp1")
        let bad = s.cli.run(["set", "adme", "--client-capability", "cp 1", "--key-file", s.f.keyFile])
        #expect(bad.status == 64, "\(bad)")
        #expect(s.cli.run(["set", "adme", "--no-client-capabilities", "--key-file", s.f.keyFile]).status == 0)
        try s.expireCachedToken()
        #expect(s.token().status == 0 && s.idp.stats.tokenLog.last?.claims == nil)
    }

    @Test func refreshTokenAgeShowsInShowListAndDoctor() throws {
        let s = try LoginSetup()
        defer { s.idp.stop() }
        s.idp.setSendRefreshExpiresIn(true)
        #expect(s.login().status == 0)
        let now = Int64(Date().timeIntervalSince1970)
        let json = s.cli.run(["list", "--json"])
        let apps = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let refresh = try #require(apps.first?["refresh_token"] as? [String: Any], "\(json)")
        #expect(refresh["issued_at"] is String && refresh["inactive_days"] as? Int == 0, "\(refresh)")
        let expiresOn = try #require(refresh["expires_on"] as? Int64)
        #expect(abs(expiresOn - (now + 90 * 86_400)) < 60, "refresh_expires_in is kept")
        #expect(s.cli.run(["show", "adme"]).stdout.contains("expires"))
        #expect(s.cli.run(["doctor"]).stdout.contains("result      ok"))

        // 85 days without use (these times are public columns, as the clock would leave them).
        let old = now - 85 * 86_400
        try editVault(s.cli.vaultPath) { db in
            try db.execute(
                sql:
                    "UPDATE session SET obtained_at = ?, refreshed_at = ?, refresh_issued_at = ?, refresh_expires_at = NULL",
                arguments: [old, old, old])
        }
        let doctor = s.cli.run(["doctor"])
        #expect(doctor.status == 0, "a warning, not a problem: \(doctor)")
        #expect(doctor.stdout.contains("refresh token unused for 85 days"), "\(doctor)")
        #expect(doctor.stdout.contains("ok, 1 warning(s)"), "\(doctor)")
        #expect(s.cli.run(["show", "adme"]).stdout.contains("85 day(s) since last used"))
        // A refresh resets it.
        try s.expireCachedToken()
        #expect(s.token().status == 0)
        #expect(!s.cli.run(["doctor"]).stdout.contains("unused for"))
    }
}
