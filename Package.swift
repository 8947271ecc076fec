// swift-tools-version:6.1
//
// cano-collector: a Kubernetes-native alert and event agent.
//
// Module map (read top to bottom, the pipeline flows the same way):
//   PluginABI   the C header: the only contract between host and plugins
//   CCurl       libcurl shim (curl_easy_setopt is variadic; Swift can't call it directly)
//   CRdKafka    librdkafka (the Kafka destination) and its mock cluster
//   CSQLite     SQLite shim (SQLITE_TRANSIENT is a macro Swift can't import)
//   CLibCrypto  OpenSSL's libcrypto (the Webhook plugin's HMAC; libcurl maps it anyway)
//   CCrashGuard fatal-signal handlers: which delivery was in the plugin call that crashed
//   CanoSDK     what plugin authors use: Issue model, plugin export helper, HTTP client
//   Collector   the host pipeline: intake -> issue -> route -> deliver -> plugins
//   Host        the `cano-collector` executable (CLI only; everything else is in Collector)
//   Plugins/*   destination plugins, each a dynamic library loaded with dlopen
import PackageDescription

// Plugins bind their own copies of statically linked Swift modules (-Bsymbolic), so a
// plugin's CanoSDK never interposes on the host's or another plugin's copy.
let pluginLinkerSettings: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-Bsymbolic"])]

let package = Package(
    name: "cano-collector",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cano-collector", targets: ["Host"]),
        .library(name: "CanoSDK", targets: ["CanoSDK"]),
        .library(name: "CanoWebhook", type: .dynamic, targets: ["WebhookPlugin"]),
        .library(name: "CanoSlack", type: .dynamic, targets: ["SlackPlugin"]),
        .library(name: "CanoPagerDuty", type: .dynamic, targets: ["PagerDutyPlugin"]),
        .library(name: "CanoOpsgenie", type: .dynamic, targets: ["OpsgeniePlugin"]),
        .library(name: "CanoJira", type: .dynamic, targets: ["JiraPlugin"]),
        .library(name: "CanoServiceNow", type: .dynamic, targets: ["ServiceNowPlugin"]),
        .library(name: "CanoTeams", type: .dynamic, targets: ["TeamsPlugin"]),
        .library(name: "CanoDatadog", type: .dynamic, targets: ["DatadogPlugin"]),
        .library(name: "CanoKafka", type: .dynamic, targets: ["KafkaPlugin"]),
        .library(name: "CanoPrometheus", type: .dynamic, targets: ["PrometheusPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        // The web console's server-rendered pages (Sources/Collector/Console).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
    ],
    targets: [
        .target(name: "PluginABI", path: "Sources/PluginABI"),
        .target(name: "CCurl", path: "Sources/CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CSQLite", path: "Sources/CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "CZlib", path: "Sources/CZlib", linkerSettings: [.linkedLibrary("z")]),
        // librdkafka (Debian librdkafka-dev) for the Kafka destination, and its mock cluster for tests.
        .target(name: "CRdKafka", path: "Sources/CRdKafka", linkerSettings: [.linkedLibrary("rdkafka")]),
        // Fatal-signal handlers that record which delivery was in the crashing plugin call.
        .target(name: "CCrashGuard", path: "Sources/CCrashGuard"),
        .target(
            name: "CanoSDK",
            dependencies: ["PluginABI", "CCurl"],
            path: "Sources/CanoSDK"
        ),
        // The Prometheus HTTP API's range queries: the diagnosis (host) and the graph plugin share it.
        .target(name: "PrometheusAPI", dependencies: ["CanoSDK"], path: "Sources/PrometheusAPI"),
        .target(
            name: "Collector",
            dependencies: [
                "CanoSDK", "PluginABI", "CSQLite", "CZlib", "CCrashGuard", "PrometheusAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                // storage.postgres: the PostgreSQL engine behind the storage seam (Store/Postgres).
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            path: "Sources/Collector"
        ),
        .executableTarget(
            name: "Host",
            dependencies: [
                "Collector", "KubeSources",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Host",
            exclude: ["startup.order"],
            // Release builds on Linux link with lld (docs/benchmarks.md, "RSS idle"):
            // - packing the relative relocations (DT_RELR, glibc >= 2.36): the dynamic
            //   loader reads 13 KB of them at start instead of 1.1 MB of RELA entries,
            //   which stayed resident (-0.3 MiB against gold, which cannot pack them);
            // - placing first the functions start-up and idle run (startup.order, written
            //   by scripts/startup-order.sh), so they share pages: the kernel maps 64 KiB
            //   around every page fault, and start-up touched code all over the binary
            //   (-4 to -5 MiB idle with scripts/build-release.sh's flags; about -1.2 more
            //   with the Kubernetes sources). A name the file lists but the build lacks is
            //   skipped, silently.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                              "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/Host/startup.order",
                              "-Xlinker", "--no-warn-symbol-ordering"],
                             .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        // cairo, for the Prometheus graph plugin only (Debian libcairo2-dev).
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        // Prometheus graphs: an enricher plugin that draws a container's memory and CPU as
        // PNG images, so only this plugin, not the host, links cairo.
        .target(name: "PrometheusEnricher", dependencies: ["CanoSDK", "PrometheusAPI", "CCairo"], path: "Plugins/Prometheus/Enricher"),
        .target(name: "PrometheusPlugin", dependencies: ["PrometheusEnricher", "CanoSDK"], path: "Plugins/Prometheus/Entry",
                linkerSettings: pluginLinkerSettings),
        // OpenSSL's libcrypto (Debian libssl-dev), for the Webhook plugin's HMAC: libcurl
        // already maps it into the process; swift-crypto would put a copy of BoringSSL
        // (10 MB) into the plugin.
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "WebhookDestination",
            dependencies: ["CanoSDK", "CLibCrypto"],
            path: "Plugins/Webhook/Destination"
        ),
        .target(
            name: "WebhookPlugin",
            dependencies: ["WebhookDestination", "CanoSDK"],
            path: "Plugins/Webhook/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        // Slack: all logic in a static library (tests link it), the export alone in the
        // dynamic product, so no test binary ever holds two `cano_plugin_entry` symbols.
        .target(
            name: "SlackDestination",
            dependencies: ["CanoSDK"],
            path: "Plugins/Slack/Destination"
        ),
        .target(
            name: "SlackPlugin",
            dependencies: ["SlackDestination", "CanoSDK"],
            path: "Plugins/Slack/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        // PagerDuty (Events API v2) and Opsgenie (Alert API v2): logic in a static library,
        // the export alone in the dynamic product, as for Slack.
        .target(name: "PagerDutyDestination", dependencies: ["CanoSDK"], path: "Plugins/PagerDuty/Destination"),
        .target(
            name: "PagerDutyPlugin",
            dependencies: ["PagerDutyDestination", "CanoSDK"],
            path: "Plugins/PagerDuty/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        .target(name: "OpsgenieDestination", dependencies: ["CanoSDK"], path: "Plugins/Opsgenie/Destination"),
        .target(
            name: "OpsgeniePlugin",
            dependencies: ["OpsgenieDestination", "CanoSDK"],
            path: "Plugins/Opsgenie/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        .target(name: "JiraDestination", dependencies: ["CanoSDK"], path: "Plugins/Jira/Destination"),
        .target(
            name: "JiraPlugin",
            dependencies: ["JiraDestination", "CanoSDK"],
            path: "Plugins/Jira/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        .target(name: "ServiceNowDestination", dependencies: ["CanoSDK"], path: "Plugins/ServiceNow/Destination"),
        .target(
            name: "ServiceNowPlugin",
            dependencies: ["ServiceNowDestination", "CanoSDK"],
            path: "Plugins/ServiceNow/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        // Microsoft Teams (Workflows webhooks), Datadog Events and Kafka (librdkafka).
        .target(name: "TeamsDestination", dependencies: ["CanoSDK"], path: "Plugins/Teams/Destination"),
        .target(
            name: "TeamsPlugin",
            dependencies: ["TeamsDestination", "CanoSDK"],
            path: "Plugins/Teams/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        .target(name: "DatadogDestination", dependencies: ["CanoSDK"], path: "Plugins/Datadog/Destination"),
        .target(
            name: "DatadogPlugin",
            dependencies: ["DatadogDestination", "CanoSDK"],
            path: "Plugins/Datadog/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        .target(name: "KafkaDestination", dependencies: ["CanoSDK", "CRdKafka"], path: "Plugins/Kafka/Destination"),
        .target(
            name: "KafkaPlugin",
            dependencies: ["KafkaDestination", "CanoSDK"],
            path: "Plugins/Kafka/Entry",
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "CanoSDK",
                "Collector",
                "PrometheusAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "CollectorTests",
            dependencies: ["Collector", "CanoSDK", "TestSupport"],
            path: "Tests/CollectorTests"
        ),
        .testTarget(
            name: "PluginTests",
            dependencies: [
                "Collector", "CanoSDK", "PluginABI", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/PluginTests"
        ),
        // CanoSDK's delivery kit (HTTP outcome mapping, Retry-After, truncation, secret-safe
        // errors), tested once for every plugin.
        .testTarget(name: "CanoSDKTests", dependencies: ["CanoSDK", "TestSupport"], path: "Tests/CanoSDKTests"),
        .testTarget(
            name: "PagerDutyTests",
            dependencies: ["PagerDutyDestination", "CanoSDK", "Collector", "TestSupport"],
            path: "Tests/PagerDutyTests"
        ),
        .testTarget(
            name: "OpsgenieTests",
            dependencies: ["OpsgenieDestination", "CanoSDK", "Collector", "TestSupport"],
            path: "Tests/OpsgenieTests"
        ),
        .testTarget(
            name: "JiraTests",
            dependencies: ["JiraDestination", "CanoSDK", "Collector", "TestSupport"],
            path: "Tests/JiraTests"
        ),
        .testTarget(
            name: "ServiceNowTests",
            dependencies: ["ServiceNowDestination", "CanoSDK", "Collector", "TestSupport"],
            path: "Tests/ServiceNowTests"
        ),
        .testTarget(
            name: "TeamsTests",
            dependencies: ["TeamsDestination", "CanoSDK", "Collector", "TestSupport"],
            path: "Tests/TeamsTests"
        ),
        .testTarget(
            name: "DatadogTests",
            dependencies: ["DatadogDestination", "CanoSDK", "Collector", "TestSupport"],
            path: "Tests/DatadogTests"
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["KafkaDestination", "CRdKafka", "CanoSDK", "Collector", "TestSupport",
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/KafkaTests"
        ),
        .testTarget(
            name: "SlackTests",
            dependencies: [
                "SlackDestination", "CanoSDK", "Collector", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SlackTests"
        ),
        .testTarget(
            name: "DeliveryTests",
            dependencies: ["Collector", "CanoSDK", "TestSupport"],
            path: "Tests/DeliveryTests"
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["CanoSDK", "TestSupport", "FakeKubeAPIServer", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/EndToEndTests"
        ),
        // Durable-ingest benchmark (release build): scripts/build-release.sh --product IngestBenchmark
        .executableTarget(
            name: "IngestBenchmark",
            dependencies: ["Collector", "CanoSDK", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/IngestBenchmark"
        ),
        .target(
            name: "KubeClient",
            dependencies: [
                "CanoSDK",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/KubeClient"
        ),
        .target(
            name: "KubeSources",
            dependencies: [
                "KubeClient", "Collector", "CanoSDK",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/KubeSources"
        ),
        .target(
            name: "FakeKubeAPIServer",
            dependencies: [
                "CanoSDK", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/FakeKubeAPIServer"
        ),
        .executableTarget(
            name: "KubeBench",
            dependencies: ["KubeSources", "KubeClient", "FakeKubeAPIServer", "Collector", "CanoSDK"],
            path: "Benchmarks/KubeBench"
        ),
        // The benchmark suite (issue 8): scripts/bench.sh builds release and runs it.
        .executableTarget(
            name: "CollectorBench",
            dependencies: [
                "Collector", "CanoSDK", "TestSupport", "FakeKubeAPIServer",
                // The kafka scenario drives the plugin's producer against librdkafka's mock cluster.
                "KafkaDestination", "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/CollectorBench"
        ),
        .testTarget(
            name: "KubeTests",
            dependencies: [
                "KubeClient", "KubeSources", "FakeKubeAPIServer", "Collector", "CanoSDK", "TestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/KubeTests"
        ),
        .testTarget(
            name: "EnrichmentTests",
            dependencies: [
                "Collector", "CanoSDK", "PrometheusAPI", "PluginABI", "TestSupport", "KubeClient", "KubeSources", "FakeKubeAPIServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/EnrichmentTests"
        ),
    ]
)
