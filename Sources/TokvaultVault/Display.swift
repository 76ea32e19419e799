/// Text from outside (a provider's answer, a file, a user's input) made safe to show.
package enum Display {
    /// Control characters and very long inputs are not echoed verbatim into errors.
    package static func printable(_ text: String) -> String {
        // C0, DEL and C1 controls: terminal escape sequences must not come through.
        let cleaned = String(
            String.UnicodeScalarView(
                text.unicodeScalars.map {
                    $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? "?" : $0
                }))
        return cleaned.count > 200 ? String(cleaned.prefix(200)) + "…" : cleaned
    }
}
