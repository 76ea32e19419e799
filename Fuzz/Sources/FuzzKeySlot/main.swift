import Foundation
import FuzzSupport
import GRDB
@testable import TokvaultVault

// A key slot as read from the vault file: the row decoder KeySlot(row:) and unwrapping
// (passphraseKEK, unwrap) from any salt, costs, fingerprint and wrapped key.
//
// Argon2id must be quick here. Out-of-bounds costs must be refused (exit 4) before
// Argon2id runs: the harness times that call. In-bounds costs are capped to the minimum
// (1 pass, 8 MiB) before the harness lets Argon2id run.
//
// Input: one mode byte, then
//   mode % 3 == 0: a slot built from the input (kind, generation, salt, costs, fingerprint,
//                  id, wrapped key), unwrapped with the fixed passphrase and key file;
//   mode % 3 == 1: a genuine slot (key file or passphrase) with input-chosen changes,
//                  which must open exactly when nothing was changed;
//   mode % 3 == 2: a key_slot row of input-chosen SQLite values, stored in a database with
//                  the vault's schema and read back through KeySlot(row:).

enum Fixture {
    static let vaultID = "3f1c2a9e-5b7d-4e21-9c3a-8d6f0b1e2a47"
    static let passphrase: SecureBytes = { var b = Array("correct horse battery staple".utf8); return SecureBytes(consuming: &b) }()
    static let keyFile: KeyFile = {
        var b = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        return KeyFile(key: SecureBytes(consuming: &b))
    }()
    static let dataKey: DataKey = {
        var b = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        return DataKey(bytes: SecureBytes(consuming: &b), generation: 3, vaultID: vaultID)
    }()
    static let minimum = KDFParameters(opsLimit: KDFParameters.minOps, memLimit: KDFParameters.minMem)
    static let keyFileSlot = KeySlot.keyFile(keyFile, dataKey: dataKey)
    static let passphraseSlot = try! KeySlot.passphrase(passphrase, dataKey: dataKey, parameters: minimum)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeySlot(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    switch input.byte() % 3 {
    case 0: arbitrarySlot(&input)
    case 1: changedGenuineSlot(&input)
    default: decodeRow(&input)
    }
    return 0
}

func arbitrarySlot(_ input: inout FuzzInput) {
    let flags = input.byte()
    let generation = input.int64()
    let ops = input.int64(), mem = input.int64()
    let salt = input.chunk()
    let fingerprint = String(decoding: input.chunk(), as: UTF8.self)
    let id = String(decoding: input.chunk(), as: UTF8.self)
    let slot = KeySlot(
        id: id, kind: flags & 1 == 0 ? .passphrase : .keyfile, keyGeneration: generation,
        kdfSalt: flags & 2 == 0 ? Data(salt) : nil, kdfOpslimit: flags & 4 == 0 ? ops : nil,
        kdfMemlimit: flags & 8 == 0 ? mem : nil, keyfileFingerprint: flags & 16 == 0 ? fingerprint : nil,
        wrappedKey: Data(input.rest()), createdAt: 0)
    _ = slot.label
    // Nothing but the genuine slots opens: the fuzzer cannot forge a tag.
    require(open(slot) == nil, "a slot built from fuzz input opened")
}

func changedGenuineSlot(_ input: inout FuzzInput) {
    let flags = input.byte()
    var slot = flags & 1 == 0 ? Fixture.keyFileSlot : Fixture.passphraseSlot
    var changed = false
    var wrapped = [UInt8](slot.wrappedKey)
    let mask = input.chunk()
    for (index, byte) in mask.enumerated() where index < wrapped.count && byte != 0 {
        wrapped[index] ^= byte
        changed = true
    }
    if flags & 2 != 0 { wrapped += input.chunk(); changed = changed || wrapped.count != slot.wrappedKey.count }
    if flags & 4 != 0 { wrapped = Array(wrapped.prefix(Int(input.byte()))); changed = changed || wrapped.count != slot.wrappedKey.count }
    slot.wrappedKey = Data(wrapped)
    if flags & 8 != 0 {
        let delta = input.int64()
        slot.keyGeneration = slot.keyGeneration &+ delta
        changed = changed || delta != 0
    }
    if flags & 16 != 0 {
        let id = String(decoding: input.chunk(), as: UTF8.self)
        changed = changed || id != slot.id
        slot.id = id
    }
    if flags & 32 != 0, slot.kind == .keyfile {
        let fingerprint = String(decoding: input.chunk(), as: UTF8.self)
        changed = changed || fingerprint != slot.keyfileFingerprint
        slot.keyfileFingerprint = fingerprint
    }
    if flags & 64 != 0, slot.kind == .passphrase {
        var salt = [UInt8](slot.kdfSalt ?? Data())
        let saltMask = input.chunk()
        for (index, byte) in saltMask.enumerated() where index < salt.count && byte != 0 { salt[index] ^= byte; changed = true }
        slot.kdfSalt = Data(salt)
    }
    if flags & 128 != 0 {
        // The other kind with the same wrapped key: the kind is in the AAD.
        slot.kind = slot.kind == .keyfile ? .passphrase : .keyfile
        changed = true
    }
    let key = open(slot)
    if changed {
        require(key == nil, "a changed slot still opened")
    } else {
        require(key?.bytes.constantTimeEquals(Fixture.dataKey.bytes) == true, "an unchanged genuine slot did not open")
        require(key?.generation == Fixture.dataKey.generation, "generation changed")
    }
}

/// Unwraps with every secret the harness has, as unlocking tries them.
func open(_ slot: KeySlot) -> DataKey? {
    var candidates: [SecureBytes] = [Fixture.keyFile.keyEncryptionKey]
    var testSlot = slot
    if slot.kind == .passphrase, let parameters = slot.kdfParameters, parameters.isWithinBounds {
        testSlot.kdfOpslimit = Int64(Fixture.minimum.opsLimit)
        testSlot.kdfMemlimit = Int64(Fixture.minimum.memLimit)
    }
    let started = DispatchTime.now().uptimeNanoseconds
    do {
        let kek = try testSlot.passphraseKEK(Fixture.passphrase, path: "fuzz.db")
        if let kek { candidates.append(kek) }
        if slot.kind == .passphrase, slot.kdfSalt?.count == 16, let parameters = slot.kdfParameters, !parameters.isWithinBounds {
            require(false, "out-of-bounds \(parameters) was not refused")
        }
    } catch let error as VaultError {
        let bounded = testSlot.kdfParameters?.isWithinBounds ?? true
        require(error.kind == .cannotUnlock && !bounded, "kind \(error.kind) from passphraseKEK: \(error.message)")
        // Refusing takes microseconds; Argon2id at the refused costs would take far longer
        // (>= 17 passes or > 1 GiB). 250 ms leaves room for a busy machine.
        let elapsed = DispatchTime.now().uptimeNanoseconds - started
        require(elapsed < 250_000_000, "refusing \(testSlot.kdfParameters!) took \(elapsed / 1_000_000) ms: did Argon2id run first?")
    } catch {
        require(false, "non-VaultError \(error) from passphraseKEK")
    }
    var opened: DataKey?
    for kek in candidates {
        if let key = testSlot.unwrap(with: kek, vaultID: Fixture.vaultID) {
            require(key.bytes.count == 32, "data key of \(key.bytes.count) bytes")
            opened = key
        }
    }
    return opened
}

func databaseValue(_ input: inout FuzzInput) -> DatabaseValue {
    switch input.byte() % 5 {
    case 0: return .null
    case 1: return input.int64().databaseValue
    case 2: return Double(bitPattern: UInt64(bitPattern: input.int64())).databaseValue
    case 3: return String(decoding: input.chunk(), as: UTF8.self).databaseValue
    default: return Data(input.chunk()).databaseValue
    }
}

/// An in-memory database with the vault's real schema (every migration), so that rows
/// get SQLite's type affinities and constraints, and are read through GRDB's statement
/// path, as the vault reads them.
enum Schema {
    static let queue: DatabaseQueue = {
        let queue = try! DatabaseQueue()
        try! Vault.migrator.migrate(queue)
        return queue
    }()
}

func decodeRow(_ input: inout FuzzInput) {
    let columns = ["id", "kind", "key_generation", "kdf_salt", "kdf_opslimit", "kdf_memlimit",
                   "keyfile_fingerprint", "wrapped_key", "created_at"]
    let values = columns.map { _ in databaseValue(&input) }
    let slot: KeySlot?
    do {
        slot = try Schema.queue.write { db -> KeySlot? in
            try db.execute(sql: "DELETE FROM key_slot")
            do {
                try db.execute(sql: "INSERT INTO key_slot (\(columns.joined(separator: ", "))) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               arguments: StatementArguments(values.map { $0 as (any DatabaseValueConvertible)? }))
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                return nil  // a row the schema does not allow cannot be in a vault
            }
            return try KeySlot.fetchOne(db)
        }
    } catch {
        require(false, "reading the key slot back failed: \(error)")
        return
    }
    if let slot {
        _ = slot.label
        require(open(slot) == nil, "a slot decoded from fuzz input opened")
    }
}

runFuzzer { fuzzKeySlot($0 ?? emptyInput, $1) }
