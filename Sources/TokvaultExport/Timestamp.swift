import Glibc

/// Times as exports and messages print them, via gmtime_r/localtime_r: Foundation's date
/// formatters load ICU data, which costs more than the rest of `show`.
package enum Timestamp {
    /// ISO 8601 UTC ("2026-11-27T15:04:05Z").
    package static func iso8601(_ epoch: Int64) -> String {
        var seconds = clamped(epoch)
        var t = tm()
        gmtime_r(&seconds, &t)
        return date(t) + "T" + clock(t) + "Z"
    }

    /// Local time as `az account get-access-token` prints `expiresOn`
    /// ("2026-11-27 16:04:05.000000"; tokvault's expiries are whole seconds).
    package static func localMicroseconds(_ epoch: Int64) -> String {
        var seconds = clamped(epoch)
        var t = tm()
        tzset()
        localtime_r(&seconds, &t)
        return date(t) + " " + clock(t) + ".000000"
    }

    /// A value read from the file can be any number: far enough from the ends for tm.
    private static func clamped(_ epoch: Int64) -> time_t { time_t(max(-1 << 40, min(1 << 40, epoch))) }

    private static func date(_ t: tm) -> String {
        "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))"
    }

    private static func clock(_ t: tm) -> String { "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2))" }

    private static func pad(_ value: Int32, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
