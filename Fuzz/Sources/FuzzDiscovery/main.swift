import Foundation
import FuzzSupport
@testable import TokvaultFlow
@testable import TokvaultVault

// An OpenID Connect discovery document (DiscoveryDocument.parse), fetched for the issuer
// below; the issuer check stands between the document and the endpoints it names.

enum Fixture {
    static let issuer = "https://idp.example.com"
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDiscovery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(UnsafeBufferPointer(start: data, count: size))
    do {
        let document = try DiscoveryDocument.parse(body, expectedIssuer: Fixture.issuer)
        require(document.issuer == Fixture.issuer, "accepted issuer \(document.issuer.debugDescription)")
        // Secrets go to these endpoints: only https (or http to loopback) may get through.
        for endpoint in [document.authorizationEndpoint, document.tokenEndpoint] + [document.deviceAuthorizationEndpoint].compactMap({ $0 }) {
            let scheme = URLComponents(string: endpoint)?.scheme?.lowercased()
            require(scheme == "https" || scheme == "http", "accepted endpoint \(endpoint.debugDescription)")
            if scheme == "http" {
                require(EndpointRules.isLoopbackHost(URLComponents(string: endpoint)?.host ?? ""), "plain http to \(endpoint.debugDescription)")
            }
        }
        require([App.ClientAuth.basic, .post].contains(document.preferredClientAuth), "client auth \(document.preferredClientAuth)")
    } catch let error as FlowError {
        require([.failed, .badInput].contains(error.kind), "kind \(error.kind)")
        require(isPrintable(error.message), "control characters in \(error.message.debugDescription)")
    } catch {
        require(false, "non-FlowError \(error) from DiscoveryDocument.parse")
    }
    return 0
}

runFuzzer { fuzzDiscovery($0 ?? emptyInput, $1) }
