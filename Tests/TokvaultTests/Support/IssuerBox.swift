import Foundation

/// The issuer the scripted server signs into ID tokens (known only once it listens), and a
/// request counter.
final class IssuerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ""
    private var requests = 0

    var issuer: String {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }

    func count() -> Int {
        lock.withLock {
            requests += 1
            return requests
        }
    }
}
