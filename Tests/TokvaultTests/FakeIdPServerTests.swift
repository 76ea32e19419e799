// Tests of the fake identity provider: the listener and the routing (FakeIdentityProvider.swift, FakeIdPRouting.swift).
// Requests and fixtures: Support/FakeIdPTestSupport.swift.

import Foundation
import Testing
import TokvaultFakeIdP

@Suite struct FakeIdPServerTests {
    @Test func unknownPathsAre404() throws {
        let idp = try IdP()
        #expect(http("GET", "\(idp.base)/favicon.ico").status == 404)
        #expect(http("GET", "\(idp.base)/\(tid)/oauth2/v2.0/nothing").status == 404)
        #expect(idp.provider.stats.notFound == 2)
        #expect(idp.provider.stats.notFoundPaths.first == "/favicon.ico")
    }

    @Test func stopClosesTheListenerAndRestartWorks() throws {
        let provider = FakeIdentityProvider(FakeIdPConfiguration())
        let port = try provider.start()
        #expect(port > 0 && provider.baseURL == "http://127.0.0.1:\(port)")
        #expect(throws: FakeIdPError.self) { try provider.start() }
        #expect(http("GET", "\(provider.baseURL)/favicon.ico").status == 404)
        provider.stop()
        let refused = http("GET", "http://127.0.0.1:\(port)/favicon.ico", maxTime: 2)
        #expect(refused.status == 0 && refused.curlStatus == 7)
        provider.stop()
        let again = try provider.start()
        #expect(http("GET", "http://127.0.0.1:\(again)/favicon.ico").status == 404)
        provider.stop()
    }
}
