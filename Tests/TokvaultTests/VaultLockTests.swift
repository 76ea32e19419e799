import Foundation
import Glibc
import Testing

@testable import TokvaultVault

/// The vault lock prefers exclusive waiters (docs/vault-format.md §6). flock locks belong to
/// open file descriptions, so separate `VaultLock`s of one process contend as processes do.
@Suite("vault lock order")
struct VaultLockTests {
    final class Order: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [String] = []
        func note(_ event: String) {
            lock.lock()
            events.append(event)
            lock.unlock()
        }
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return events
        }
    }

    /// Whether some process holds the gate exclusively (a shared try fails).
    static func gateIsClosed(_ vaultPath: String) -> Bool {
        let fd = open(vaultPath + ".lock-gate", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    static func wait(until condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(5_000) }
    }

    @Test func anExclusiveWaiterIsServedBeforeSharedRequestsThatCameAfterIt() throws {
        let dir = TempDir()
        let vaultPath = dir.file("vault.db")
        let order = Order()
        let reader = VaultLock(vaultPath: vaultPath)
        try reader.acquire(.shared)

        let exclusiveDone = DispatchSemaphore(value: 0)
        Thread {
            let rotation = VaultLock(vaultPath: vaultPath)
            do {
                try rotation.acquire(.exclusive, timeout: 20)
                order.note("exclusive in")
                usleep(200_000)
                order.note("exclusive out")
                rotation.release()
            } catch { order.note("exclusive failed: \(error)") }
            exclusiveDone.signal()
        }.start()
        Self.wait { Self.gateIsClosed(vaultPath) }
        #expect(Self.gateIsClosed(vaultPath), "the exclusive request did not take the gate")

        // Shared requests that arrive while the exclusive one waits.
        let sharedDone = DispatchSemaphore(value: 0)
        for index in 0..<4 {
            Thread {
                let writer = VaultLock(vaultPath: vaultPath)
                do {
                    try writer.acquire(.shared, timeout: 20)
                    order.note("shared \(index) in")
                    writer.release()
                } catch { order.note("shared \(index) failed: \(error)") }
                sharedDone.signal()
            }.start()
        }
        usleep(300_000)
        #expect(order.all.isEmpty, "someone got in past the waiting exclusive request: \(order.all)")
        reader.release()
        exclusiveDone.wait()
        for _ in 0..<4 { sharedDone.wait() }
        let events = order.all
        #expect(events.prefix(2) == ["exclusive in", "exclusive out"], "\(events)")
        #expect(events.count == 6 && events.dropFirst(2).allSatisfy { $0.hasSuffix(" in") }, "\(events)")
    }

    /// Without an exclusive request, shared holders share: the gate costs them nothing.
    @Test func sharedRequestsStillShare() throws {
        let dir = TempDir()
        let vaultPath = dir.file("vault.db")
        let first = VaultLock(vaultPath: vaultPath)
        let second = VaultLock(vaultPath: vaultPath)
        try first.acquire(.shared)
        try second.acquire(.shared, timeout: 1)
        #expect(first.held == .shared && second.held == .shared)
        #expect(!Self.gateIsClosed(vaultPath))
        first.release()
        second.release()
    }

    /// An exclusive request that gives up opens the gate again.
    @Test func anExclusiveRequestThatTimesOutReleasesTheGate() throws {
        let dir = TempDir()
        let vaultPath = dir.file("vault.db")
        let reader = VaultLock(vaultPath: vaultPath)
        try reader.acquire(.shared)
        let rotation = VaultLock(vaultPath: vaultPath)
        #expect(throws: VaultError.self) { try rotation.acquire(.exclusive, timeout: 0.3) }
        #expect(!Self.gateIsClosed(vaultPath), "a timed-out exclusive request kept the gate")
        let writer = VaultLock(vaultPath: vaultPath)
        try writer.acquire(.shared, timeout: 1)
        writer.release()
        reader.release()
    }
}
