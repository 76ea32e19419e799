import Foundation
import GRDB
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

    /// A `rotate-key` killed while it waits (holding the gate) leaves nothing to clean up: the
    /// kernel drops its flocks, writers get in at once, and the next rotation succeeds.
    @Test func aKilledExclusiveWaiterLeavesNothingToCleanUp() throws {
        let dir = TempDir()
        let cli = CLI(dir)
        let keyFile = dir.file("vault.key")
        let created = cli.run(["init", "--new-key-file", keyFile, "--no-passphrase"])
        try #require(created.status == 0, "\(created)")
        let reader = VaultLock(vaultPath: cli.vaultPath)
        try reader.acquire(.shared)

        let waiter = Process()
        waiter.executableURL = URL(fileURLWithPath: CLI.binary)
        waiter.arguments = ["rotate-key", "--key-file", keyFile]
        waiter.environment = cli.environment
        waiter.standardInput = FileHandle.nullDevice
        waiter.standardOutput = FileHandle.nullDevice
        waiter.standardError = FileHandle.nullDevice
        try waiter.run()
        Self.wait { Self.gateIsClosed(cli.vaultPath) }
        #expect(Self.gateIsClosed(cli.vaultPath), "rotate-key did not wait at the gate")
        kill(waiter.processIdentifier, SIGKILL)
        waiter.waitUntilExit()
        #expect(!Self.gateIsClosed(cli.vaultPath), "the killed waiter's gate is still closed")
        let writer = VaultLock(vaultPath: cli.vaultPath)
        try writer.acquire(.shared, timeout: 1)
        writer.release()
        reader.release()

        let rotated = cli.run(["rotate-key", "--key-file", keyFile], env: ["TOKVAULT_TRACE_LOCKS": "1"])
        #expect(rotated.status == 0, "\(rotated)")
        #expect(rotated.stderr.contains("tokvault: lock: vault.db.lock exclusive after "), "\(rotated)")
        let checked = cli.run(["doctor", "--verify", "--key-file", keyFile])
        #expect(checked.status == 0, "\(checked)")
    }

    /// rotate-key prepares (Argon2id) before it waits for the vault lock. The key-slot lock
    /// keeps this version's `passwd` out meanwhile; an older tokvault's `passwd` does not take
    /// it, and its new passphrase slot must not be undone by slots wrapped with the old
    /// passphrase. The rotation prepares again, and here, given the old passphrase, is refused
    /// with nothing changed.
    @Test func aPasswdWhileRotateKeyWaitsIsNotUndone() throws {
        let dir = TempDir()
        let cli = CLI(dir)
        let keyFile = dir.file("vault.key")
        let oldPassphrase = dir.file("old-passphrase")
        try "old pass phrase\n".write(toFile: oldPassphrase, atomically: true, encoding: .utf8)
        let created = cli.run([
            "init", "--new-key-file", keyFile, "--new-passphrase-file", oldPassphrase, "--kdf-ops", "1",
            "--kdf-mem-mib", "8"
        ])
        try #require(created.status == 0, "\(created)")
        let vault = try Vault.open(path: cli.vaultPath)
        let key = try vault.unlock(UnlockMaterial(keyFiles: [(keyFile, try KeyFile.load(path: keyFile))]))
        try vault.lock.acquire(.shared)

        let rotate = Process()
        rotate.executableURL = URL(fileURLWithPath: CLI.binary)
        rotate.arguments = ["rotate-key", "--key-file", keyFile, "--passphrase-file", oldPassphrase]
        rotate.environment = cli.environment
        rotate.standardInput = FileHandle.nullDevice
        rotate.standardOutput = FileHandle.nullDevice
        let rotateErrors = Pipe()
        rotate.standardError = rotateErrors
        try rotate.run()
        Self.wait { Self.gateIsClosed(cli.vaultPath) }
        #expect(Self.gateIsClosed(cli.vaultPath), "rotate-key did not wait at the gate")
        // An older tokvault's passwd, which got the shared lock before the rotation asked for it.
        let slot = try KeySlot.passphrase(
            secure("new pass phrase"), dataKey: key, parameters: KDFParameters(opsLimit: 1, memLimit: 8 << 20))
        try vault.sealingWrite(key: key) { db in
            try KeySlot.filter(Column("kind") == KeySlot.Kind.passphrase.rawValue).deleteAll(db)
            try slot.insert(db)
        }
        vault.lock.release()
        let errors = String(decoding: rotateErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        rotate.waitUntilExit()
        #expect(rotate.terminationStatus == 4, "rotate-key: \(errors)")
        #expect(errors.contains("wrong passphrase"), "\(errors)")

        let newPassphrase = dir.file("new-passphrase")
        try "new pass phrase\n".write(toFile: newPassphrase, atomically: true, encoding: .utf8)
        let checked = cli.run(["doctor", "--verify", "--passphrase-file", newPassphrase])
        #expect(checked.status == 0 && checked.stdout.contains("generation 1"), "\(checked)")
    }
}
