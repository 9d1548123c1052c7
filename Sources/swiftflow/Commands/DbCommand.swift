import ArgumentParser
import Logging
import SwiftflowStore

/// `swiftflow db upgrade URI`, as `mlflow db upgrade`: applies pending schema migrations.
struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the backend store's schema.",
        subcommands: [Upgrade.self])

    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending schema migrations to a backend store.",
            discussion: """
                The server migrates on start as well; this runs the same migrations ahead of a rollout. \
                Concurrent upgrades (or servers starting together) take turns on PostgreSQL's advisory lock.
                """)

        @Argument(help: ArgumentHelp(
            "The backend store: postgresql://user:pass@host:port/db, sqlite:///path.db or a file path.",
            valueName: "uri"))
        var uri: String

        func run() async throws {
            let logger = Logger(label: "swiftflow")
            let location = try BackendStore.location(uri)
            let applied = try await BackendStore.upgrade(uri: uri, logger: logger)
            if applied.isEmpty {
                print("\(location.description): schema up to date")
            } else {
                print("\(location.description): applied \(applied.joined(separator: ", "))")
            }
        }
    }
}
