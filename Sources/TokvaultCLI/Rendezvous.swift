import Foundation
import NIOConcurrencyHelpers

/// The first of several racing sources (browser redirect, pasted URL, timeout) wins.
final class Rendezvous<Value: Sendable>: @unchecked Sendable {
    private let lock = NIOLock()
    private var result: Swift.Result<Value, Error>?
    private var continuation: CheckedContinuation<Value, Error>?

    func resolve(_ value: Swift.Result<Value, Error>) {
        let waiting: CheckedContinuation<Value, Error>? = lock.withLock {
            guard result == nil else { return nil }
            result = value
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(with: value)
    }

    var isResolved: Bool { lock.withLock { result != nil } }

    func wait() async throws -> Value {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Value, Error>) in
            let ready: Swift.Result<Value, Error>? = lock.withLock {
                if let result { return result }
                continuation = c
                return nil
            }
            if let ready { c.resume(with: ready) }
        }
    }
}
