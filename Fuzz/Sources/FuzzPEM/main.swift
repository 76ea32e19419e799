import FuzzSupport
@testable import TokvaultFlow
@testable import TokvaultVault

// Certificate and private key files given to add-app/set (--certificate, --private-key-file,
// --private-key-stdin): CertificateCredential.certificateDER and privateKeyDER on the input
// as PEM text, and CertificateInfo(der:) on the input as DER (what `show` reads back from
// the vault's certificate column).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPEM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)

    do {
        let der = try CertificateCredential.certificateDER(fromPEM: text, source: "cert.pem")
        let info = try CertificateInfo(der: der)
        require(info.keyBits > 0 && info.sha1Hex.count == 40 && info.sha256Hex.count == 64, "certificate info \(info)")
    } catch let error as FlowError {
        require(error.kind == .badInput, "kind \(error.kind) for a certificate file: \(error.message)")
    } catch {
        require(false, "non-FlowError \(error) from certificateDER")
    }

    var copy = bytes
    do {
        let key = try CertificateCredential.privateKeyDER(fromPEM: SecureBytes(consuming: &copy), source: "key.pem")
        // What is stored must be what signing reads back.
        _ = try CertificateCredential.signingKey(key)
    } catch let error as FlowError {
        require(error.kind == .badInput, "kind \(error.kind) for a key file: \(error.message)")
    } catch {
        require(false, "non-FlowError \(error) from privateKeyDER")
    }

    do {
        let info = try CertificateInfo(der: bytes)
        require(info.keyBits > 0, "certificate with a \(info.keyBits)-bit key")
        _ = info.daysLeft()
    } catch let error as FlowError {
        require(error.kind == .badInput, "kind \(error.kind) for DER: \(error.message)")
    } catch {
        require(false, "non-FlowError \(error) from CertificateInfo(der:)")
    }
    return 0
}

runFuzzer { fuzzPEM($0 ?? emptyInput, $1) }
