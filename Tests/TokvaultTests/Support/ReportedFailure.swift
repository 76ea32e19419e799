import TokvaultExport
import TokvaultFlow
import TokvaultUseCases
import TokvaultVault

@testable import TokvaultCLI

/// A library error as the command line reports it: the exit code and the hint text come from
/// `Failure`, the one place that decides them.
protocol ReportedFailure: Error {}

extension ReportedFailure {
    var exitCode: Int32 { Failure.report(self)!.exitCode }
    var shownHint: String? { Failure.report(self)!.hint }
}

extension LayerError: ReportedFailure {}
