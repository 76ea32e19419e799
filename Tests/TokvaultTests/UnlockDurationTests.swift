import Testing

@testable import TokvaultCLI

@Suite("unlock durations")
struct UnlockDurationTests {
    @Test(arguments: [
        ("90", 90), ("1", 1), ("1s", 1), ("45s", 45), ("30m", 1800), ("8h", 28800), ("24h", 86400),
        ("86400", 86400), ("1440m", 86400), ("007m", 420)
    ])
    func accepted(_ text: String, _ seconds: Int) {
        #expect(UnlockDuration(argument: text)?.seconds == seconds, "\(text)")
    }

    @Test(arguments: [
        "", "0", "0s", "0h", "25h", "86401", "1441m", "-5", "+5", " 5", "5 ", "5d", "5ms", "h", "1.5h", "0x10",
        "٣m", "9999999999999999999h", "5S", "5M"
    ])
    func refused(_ text: String) {
        #expect(UnlockDuration(argument: text) == nil, "\(text.debugDescription)")
    }

    @Test(arguments: ["0", "25h", "1.5h", "5d", "0x10"])
    func refusedOnTheCommandLine(_ text: String) {
        let result = CLI(TempDir()).run(["unlock", "--for", text])
        #expect(result.status == Failure.Exit.usage, "\(result)")
        #expect(result.stderr.contains("is invalid for '--for <duration>'"), "\(result)")
    }

    @Test func shownInTheLargestWholeUnit() {
        #expect(UnlockDuration(argument: "3600")?.description == "1h")
        #expect(UnlockDuration(argument: "90")?.description == "90s")
        #expect(UnlockDuration(argument: "120")?.description == "2m")
    }
}
