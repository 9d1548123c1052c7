import ArgumentParser
import Logging
import SwiftflowCore
import SwiftflowImport

/// `swiftflow import`: moves an MLflow store in, every id kept.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an MLflow database or mlruns folder into a Swiftflow store, keeping every id.",
        discussion: """
            Copies experiments, runs (params, tags, metrics with their full history, datasets), logged \
            models and the model registry (versions, stages, aliases, tags), and with --auth-from the \
            basic-auth users and permissions. runs:/ and models:/ URIs keep working because ids are kept. \
            Safe to run again, or after it was stopped: it adds only what is missing and changes nothing \
            already there. It refuses, writing nothing, when the target holds other data under the same \
            ids or names.
            """)

    @Option(help: ArgumentHelp(
        "The MLflow store: sqlite:///mlflow.db, postgresql://user:pass@host/db, or an mlruns folder.", valueName: "uri"))
    var from: String

    @Option(help: ArgumentHelp("The Swiftflow store: sqlite:///path.db, a file path, or postgresql://….", valueName: "uri"))
    var to: String

    @Option(help: ArgumentHelp(
        "The folder behind the MLflow server's mlflow-artifacts:/ locations (its --artifacts-destination).",
        valueName: "dir"))
    var artifactsFrom: String?

    @Flag(help: "Copy the artifacts of mlflow-artifacts:/ locations from --artifacts-from to --artifacts-to.")
    var copyArtifacts = false

    @Option(help: ArgumentHelp("Where --copy-artifacts puts them: the Swiftflow server's --artifacts-destination.",
                               valueName: "dir"))
    var artifactsTo: String?

    @Option(help: ArgumentHelp("MLflow's basic-auth database (its auth config's database_uri).", valueName: "uri"))
    var authFrom: String?

    @Option(help: ArgumentHelp("The Swiftflow basic-auth database to import users and permissions into.", valueName: "uri"))
    var authTo: String?

    @Flag(help: "Read the source and check the target; write nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Runs written per transaction.", valueName: "n"))
    var runsPerTransaction = 500

    @Flag(help: "No progress on standard error.")
    var noProgress = false

    func run() async throws {
        var options = ImportOptions(from: from, to: to)
        options.artifactsFrom = artifactsFrom
        options.copyArtifacts = copyArtifacts
        options.artifactsTo = artifactsTo
        options.authFrom = authFrom
        options.authTo = authTo
        options.dryRun = dryRun
        options.runsPerTransaction = runsPerTransaction
        options.progress = !noProgress
        var logger = Logger(label: "swiftflow.import")
        logger.logLevel = .warning
        do {
            print(try await MLflowImporter(options: options, logger: logger).run(), terminator: "")
        } catch let error as SwiftflowError {
            throw Failure(description: error.message)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}
