import FuzzSupport
@testable import TokvaultFlow
@testable import TokvaultVault

// What `login` reads from the terminal (the pasted redirect URL or bare code) and what the
// loopback listener reads from a query string or form_post body.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRedirect(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)

    do {
        let response = try RedirectParser.parsePasted(text)
        checkResponse(response)
        if case let .code(code, state) = response, state == nil, !text.contains("code=") {
            // A bare code is the pasted text without surrounding white space, and only
            // printable ASCII without the separators of a query.
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            require(code == trimmed, "bare code \(code.debugDescription) is not the trimmed paste")
            require(code.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }, "bare code is not printable ASCII")
        }
    } catch let error as FlowError {
        require([.failed, .badInput].contains(error.kind), "kind \(error.kind) for a paste")
    } catch {
        require(false, "non-FlowError \(error) from parsePasted")
    }

    do {
        checkResponse(try RedirectParser.parse(parameters: Substring(text)))
    } catch let error as FlowError {
        require(error.kind == .failed, "kind \(error.kind) for redirect parameters")
    } catch {
        require(false, "non-FlowError \(error) from parse(parameters:)")
    }

    _ = RedirectParser.redacted(text)
    return 0
}

func checkResponse(_ response: AuthorizationResponse) {
    switch response {
    case let .code(code, _):
        require(!code.isEmpty, "an empty code was accepted")
    case .error:
        break
    }
}

runFuzzer { fuzzRedirect($0 ?? emptyInput, $1) }
