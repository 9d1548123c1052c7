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
        .library(name: "SwiftflowServer", targets: ["SwiftflowServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "SwiftflowCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowStore",
            dependencies: [
                "SwiftflowCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwiftflowServer",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftflow",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                "SwiftflowServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwiftflowTests",
            dependencies: [
                "SwiftflowCore",
                "SwiftflowStore",
                "SwiftflowServer",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
