// swift-tools-version:6.1
import PackageDescription
import Foundation

/// The package's own directory, for paths handed to the linker.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let package = Package(
    name: "tokvault",
    products: [
        .executable(name: "tokvault", targets: ["tokvault"]),
        .executable(name: "tokvault-fake-idp", targets: ["tokvault-fake-idp"]),
        // For the fuzzers in Fuzz/, which import the modules @testable (their API is `package`).
        .library(name: "TokvaultKit", targets: ["TokvaultVault", "TokvaultFlow", "TokvaultExport", "TokvaultUseCases"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        // Already in the graph through AsyncHTTPClient; named so that TLS errors are told
        // apart by type (a failed handshake from a failure after the request was written).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.36.0"),
        // RSA signatures (PS256/RS256) for certificate client credentials, and X.509 parsing.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        // DER parsing of private keys (CertificateCredential); also in the graph through X509.
        .package(url: "https://github.com/apple/swift-asn1", from: "1.0.0"),
    ],
    targets: [
        // libsodium from Debian's libsodium-dev, in the default header and library paths.
        // Not through pkg-config: the -L/usr/lib/<triple> it gives would come ahead of the
        // release build's static-libraries/ and make `-lsodium` the shared library again.
        .systemLibrary(
            name: "CSodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // prctl(2), sqlite3_db_config(3) and friends, which Swift cannot call directly
        // (variadic C functions).
        .target(name: "CTokvault", linkerSettings: [.linkedLibrary("sqlite3")]),
        // Turns Migrations/*.sql into Swift string literals at build time, so a copied
        // binary still carries its schema (resource bundles do not survive `cp`).
        .executableTarget(name: "EmbedMigrationsTool"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["EmbedMigrationsTool"]
        ),
        // The vault: storage, key slots, sealing. No terminal I/O, no argument parsing.
        .target(
            name: "TokvaultVault",
            dependencies: [
                "CSodium",
                "CTokvault",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // The OAuth protocol: authorize URL, loopback receiver, token client.
        .target(
            name: "TokvaultFlow",
            dependencies: [
                "TokvaultVault",
                // strptime_l and timegm for Retry-After dates (Glibc's module has neither).
                "CTokvault",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // What the commands do, below the command line: app definitions (AppSpec), sign-in,
        // token (the refresh single flight), the variables of an export and the curl script. Each takes parsed input and returns results;
        // no terminal I/O, no argument parsing.
        .target(
            name: "TokvaultUseCases",
            dependencies: ["TokvaultVault", "TokvaultFlow", "TokvaultExport"]
        ),
        // Renderers for `export`: each format quoted for the program that reads it.
        .target(
            name: "TokvaultExport",
            dependencies: ["TokvaultVault"]
        ),
        // A protocol-faithful fake identity provider (Azure v2 paths) for tests and benchmarks.
        .target(
            name: "TokvaultFakeIdP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .executableTarget(
            name: "tokvault-fake-idp",
            dependencies: ["TokvaultFakeIdP"]
        ),
        // The command-line surface: ArgumentParser commands, prompts, output formatting.
        .target(
            name: "TokvaultCLI",
            dependencies: [
                "TokvaultVault",
                "TokvaultFlow",
                "TokvaultExport",
                "TokvaultUseCases",
                "CTokvault",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "tokvault",
            dependencies: ["TokvaultCLI"],
            exclude: ["exported-symbols.map", "static-libraries"],
            linkerSettings: [
                // Start-up time: see the comment in the map file. Release only: a debug build
                // may be sanitized (scripts/sanitize), and exporting nothing but main also
                // hides the sanitizer runtime linked into the executable from the shared
                // libraries (TSan's dispatch_* interceptors, and __tsan_acquire/__tsan_release
                // that the Swift runtime looks up at start), so that every Dispatch and Swift
                // concurrency hand-off is reported as a data race (docs/sanitizers.md).
                .unsafeFlags(["-Xlinker", "--version-script=\(packageRoot)/Sources/tokvault/exported-symbols.map"],
                             .when(platforms: [.linux], configuration: .release)),
                // A self-contained binary: `-lsodium` and `-lsqlite3` (GRDB's module map names
                // the latter) find the linker scripts in static-libraries/ first, which name
                // Debian's libsodium.a and libsqlite3.a, so neither shared library is needed at
                // run time. lld, for packed relative relocations (-z pack-relative-relocs): the
                // dynamic loader applies ~130,000 of them at every start, and RELR makes their
                // table 26 KB instead of 3 MB to page in (docs/performance.md).
                .unsafeFlags([
                    "-L\(packageRoot)/Sources/tokvault/static-libraries",
                    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                ], .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .testTarget(
            name: "TokvaultTests",
            dependencies: [
                "TokvaultVault", "TokvaultFlow", "TokvaultExport", "TokvaultUseCases", "TokvaultCLI", "TokvaultFakeIdP", "CSodium", "tokvault", "tokvault-fake-idp",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Vectors", "Fixtures", "Support/scripted-browser.py", "Support/https-api-server.py", "Support/api-echo-server.py",
                "Support/azure-identity-client.py"
            ]
        ),
    ]
)
