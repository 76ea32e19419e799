import Foundation
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

/// `login --device` and `login` of a client credentials app: the two ways to get tokens
/// without a browser on this machine.
extension Login {
    func loginWithDeviceCode(_ signIn: SignIn) async throws {
        installInterruptHandler()
        let finished = DoneFlag()
        defer { finished.set() }
        let tokens = try await signIn.signInWithDeviceCode(
            show: { authorization in
                let minutes = max(1, authorization.expiresIn / 60)
                var text =
                    "\nTo sign in to \(name), open this page on any device:\n\n    \(authorization.verificationURI)\n\n"
                text += "and enter the code:\n\n    \(authorization.userCode)\n\n"
                if let complete = authorization.verificationURIComplete {
                    text += "(or open \(complete), which carries the code)\n"
                }
                text +=
                    "The code expires in \(minutes) minute\(minutes == 1 ? "" : "s"). Waiting for the sign-in… (Ctrl-C to cancel)\n"
                Diagnostics.write(text)
                Countdown.start(seconds: Int(authorization.expiresIn), isDone: finished.isSet)
            },
            onSlowDown: { interval in
                Diagnostics.note("the identity provider asked to poll more slowly: every \(interval) s now")
            })
        report(tokens, app: signIn.app)
    }

    /// A client credentials app has no user to sign in: `login` gets its own token, which
    /// checks the secret or certificate against the provider.
    func loginAsClient(_ signIn: SignIn) async throws {
        let app = signIn.app
        let result = try await signIn.signInAsClient()
        let credential =
            app.usesFederatedCredential ? "federated credential" : app.usesCertificate ? "certificate" : "client secret"
        print("Got a token for \(name) as the app itself (client credentials, \(credential))")
        print("  scope:         \(Output.safe(result.record.grantedScope ?? app.scope))")
        print(
            "  access token:  valid until \(Output.isoTime(result.record.expiresAt)) (\(Output.relative(result.record.expiresAt)))"
        )
        print("  `tokvault token \(name)` gets a new one whenever the cached one is too old; no login is needed again.")
    }
}

/// Set once, read from the countdown's thread.
final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func set() { lock.withLock { done = true } }
    @Sendable func isSet() -> Bool { lock.withLock { done } }
}
