import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SwiftflowCore
import SwiftflowModels

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Serve MLflow models, predict with them and prepare their environments.",
        discussion: """
            Model URIs: a local folder, runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias>, \
            models:/<model_id>, mlflow-artifacts:/..., s3://... Remote URIs are resolved through the tracking \
            server named by MLFLOW_TRACKING_URI and downloaded once into ~/.cache/swiftflow/models.
            """,
        subcommands: [Serve.self, Predict.self, PrepareEnv.self])

    struct ModelOptions: ParsableArguments {
        @Option(name: [.customShort("m"), .long], help: ArgumentHelp("The model URI.", valueName: "uri"))
        var modelUri: String

        @Option(help: ArgumentHelp(
            "The model's Python environment: local (the python3 on PATH, or $SWIFTFLOW_PYTHON), virtualenv "
                + "(built from python_env.yaml, cached) or conda (built from conda.yaml with conda, cached).",
            valueName: "manager"))
        var envManager: String = EnvManager.virtualenv.rawValue

        @Flag(help: "Same as --env-manager local.")
        var noConda = false

        @Flag(help: "Accepted for compatibility: the model's requirements already name mlflow.")
        var installMlflow = false

        func manager() throws -> EnvManager {
            if noConda { return .local }
            // MLflow's `uv` manager builds the same virtualenv.
            let name = envManager == "uv" ? EnvManager.virtualenv.rawValue : envManager
            guard let manager = EnvManager(rawValue: name) else {
                throw ValidationError("Invalid value for '--env-manager': '\(envManager)' (local, virtualenv, conda).")
            }
            return manager
        }

        /// The model's folder, its MLmodel and its interpreter.
        func prepare(logger: Logger) async throws -> (URL, MLmodel, String) {
            do {
                let directory = try await ModelFetcher().localDirectory(for: modelUri)
                let text = try String(contentsOf: directory.appendingPathComponent("MLmodel"), encoding: .utf8)
                let model = try MLmodel.parse(yaml: text)
                guard model.pythonFunction != nil else {
                    throw SwiftflowError(
                        .invalidParameterValue,
                        "Model '\(modelUri)' has no python_function flavor (flavors: "
                            + model.flavorNames.joined(separator: ", ") + "); only python_function models can be served.")
                }
                let python = try PythonEnvironment(manager: try manager(), logger: logger).python(for: model, in: directory)
                return (directory, model, python)
            } catch let error as SwiftflowError {
                throw Failure(description: error.message)
            }
        }
    }

    /// A runtime failure: printed as `Error: ...` without the usage text a ValidationError adds.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a model over HTTP with MLflow's scoring protocol (/invocations, /ping, /health, /version).")

        @OptionGroup var model: ModelOptions

        @Option(name: [.customShort("h"), .long], help: "The network address to listen on.")
        var host = ProcessInfo.processInfo.environment["MLFLOW_HOST"] ?? "127.0.0.1"

        @Option(name: .shortAndLong, help: "The port to listen on.")
        var port = Int(ProcessInfo.processInfo.environment["MLFLOW_PORT"] ?? "") ?? 5000

        @Option(name: .shortAndLong, help: "Seconds a request may take; a worker that overruns it is restarted.")
        var timeout = Int(ProcessInfo.processInfo.environment["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] ?? "") ?? 60

        @Option(name: .shortAndLong, help: "The number of Python worker processes.")
        var workers = Int(ProcessInfo.processInfo.environment["MLFLOW_MODELS_WORKERS"] ?? "") ?? 1

        @Option(help: ArgumentHelp(
            "Predict concurrent requests in one call: auto (for scikit-learn models, which predict row by row), "
                + "on or off.", valueName: "mode"))
        var batching = "auto"

        @Option(help: "The log level: trace, debug, info, notice, warning, error or critical.")
        var logLevel = "info"

        func run() async throws {
            var logger = Logger(label: "swiftflow.models")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            guard ["auto", "on", "off"].contains(batching) else {
                throw ValidationError("Invalid value for '--batching': '\(batching)' (auto, on, off).")
            }
            guard workers >= 1, timeout >= 1 else { throw ValidationError("--workers and --timeout must be at least 1.") }
            let (directory, mlmodel, python) = try await model.prepare(logger: logger)
            let batch = batching == "on" || (batching == "auto" && mlmodel.pythonFunction?.loaderModule == "mlflow.sklearn")
            let pool = WorkerPool(
                launch: WorkerLaunch(python: python, modelDirectory: directory.path,
                                     environment: ProcessInfo.processInfo.environment),
                size: workers, timeout: .seconds(timeout), batching: batch, logger: logger)
            do {
                try await pool.start()
            } catch let error as SwiftflowError {
                throw Failure(description: error.message)
            }
            logger.info("Serving \(model.modelUri) on http://\(host):\(port) with \(workers) worker(s) (\(python))")
            let app = buildScoringApplication(
                pool: pool, model: mlmodel, configuration: ScoringServerConfiguration(host: host, port: port), logger: logger)
            do {
                try await app.runService()
            } catch {
                pool.stop()
                throw error
            }
            pool.stop()
        }
    }

    struct Predict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Predict with a model on a JSON or CSV file, as `mlflow models predict` does.")

        @OptionGroup var model: ModelOptions

        @Option(name: [.customShort("i"), .long], help: ArgumentHelp("The input file (default: stdin).", valueName: "file"))
        var inputPath: String?

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The output file (default: stdout).", valueName: "file"))
        var outputPath: String?

        @Option(name: [.customShort("t"), .long], help: ArgumentHelp("The input's format: json or csv.", valueName: "type"))
        var contentType = "json"

        func run() async throws {
            var logger = Logger(label: "swiftflow.models")
            logger.logLevel = .info
            guard ["json", "csv"].contains(contentType) else {
                throw ValidationError("Unknown content type '\(contentType)' (json or csv).")
            }
            let (directory, _, python) = try await model.prepare(logger: logger)
            let status = try WorkerLaunch(python: python, modelDirectory: directory.path,
                                          environment: ProcessInfo.processInfo.environment)
                .predict(input: inputPath.map(Self.absolute) ?? "-", output: outputPath.map(Self.absolute) ?? "-",
                         contentType: contentType)
            if status != 0 { throw ExitCode(status) }
        }

        static func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
    }

    struct PrepareEnv: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prepare-env",
            abstract: "Download the model and build its environment now, so that serve and predict start fast.")

        @OptionGroup var model: ModelOptions

        func run() async throws {
            var logger = Logger(label: "swiftflow.models")
            logger.logLevel = .info
            let (directory, _, python) = try await model.prepare(logger: logger)
            logger.info("Model in \(directory.path); environment ready: \(python)")
        }
    }
}
