import ArgumentParser
import SwiftflowCore

@main
struct Swiftflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftflow",
        abstract: "An MLflow-compatible tracking server and toolkit in one binary.",
        discussion: """
            Point the official mlflow client at a running server with
            MLFLOW_TRACKING_URI=http://127.0.0.1:5000 and nothing else changes.
            """,
        version: SwiftflowVersion.string,
        subcommands: [ServerCommand.self, RunCommand.self, ModelsCommand.self, RegistryCommand.self, DbCommand.self, ImportCommand.self])
}
