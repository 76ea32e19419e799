import Glibc

/// Times as exports and messages print them.
package enum Timestamp {
    /// ISO 8601 UTC ("2026-11-27T15:04:05Z") via gmtime_r: Foundation's date formatters
    /// load ICU data, which costs more than the rest of `show`.
    package static func iso8601(_ epoch: Int64) -> String {
        var seconds = time_t(max(-1 << 40, min(1 << 40, epoch)))
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
            + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2))Z"
    }
}
