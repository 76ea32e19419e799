import Foundation
import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import TokvaultFlow
@testable import TokvaultVault

// A token endpoint's answer from its first byte: NIO's HTTP/1 response decoder (status line,
// headers, Content-Length or chunked framing, as AsyncHTTPClient uses it), then what
// TokenClient makes of the head and body (`TokenClient.outcome`: the retry decision with
// Retry-After, the error with Content-Type), for every grant and attempt number. The second
// mode drives `RetryPolicy.decide` and `RetryAfter.seconds` directly with any status and
// any Retry-After text.
//
// Input: 1 byte options (bits 0-1 grant, bits 2-3 attempt - 1, bit 4 device polling's
// passed errors, bit 5 the direct mode), then in the HTTP mode the response bytes; in the
// direct mode 2 bytes status (mod 1000), 1 byte maxRetryAfter, then the Retry-After value.

enum Fixture {
    static let now: Int64 = 1_700_000_000
    static let app = App(id: "3f1c2a9e-5b7d-4e21-9c3a-8d6f0b1e2a47", name: "adme", provider: .azure, tenant: "contoso.onmicrosoft.com",
                         cloud: "public", authorityHost: nil, clientID: "11111111-2222-3333-4444-555555555555",
                         authorizeEndpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
                         tokenEndpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
                         deviceEndpoint: nil, redirectURI: "http://localhost:8080", scope: "openid offline_access",
                         flow: "authorization_code", clientAuth: .post, clientSecret: nil, createdAt: 0, updatedAt: 0)
    static let grants: [TokenClient.Grant] = [
        .authorizationCode(code: SecureBytes(count: 4), verifier: SecureBytes(count: 43), redirectURI: "http://localhost:8080"),
        .refreshToken(SecureBytes(count: 8), scope: "openid"),
        .clientCredentials(scope: "api://x/.default"),
        .deviceCode(SecureBytes(count: 8)),
    ]
    static let options = TokenClient.Options()
}

/// Checks one decision against the policy's promises.
func check(_ decision: RetryDecision, status: Int, singleUse: Bool, attempt: Int, retryAfter: String?,
           maxAttempts: Int, maxRetryAfter: Int) {
    let asked = RetryAfter.seconds(retryAfter, now: Fixture.now)
    if let asked { require(asked >= 0, "Retry-After \(asked) is negative") }
    switch decision {
    case .retry(let milliseconds):
        require(status == 429 || ((500...599).contains(status) && !singleUse), "retried HTTP \(status) (single use: \(singleUse))")
        require(attempt < maxAttempts, "retried after the last attempt")
        require(milliseconds >= 0, "negative wait")
        require(milliseconds <= RetryPolicy.longestWaitMilliseconds(afterAttempt: attempt, maxRetryAfter: maxRetryAfter),
                "wait \(milliseconds) ms beyond the longest the lock wait allows for")
        if let asked { require(milliseconds == asked * 1000, "Retry-After \(asked) s but waiting \(milliseconds) ms") }
    case .stop(let reason):
        switch reason {
        case .mayHaveBeenUsed: require(singleUse && (500...599).contains(status), "\(reason) for HTTP \(status)")
        case .retryAfterTooLong(let seconds): require(seconds > maxRetryAfter && asked == seconds, "\(reason) with cap \(maxRetryAfter)")
        case .attemptsExhausted: require(attempt >= maxAttempts, "\(reason) at attempt \(attempt)")
        case .final: require(status != 429 && !(500...599).contains(status), "final for HTTP \(status)")
        case .maybeSent: require(false, "maybeSent for an answer")
        }
    }
}

func fuzzDirect(_ input: inout FuzzInput, grant: TokenClient.Grant, attempt: Int) {
    let status = Int(input.uint16()) % 1000
    let maxRetryAfter = Int(input.byte())
    let rest = input.rest()
    let value = String(decoding: rest, as: UTF8.self)
    let decision = RetryPolicy.decide(status: status, singleUseGrant: grant.isSingleUse, attempt: attempt, retryAfter: value,
                                      now: Fixture.now, maxAttempts: Fixture.options.maxAttempts, maxRetryAfter: maxRetryAfter)
    check(decision, status: status, singleUse: grant.isSingleUse, attempt: attempt, retryAfter: value,
          maxAttempts: Fixture.options.maxAttempts, maxRetryAfter: maxRetryAfter)
    // delta-seconds is exactly the number, when it is one within range.
    if !rest.isEmpty, rest.allSatisfy({ (0x30...0x39).contains($0) }) {
        if let n = Int64(value) {
            require(RetryAfter.seconds(value, now: Fixture.now) == n, "delta-seconds \(value) misread")
        } else {
            require(RetryAfter.seconds(value, now: Fixture.now) == nil, "overflowing \(value) not absent")
        }
    }
    if rest.first == UInt8(ascii: "-") { require(RetryAfter.seconds(value, now: Fixture.now) == nil, "negative \(value) not absent") }
}

func fuzzHTTP(_ bytes: [UInt8], grant: TokenClient.Grant, attempt: Int, passing: Set<String>) {
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    do {
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 443), promise: nil)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/contoso.onmicrosoft.com/oauth2/v2.0/token")
        head.headers.add(name: "Host", value: "login.microsoftonline.com")
        try channel.writeOutbound(HTTPClientRequestPart.head(head))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        while (try channel.readOutbound(as: IOData.self)) != nil {}
    } catch {
        require(false, "cannot set up the pipeline: \(error)")
    }
    // A framing or header error ends the answer: AsyncHTTPClient reports it as a transport
    // failure after the request was written, which is never retried for a single-use grant.
    _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
    _ = try? channel.close().wait()

    var response: HTTPResponseHead?
    var body: [UInt8] = []
    var ended = false
    while let part = try? channel.readInbound(as: HTTPClientResponsePart.self) {
        switch part {
        case .head(let h):
            // Interim 1xx heads come before the answer's own head.
            if response == nil || (100...199).contains(Int(response!.status.code)) { response = h }
        case .body(let buffer): body += buffer.readableBytesView
        case .end: ended = true
        }
    }
    guard let response, ended else { return }
    let status = Int(response.status.code)
    // NIO's parser takes any three digits ("040" is status 40): anything from 0 to 999.
    require((0...999).contains(status), "status \(status) from the decoder")
    // RFC 9110 §6.4.1: 1xx (101 ends the HTTP exchange in NIO's decoder), 204 and 304 have
    // no body whatever Content-Length says.
    if let length = response.headers.first(name: "Content-Length"), let n = Int(length),
       !response.headers.contains(name: "Transfer-Encoding"), status >= 200, status != 204, status != 304 {
        require(body.count == n, "Content-Length \(n) but \(body.count) bytes of body")
    }
    // The body limit TokenClient collects with (larger answers fail as a transport error).
    guard body.count <= Fixture.options.maxResponseBytes else { return }

    let retryAfter = response.headers.first(name: "Retry-After")
    let decision = RetryPolicy.decide(status: status, singleUseGrant: grant.isSingleUse, attempt: attempt, retryAfter: retryAfter,
                                      now: Fixture.now, maxAttempts: Fixture.options.maxAttempts,
                                      maxRetryAfter: Fixture.options.maxRetryAfter)
    check(decision, status: status, singleUse: grant.isSingleUse, attempt: attempt, retryAfter: retryAfter,
          maxAttempts: Fixture.options.maxAttempts, maxRetryAfter: Fixture.options.maxRetryAfter)

    let outcome = TokenClient.outcome(status: status, headers: response.headers, body: Data(body), grant: grant, attempt: attempt,
                                      app: Fixture.app, endpoint: Fixture.app.tokenEndpoint, passing: passing,
                                      options: Fixture.options, now: Fixture.now)
    switch outcome {
    case .success(let data):
        require(status == 200 && data == Data(body), "success for HTTP \(status)")
    case .retry(let milliseconds):
        require(decision == .retry(afterMilliseconds: milliseconds), "outcome \(milliseconds) ms but decision \(decision)")
    case .failure(let error as TokenClient.OAuthRefusal):
        require(passing.contains(error.body.error) && (400...499).contains(status), "refusal \(error.body.error) passed on HTTP \(status)")
    case .failure(let error as FlowError):
        require(status != 200, "error for HTTP 200")
        require([.failed, .loginRequired, .unreachable].contains(error.kind),
                "kind \(error.kind)")
        if status == 429 { require(error.kind == .unreachable, "429 gave kind \(error.kind)") }
        if grant.isSingleUse && (500...599).contains(status) {
            require(error.kind == .unreachable && error.hint?.description.contains("may have been used") == true,
                    "5xx to a single-use grant: kind \(error.kind), hint \(error.hint?.description ?? "none")")
        }
        require(isPrintable(error.message), "control characters in message \(error.message.debugDescription)")
        require(error.hint.map { isPrintable($0.description) } ?? true, "control characters in hint \(error.hint!.description.debugDescription)")
    case .failure(let error):
        require(false, "unexpected error \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponseHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let options = input.byte()
    let grant = Fixture.grants[Int(options & 3)]
    let attempt = Int((options >> 2) & 3) + 1
    let passing: Set<String> = options & 0x10 != 0 ? ["authorization_pending", "slow_down"] : []
    if options & 0x20 != 0 {
        fuzzDirect(&input, grant: grant, attempt: attempt)
    } else {
        fuzzHTTP(input.rest(), grant: grant, attempt: attempt, passing: passing)
    }
    return 0
}

runFuzzer { fuzzResponseHead($0 ?? emptyInput, $1) }
