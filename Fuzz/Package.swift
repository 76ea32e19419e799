// swift-tools-version:6.1
import Foundation
import PackageDescription

// libFuzzer targets for tokvault's parsers of outside input. Build and run them with
// `scripts/fuzz` (see docs/fuzzing.md), which compiles them with -sanitize=fuzzer,address.

// A path dependency's identity is its directory's name, which is whatever the checkout is
// called, so it is read from the file system rather than written here.
let tokvaultDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let tokvault = tokvaultDirectory.lastPathComponent.lowercased()
let kit = Target.Dependency.product(name: "TokvaultKit", package: tokvault)

/// One executable per libFuzzer target; each has a seed corpus in Corpus/<name>/.
func fuzzTarget(_ name: String, _ extra: [Target.Dependency] = []) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport", kit] + extra)
}

let package = Package(
    name: "tokvault-fuzz",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver, which the targets' main code calls.
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        fuzzTarget("FuzzRedirect"),
        fuzzTarget("FuzzLoopback", [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzTokenResponse"),
        fuzzTarget("FuzzTokenError", [.product(name: "NIOHTTP1", package: "swift-nio")]),
        fuzzTarget("FuzzResponseHead", [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzDiscovery"),
        fuzzTarget("FuzzDeviceAuthorization"),
        fuzzTarget("FuzzSealedField"),
        fuzzTarget("FuzzKeySlot", [.product(name: "GRDB", package: "GRDB.swift")]),
        fuzzTarget("FuzzKeyFile"),
        fuzzTarget("FuzzExport"),
        fuzzTarget("FuzzPEM"),
    ]
)
