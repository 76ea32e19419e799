import ArgumentParser

/// How long `unlock` leaves the data key in the keyring: seconds (`90`) or a number with
/// `s`, `m` or `h` (`30m`, `8h`), from 1 second to 24 hours.
struct UnlockDuration: ExpressibleByArgument, Equatable, CustomStringConvertible {
    static let longest = 24 * 3600

    let seconds: Int

    init?(argument: String) {
        guard let seconds = Self.parse(argument) else { return nil }
        self.seconds = seconds
    }

    static func parse(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let unit: Int
        let digits: Substring
        switch last {
        case "s": (unit, digits) = (1, text.dropLast())
        case "m": (unit, digits) = (60, text.dropLast())
        case "h": (unit, digits) = (3600, text.dropLast())
        default: (unit, digits) = (1, Substring(text))
        }
        // ASCII digits only, at most 6 of them: no sign, space, "0x", or overflow.
        guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(digits)
        else { return nil }
        let seconds = number * unit
        return (1...longest).contains(seconds) ? seconds : nil
    }

    var description: String {
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
