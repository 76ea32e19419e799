import ArgumentParser
import TokvaultFlow

/// `--claims` of `login` and `token`, checked in `validate()` so that a bad value is a usage
/// error before anything is unlocked or sent.
enum ClaimsOption {
    static func check(_ value: String) throws {
        do {
            _ = try ClaimsRequest.parse(value)
        } catch let error as FlowError {
            throw ValidationError(error.message + (error.hint.map { "; " + Failure.render($0) } ?? ""))
        }
    }
}
