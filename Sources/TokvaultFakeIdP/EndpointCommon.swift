// What every endpoint of the fake uses: the tenant check, the base URL, capped logs and the
// Azure-shaped JSON error body. Lock held.

import Foundation

extension FakeIdPCore {
    func append<T>(_ array: inout [T], _ element: T, cap: Int) {
        if array.count >= cap { array.removeFirst(array.count - cap + 1) }
        array.append(element)
    }

    func tenantIsValid(_ tenant: String) -> Bool {
        let t = tenant.lowercased()
        return t == config.tenant.lowercased() || t == "organizations" || t == "common"
    }

    var baseURLLocked: String { "http://127.0.0.1:\(port)" }

    // MARK: - Azure-shaped errors

    /// The JSON error body of the Microsoft identity platform (error, AADSTS-prefixed description with
    /// trace/correlation/timestamp lines, error_codes, timestamp, trace_id, correlation_id, error_uri).
    /// `members` are appended after error_uri (Azure's `suberror` and `claims` of an
    /// interaction-required answer).
    func azureError(
        _ status: Int, _ error: String, _ code: Int, _ text: String, _ request: FakeRequest,
        extraHeaders: [(String, String)] = [], members: [(String, JSON)] = []
    ) -> FakeResponse {
        let trace = randomGUID()
        let correlation =
            request.header("client-request-id").flatMap { UUID(uuidString: $0) }?.uuidString.lowercased()
            ?? randomGUID()
        let timestamp = azureTimestamp(now())
        let description =
            "AADSTS\(code): \(text)\r\nTrace ID: \(trace)\r\nCorrelation ID: \(correlation)\r\nTimestamp: \(timestamp)"
        let body: [(String, JSON)] = [
            ("error", .string(error)),
            ("error_description", .string(description)),
            ("error_codes", .array([.int(code)])),
            ("timestamp", .string(timestamp)),
            ("trace_id", .string(trace)),
            ("correlation_id", .string(correlation)),
            ("error_uri", .string("https://login.microsoftonline.com/error?code=\(code)"))
        ]
        return .json(
            status, .object(body + members),
            extra: [("x-ms-request-id", trace), ("client-request-id", correlation)] + extraHeaders)
    }
}
