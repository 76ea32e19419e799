import CTokvault
import Foundation
import TokvaultExport
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

/// The managed-identity endpoint of `serve` and `exec --managed-identity`: the vault unlocked
/// once, the listener started, and each request answered or refused in App Service's shape.
struct ManagedIdentityServer {
    let endpoint: IdentityEndpoint
    let service: ManagedIdentity

    /// Variables that send an Azure SDK to another managed-identity source (Service Fabric's
    /// certificate pinning, IMDS, the 2017 App Service protocol): a child of
    /// `exec --managed-identity` must not have them.
    static let reroutingVariables = ["IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET"]

    static func start(appName: String, resources: [String], port: Int, vaultOptions: VaultOptions) throws
        -> ManagedIdentityServer
    {
        let vault = try vaultOptions.open()
        let material = try vaultOptions.material(for: vault)
        let service = try ManagedIdentity(
            vault: vault, appName: appName, extraResources: resources, material: material)
        let endpoint = try IdentityEndpoint.start(
            port: port,
            handler: { request in await answer(request, service: service) },
            errorBody: { status, message in TokenOutput.managedIdentityError(status: status, message: message) })
        return ManagedIdentityServer(endpoint: endpoint, service: service)
    }

    /// The two variables, as `serve` prints them for `eval` or `.`.
    var variables: [(String, String)] {
        [("IDENTITY_ENDPOINT", endpoint.url), ("IDENTITY_HEADER", endpoint.header)]
    }

    /// A token, or App Service's error shape. 400 for everything a retry cannot fix (azure-core
    /// retries 5xx and 429 for minutes); 503 only when the provider was not reached, so nothing
    /// was sent that a retry could spend.
    static func answer(_ request: IdentityEndpoint.Request, service: ManagedIdentity) async -> IdentityEndpoint.Answer {
        do {
            let body = try await service.answer(
                ManagedIdentity.Request(resource: request.resource, clientID: request.clientID))
            return IdentityEndpoint.Answer(status: 200, body: body)
        } catch {
            let report = Failure.report(error)
            let message = report.map { $0.message + ($0.hint.map { "; hint: \($0)" } ?? "") } ?? "\(error)"
            let status = report?.exitCode == Failure.Exit.unreachable ? 503 : 400
            Diagnostics.error(
                "managed identity: resource \(Display.printable(request.resource)): \(report?.message ?? message)",
                hint: report?.hint)
            var body = TokenOutput.managedIdentityError(status: status, message: message)
            return IdentityEndpoint.Answer(status: status, body: SecureBytes(consuming: &body))
        }
    }
}

/// Signals delivered as events rather than by their default action, on a thread of their own
/// that unblocks them (a parent may have started tokvault with them blocked or ignored).
enum SignalEvents {
    /// Starts delivering `signals` to `handler`, with whether a process sent the signal (rather
    /// than the kernel, for a terminal); once per process.
    static func deliver(_ signals: [Int32], to handler: @escaping @Sendable (Int32, Bool) -> Void) throws {
        let fd = signals.withUnsafeBufferPointer { tokvault_signal_pipe($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else {
            throw CommandError.failure("cannot handle signals: \(String(cString: strerror(errno)))")
        }
        Thread.detachNewThread {
            var set = sigset_t()
            sigemptyset(&set)
            for sig in signals { sigaddset(&set, sig) }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            var byte: UInt8 = 0
            while true {
                let n = read(fd, &byte, 1)
                if n == 1 {
                    handler(
                        Int32(byte & ~UInt8(TOKVAULT_SIGNAL_FROM_PROCESS)),
                        byte & UInt8(TOKVAULT_SIGNAL_FROM_PROCESS) != 0)
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
