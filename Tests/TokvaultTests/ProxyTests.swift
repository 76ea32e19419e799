import Foundation
import Testing

@testable import TokvaultFlow
@testable import TokvaultVault

/// Proxy settings from HTTPS_PROXY, ALL_PROXY and NO_PROXY.
@Suite("proxy settings")
struct ProxyTests {
    static func env(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    @Test func httpsProxyIsUsedForHTTPSHosts() throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy.example.com:3128"])
        let proxy = try ProxySettings.forURL("https://login.microsoftonline.com/t/oauth2/v2.0/token", environment: e)
        #expect(proxy == ProxySettings(host: "proxy.example.com", port: 3128, username: nil, password: nil))
        // A scheme-less proxy is http; the default port is 80.
        #expect(
            try ProxySettings.forURL(
                "https://idp.example.com/t", environment: Self.env(["https_proxy": "proxy.example.com"]))
                == ProxySettings(host: "proxy.example.com", port: 80, username: nil, password: nil))
        #expect(
            try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["ALL_PROXY": "http://p:1"]))?
                .host == "p")
        #expect(try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env([:])) == nil)
        #expect(
            try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": ""])) == nil)
        // HTTPS_PROXY is not for plain http URLs.
        #expect(try ProxySettings.forURL("http://idp.example.com/t", environment: e) == nil)
    }

    @Test(arguments: [
        ("login.microsoftonline.com", true),
        ("microsoftonline.com", true),
        (".microsoftonline.com", true),
        ("*.microsoftonline.com", true),
        ("*", true),
        ("example.com, login.microsoftonline.com", true),
        ("LOGIN.MicrosoftOnline.com", true),
        ("login.microsoftonline.com:443", true),
        ("login.microsoftonline.com:8443", false),
        ("online.com", false),
        ("gin.microsoftonline.com", false),
        ("example.com", false),
        ("", false)
    ])
    func noProxy(_ noProxy: String, _ bypassed: Bool) throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy.example.com:3128", "NO_PROXY": noProxy])
        let proxy = try ProxySettings.forURL("https://login.microsoftonline.com/t/oauth2/v2.0/token", environment: e)
        #expect((proxy == nil) == bypassed, "NO_PROXY=\(noProxy)")
    }

    @Test func noProxyWithAPortMatchesOnlyThatPort() throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy:3128", "no_proxy": "idp.example.com:8443"])
        #expect(try ProxySettings.forURL("https://idp.example.com:8443/token", environment: e) == nil)
        #expect(try ProxySettings.forURL("https://idp.example.com/token", environment: e) != nil)
    }

    @Test(arguments: [
        "https://localhost/t", "https://localhost:8443/t", "https://127.0.0.1:8443/t", "https://127.1.2.3/t",
        "https://[::1]:8443/t", "http://127.0.0.1:1234/t", "https://LOCALHOST/t"
    ])
    func loopbackIsNeverProxied(_ url: String) throws {
        let e = Self.env(["HTTPS_PROXY": "http://proxy:3128", "ALL_PROXY": "http://proxy:3128"])
        #expect(try ProxySettings.forURL(url, environment: e) == nil, "\(url)")
    }

    @Test func proxyCredentialsAreParsed() throws {
        let e = Self.env(["HTTPS_PROXY": "http://alice:s3cret@proxy.example.com:3128"])
        let proxy = try #require(try ProxySettings.forURL("https://idp.example.com/t", environment: e))
        #expect(proxy.host == "proxy.example.com" && proxy.port == 3128)
        #expect(proxy.username == "alice")
        #expect(proxy.password == "s3cret")
        let escaped = try #require(
            try ProxySettings.forURL(
                "https://idp.example.com/t",
                environment: Self.env(["HTTPS_PROXY": "http://dom%5Calice:p%40ss%3Aword@proxy:8080"])))
        #expect(escaped.username == "dom\\alice")
        #expect(escaped.password == "p@ss:word")
    }

    /// Percent-encoded `+` and `%` in proxy credentials must come out as `+` and `%`.
    @Test func proxyCredentialsWithPlusAndPercent() throws {
        let e = Self.env(["HTTPS_PROXY": "http://bob:a%2Bb%25c@proxy:8080"])
        let proxy = try #require(try ProxySettings.forURL("https://idp.example.com/t", environment: e))
        let plus = try #require(
            try ProxySettings.forURL(
                "https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": "http://bob:a+b@proxy:8080"])))
        #expect(proxy.password == "a+b%c")
        #expect(plus.password == "a+b")
    }

    @Test(arguments: ["socks5://proxy:1080", "https://proxy:443", "ftp://proxy"])
    func nonHTTPProxySchemeIsRefused(_ raw: String) {
        do {
            _ = try ProxySettings.forURL("https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": raw]))
            Issue.record("\(raw) was accepted")
        } catch let error as FlowError {
            #expect(error.exitCode == 64)
            #expect(error.message.contains("only http://"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func malformedProxyIsRefusedWithoutItsPassword() {
        do {
            _ = try ProxySettings.forURL(
                "https://idp.example.com/t", environment: Self.env(["HTTPS_PROXY": "http://u:hunter2@"]))
            Issue.record("accepted a proxy without a host")
        } catch let error as FlowError {
            #expect(error.exitCode == 64)
            #expect(!error.message.contains("hunter2"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
