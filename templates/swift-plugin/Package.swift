// swift-tools-version:6.1
//
// A cano-collector destination plugin written in Swift. Copy this directory, rename
// `MyDestination`/`CanoMyDestination`, point the dependency at your cano-collector checkout
// (or a release tag), and build:
//
//     swift build -c release --product CanoMyDestination
//     cano-collector plugins check .build/release/libCanoMyDestination.so
//
// Swift has no stable ABI on Linux: build with exactly the toolchain the collector was
// built with (docs/plugins.md, "Swift plugins"). The host checks and refuses a mismatch.
import PackageDescription

let package = Package(
    name: "my-destination",
    products: [
        // One dynamic library: the .so the collector loads. The name becomes lib<Name>.so.
        .library(name: "CanoMyDestination", type: .dynamic, targets: ["MyDestination"]),
    ],
    dependencies: [
        // The plugin SDK (CanoSDK) comes from the collector's own package, so the Issue
        // model and the C ABI are exactly the host's.
        .package(name: "cano-collector", path: "../.."),
    ],
    targets: [
        .target(
            name: "MyDestination",
            dependencies: [.product(name: "CanoSDK", package: "cano-collector")],
            // The plugin carries its own copy of CanoSDK; -Bsymbolic binds it to that copy,
            // so it never interposes on the host's or another plugin's.
            linkerSettings: [.unsafeFlags(["-Xlinker", "-Bsymbolic"])]
        ),
    ]
)
