import CTokvault
import Foundation

/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, as whole seconds from now.
package enum RetryAfter {
    /// The seconds to wait, or nil when the value counts as absent: missing, negative, not
    /// delta-seconds or an HTTP-date, beyond Int64 (overflowing), or a date that is not in the
    /// future. `now` is seconds since 1970. Whether a wait is too long is the caller's cap.
    package static func seconds(_ value: String?, now: Int64) -> Int64? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        guard !trimmed.isEmpty else { return nil }
        // delta-seconds = 1*DIGIT: no sign, no spaces, no fraction.
        if trimmed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Int64(_:) reports overflow as nil; leading zeros are allowed by the grammar.
            return Int64(trimmed)
        }
        guard let date = httpDate(trimmed) else { return nil }
        let (delta, overflow) = date.subtractingReportingOverflow(now)
        guard !overflow, delta > 0 else { return nil }
        return delta
    }

    /// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients
    /// must accept, read with the C library's strptime_l (C locale) and timegm. Seconds since
    /// 1970, or nil.
    static func httpDate(_ text: String) -> Int64? {
        // Longer than any of the three forms: not a date (and strptime is not fed megabytes).
        guard text.utf8.count <= 40, !text.utf8.contains(0) else { return nil }
        var seconds: Int64 = 0
        return tokvault_parse_http_date(text, &seconds) == 0 ? seconds : nil
    }
}

/// What to do after one attempt at a token endpoint request: wait and send again, or stop
/// and report. Pure, so that every path can be tested and fuzzed without a network.
package enum RetryDecision: Equatable, Sendable {
    case retry(afterMilliseconds: Int64)
    case stop(StopReason)

    package enum StopReason: Equatable, Sendable {
        /// An answer that retrying cannot change (success, a 4xx, a 3xx).
        case final
        /// A 5xx to a grant that is single-use: the server may have used the code or refresh
        /// token before it failed, so it is never sent again.
        case mayHaveBeenUsed
        /// 429 or 5xx asking for a longer wait than tokvault's cap (seconds asked).
        case retryAfterTooLong(Int64)
        /// 429 or 5xx on the last attempt.
        case attemptsExhausted
        /// A transport failure after which the request may have reached the server.
        case maybeSent
    }
}

package enum RetryPolicy {
    /// Back-off before the next attempt when the server named no usable wait.
    static func backoffMilliseconds(afterAttempt attempt: Int, base: Int64) -> Int64 {
        base << Int64(min(max(attempt - 1, 0), 8))
    }

    static let answerBackoff: Int64 = 500
    static let connectBackoff: Int64 = 250

    /// After an HTTP answer with `status` to attempt number `attempt` (1-based).
    ///
    /// - 429 ("Too Many Requests": the server did not process it) is retried for every
    ///   grant, after `Retry-After` (capped at `maxRetryAfter` seconds: a longer one stops at
    ///   once) or the back-off.
    /// - 5xx is retried only for grants that may be sent again (client credentials, device
    ///   code polling); for an authorization code or a refresh token it stops: a proxy
    ///   answers 502/503/504 after forwarding, and a server may fail after using the grant.
    /// - Everything else is final.
    package static func decide(
        status: Int, singleUseGrant: Bool, attempt: Int, retryAfter: String?, now: Int64,
        maxAttempts: Int, maxRetryAfter: Int
    ) -> RetryDecision {
        let throttled = status == 429
        let serverError = (500...599).contains(status)
        guard throttled || serverError else { return .stop(.final) }
        if serverError && singleUseGrant { return .stop(.mayHaveBeenUsed) }
        let asked = RetryAfter.seconds(retryAfter, now: now)
        // Checked before any arithmetic: `asked` may be as large as Int64.max.
        if let asked, asked > Int64(max(0, maxRetryAfter)) { return .stop(.retryAfterTooLong(asked)) }
        guard attempt < maxAttempts else { return .stop(.attemptsExhausted) }
        return .retry(
            afterMilliseconds: asked.map { $0 * 1000 }
                ?? backoffMilliseconds(afterAttempt: attempt, base: answerBackoff))
    }

    /// After a transport failure of attempt `attempt`: retried (every grant) only when the
    /// request certainly did not leave.
    package static func decide(transportFailureNotSent notSent: Bool, attempt: Int, maxAttempts: Int) -> RetryDecision {
        guard notSent else { return .stop(.maybeSent) }
        guard attempt < maxAttempts else { return .stop(.attemptsExhausted) }
        return .retry(afterMilliseconds: backoffMilliseconds(afterAttempt: attempt, base: connectBackoff))
    }

    /// The longest wait `decide` can ask for after attempt `attempt`, for any answer.
    static func longestWaitMilliseconds(afterAttempt attempt: Int, maxRetryAfter: Int) -> Int64 {
        max(
            Int64(max(0, maxRetryAfter)) * 1000,
            backoffMilliseconds(afterAttempt: attempt, base: answerBackoff),
            backoffMilliseconds(afterAttempt: attempt, base: connectBackoff))
    }
}

extension TokenClient.Grant {
    /// A grant the server accepts once: an authorization code, or a refresh token that may
    /// rotate (servers with reuse detection revoke the whole token family on a second use).
    package var isSingleUse: Bool {
        switch self {
        case .authorizationCode, .refreshToken: return true
        case .clientCredentials, .deviceCode: return false
        }
    }
}

extension TokenClient.Options {
    /// Seconds one attempt may take: connecting (TLS and a proxy's CONNECT included) and the
    /// whole answer, bounded by the per-attempt deadline of `TokenClient.send`.
    package var attemptSeconds: Double {
        Double((connectTimeout + readTimeout + TokenClient.deadlineSlack).nanoseconds) / 1e9
    }

    /// The longest a `redeem` with these options can legitimately take: every attempt to its
    /// deadline, and the longest wait between attempts (the Retry-After cap or the back-off).
    package var longestExchangeSeconds: Double {
        let attempts = max(1, maxAttempts)
        var total = Double(attempts) * attemptSeconds
        for attempt in 1..<attempts {
            total +=
                Double(RetryPolicy.longestWaitMilliseconds(afterAttempt: attempt, maxRetryAfter: maxRetryAfter)) / 1000
        }
        return total
    }
}
