// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swiftflow",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swiftflow", targets: ["swiftflow"]),
        .library(name: "SwiftflowCore", targets: ["SwiftflowCore"]),
        .library(name: "SwiftflowStore", targets: ["SwiftflowStore"]),
        .library(name: "SwiftflowArtifacts", targets: ["SwiftflowArtifacts"]),
        .library(name: "SwiftflowServer", targets: ["SwiftflowServer"]),
        .library(name: "SwiftflowClient", targets: ["SwiftflowClient"]),
        .library(name: "SwiftflowModels", targets: ["SwiftflowModels"]),
        .library(name: "SwiftflowProjects", targets: ["SwiftflowProjects"]),
        .library(name: "SwiftflowImport", targets: ["SwiftflowImport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        // Already in the graph through postgres-kit; named for the TLS settings of `sslmode`.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Already in the graph (postgres-nio, async-http-client); named for `sslmode` and MLFLOW_S3_IGNORE_TLS.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        // Already in the graph through hummingbird (same lower bound); named so SwiftflowArtifacts can use
        // NIO's file system without depending on the HTTP framework.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        // S3-compatible artifact storage: HTTP requests, and SHA-256/HMAC for AWS Signature Version 4.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .target(
            name: "SwiftflowCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowStore",
            dependencies: [
                "SwiftflowCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                // Password hashes of the basic-auth app (PBKDF2, and scrypt for hashes moved in from MLflow).
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowArtifacts",
            dependencies: [
                "SwiftflowCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowServer",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                "SwiftflowArtifacts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                // HMAC for the cache of verified credentials.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The UI's CSS and JavaScript, compiled in as byte arrays: one binary, nothing to install.
            resources: [.embedInCode("UI/Assets")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowClient",
            dependencies: [
                "SwiftflowCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The metric queue of the fluent layer: a lock, not an actor hop per logged point.
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // MLFLOW_TRACKING_INSECURE_TLS: a client that skips certificate verification.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowModels",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowArtifacts",
                "SwiftflowClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The Python side of the workers, compiled in: the binary writes it to its cache to run it.
            resources: [.embedInCode("Python/worker.py")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowProjects",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowClient",
                // Python environments (virtualenv, conda) are built the same way for models and projects.
                "SwiftflowModels",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `swiftflow import`: reads MLflow's databases (its SQLAlchemy schema) and file stores.
        .target(
            name: "SwiftflowImport",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftflow",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                "SwiftflowArtifacts",
                "SwiftflowServer",
                "SwiftflowModels",
                "SwiftflowProjects",
                "SwiftflowImport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SDK at work: linear regression by gradient descent, tracked (README, "Swift SDK").
        .executableTarget(
            name: "linear-regression",
            dependencies: ["SwiftflowClient"],
            path: "Examples/LinearRegression",
            swiftSettings: swiftSettings
        ),
        // Metric points per second through the fluent layer (bench/sdk_metrics.sh, docs/PERFORMANCE.md).
        .executableTarget(
            name: "swiftflow-sdk-bench",
            dependencies: ["SwiftflowClient"],
            path: "Benchmarks/SDKMetrics",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwiftflowTests",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                "SwiftflowArtifacts",
                "SwiftflowServer",
                "SwiftflowClient",
                "SwiftflowModels",
                "SwiftflowImport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
