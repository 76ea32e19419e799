import Foundation
import FuzzSupport
@testable import TokvaultFlow
@testable import TokvaultVault

// A device authorization endpoint's answer (DeviceFlow.parse): its user code, URL and
// message are printed on the terminal, its expires_in and interval drive the polling loop.

enum Fixture {
    static let endpoint = "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode"
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeviceAuthorization(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(UnsafeBufferPointer(start: data, count: size))
    do {
        let authorization = try DeviceFlow.parse(body, endpoint: Fixture.endpoint)
        require(authorization.deviceCode.count > 0, "empty device code accepted")
        require(!authorization.userCode.isEmpty, "empty user code accepted")
        require((1...86400).contains(authorization.expiresIn), "expires_in \(authorization.expiresIn)")
        require((1...60).contains(authorization.interval), "interval \(authorization.interval)")
        for text in [authorization.userCode, authorization.verificationURI, authorization.verificationURIComplete ?? "",
                     authorization.message ?? ""] {
            require(isPrintable(text), "control characters reach the terminal: \(text.debugDescription)")
        }
        // Shown as Display.printable makes it: over 200 characters it is cut and ends in "…".
        let shown = authorization.verificationURI.lowercased()
        require(shown.hasPrefix("https://") || shown.hasPrefix("http://"), "verification_uri \(authorization.verificationURI.debugDescription)")
    } catch let error as FlowError {
        require(error.kind == .failed, "kind \(error.kind)")
        require(isPrintable(error.message), "control characters in \(error.message.debugDescription)")
    } catch {
        require(false, "non-FlowError \(error) from DeviceFlow.parse")
    }
    return 0
}

runFuzzer { fuzzDeviceAuthorization($0 ?? emptyInput, $1) }
