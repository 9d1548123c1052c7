import ArgumentParser
import Foundation
import Logging
import SwiftflowCore
import SwiftflowProjects

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an MLflow project from a folder or a git repository, as `mlflow run` does, with a tracked run.",
        discussion: """
            URI: a local folder, or a git repository (https://…, file://…, git@…) with an optional #subdir. \
            The run goes to the tracking server named by MLFLOW_TRACKING_URI; the command gets MLFLOW_RUN_ID, \
            MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID, so its mlflow.start_run() continues that run. \
            Only the local backend exists.
            """)

    @Argument(help: ArgumentHelp("The project: a folder or a git URI.", valueName: "uri"))
    var uri: String

    @Option(name: [.customShort("e"), .long], help: "The entry point (default: main).")
    var entryPoint = "main"

    @Option(name: [.customShort("v"), .long], help: "A git branch, tag or commit to run.")
    var version: String?

    @Option(name: [.customShort("P"), .customLong("param-list")],
            help: ArgumentHelp("A parameter, key=value (repeatable).", valueName: "key=value"))
    var parameters: [String] = []

    @Option(help: "The experiment's name (created when missing).")
    var experimentName: String?

    @Option(help: "The experiment's id.")
    var experimentId: String?

    @Option(help: "The run's name.")
    var runName: String?

    @Option(help: ArgumentHelp("local, virtualenv (uv), or conda; default: from the project.", valueName: "manager"))
    var envManager: String?

    @Option(name: [.customShort("b"), .long], help: "Where to run: only local.")
    var backend = "local"

    @Option(help: "Continue this run instead of creating one.")
    var runId: String?

    @Flag(help: "Accepted for compatibility: the image of a docker_env is used as it is.")
    var buildImage = false

    func run() async throws {
        guard backend == "local" else {
            throw ValidationError("Only the local backend is supported (got '\(backend)').")
        }
        var request = ProjectRunRequest(uri: uri)
        request.entryPoint = entryPoint
        request.version = version
        request.experimentName = experimentName
        request.experimentId = experimentId
        request.runName = runName
        request.envManager = envManager
        request.runId = runId
        request.buildImage = buildImage
        for item in parameters {
            guard let equals = item.firstIndex(of: "=") else {
                throw ValidationError("'\(item)' is not a valid key value pair, expecting `key=value`")
            }
            request.parameters.append((String(item[..<equals]), String(item[item.index(after: equals)...])))
        }
        var logger = Logger(label: "swiftflow.projects")
        logger.logLevel = .info
        let status: Int32
        do {
            status = try await ProjectRunner(logger: logger).run(request)
        } catch let error as SwiftflowError {
            throw Failure(description: error.message)
        }
        if status != 0 { throw ExitCode(status) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}
