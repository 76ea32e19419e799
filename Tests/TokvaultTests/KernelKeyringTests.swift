import Foundation
import Glibc
import Testing

@testable import TokvaultVault

@Suite("kernel keyring", .enabled(if: TestKeyring.available, "the kernel refuses keyring calls here"))
struct KernelKeyringTests {
    @Test func aKeyIsAddedFoundReadAndInvalidated() throws {
        try TestKeyring.inNewSession { session in
            #expect(
                session != (try KernelKeyring.id(of: .userSession)), "the tests run in a session keyring of their own")
            let description = "tokvault-test:\(UUID().uuidString)"
            let key = try KernelKeyring.add(
                description: description, payload: secure("payload-CANARY"), to: session,
                permissions: KernelKeyring.possessorOnly, timeoutSeconds: 60)
            let info = try KernelKeyring.describe(key)
            #expect(info.type == "user")
            #expect(info.uid == geteuid())
            #expect(info.permissions == KernelKeyring.possessorOnly, "\(String(info.permissions, radix: 16))")
            #expect(info.description == description)
            #expect(try KernelKeyring.search(session, description: description) == key)
            #expect(try KernelKeyring.keys(in: session).contains(key))
            #expect(try KernelKeyring.read(key, limit: 64).constantTimeEquals(secure("payload-CANARY")))
            // A payload longer than the caller allows is refused, not cut.
            #expect(throws: KernelKeyring.Refusal(operation: "keyctl(READ)", errno: E2BIG)) {
                try KernelKeyring.read(key, limit: 4)
            }
            try KernelKeyring.invalidate(key)
            #expect(try KernelKeyring.search(session, description: description) == nil)
            #expect(throws: KernelKeyring.Refusal.self) { try KernelKeyring.read(key, limit: 64) }
        }
    }

    @Test func theKernelEndsAKeyAtItsTimeout() throws {
        try TestKeyring.inNewSession { session in
            let description = "tokvault-test:\(UUID().uuidString)"
            let key = try KernelKeyring.add(
                description: description, payload: secure("short-lived"), to: session,
                permissions: KernelKeyring.possessorOnly, timeoutSeconds: 1)
            #expect(try KernelKeyring.search(session, description: description) == key)
            Thread.sleep(forTimeInterval: 2.2)
            #expect(try KernelKeyring.search(session, description: description) == nil)
            do {
                _ = try KernelKeyring.read(key, limit: 64)
                Issue.record("an expired key was read")
            } catch let refusal as KernelKeyring.Refusal {
                #expect(refusal.isNoKey, "\(refusal)")
            }
        }
    }

    @Test func aSessionKeyringOfOursIsAcceptable() throws {
        try TestKeyring.inNewSession { _ in
            #expect(KernelKeyring.sessionKeyringProblem() == nil)
        }
    }

    @Test func aDescriptionWithSemicolonsIsDescribedWhole() throws {
        try TestKeyring.inNewSession { session in
            let description = "tokvault-test;with;semicolons:\(UUID().uuidString)"
            let key = try KernelKeyring.add(
                description: description, payload: secure("x"), to: session,
                permissions: KernelKeyring.possessorOnly, timeoutSeconds: 60)
            defer { try? KernelKeyring.invalidate(key) }
            #expect(try KernelKeyring.describe(key).description == description)
        }
    }
}
