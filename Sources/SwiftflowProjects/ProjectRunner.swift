import Dispatch
import Foundation
import Logging
import SwiftflowClient
import SwiftflowCore
import SwiftflowModels

#if canImport(Glibc)
import Glibc
#endif

/// What `swiftflow run` was asked to do.
public struct ProjectRunRequest: Sendable {
    public var uri: String
    public var entryPoint = "main"
    public var parameters: [(key: String, value: String)] = []
    public var experimentName: String?
    public var experimentId: String?
    public var runName: String?
    public var version: String?
    /// nil: from the project (python_env → virtualenv, conda_env → conda, docker_env → docker).
    public var envManager: String?
    public var runId: String?
    public var buildImage = false

    public init(uri: String) { self.uri = uri }
}

/// Runs an MLflow project on this machine as `mlflow run --backend local` does: fetch, check the
/// parameters, create (or continue) a tracked run, build the environment, run the command with the
/// run's ids in its environment, and end the run with the command's outcome.
public struct ProjectRunner: Sendable {
    let environment: [String: String]
    let logger: Logger

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        self.environment = environment
        self.logger = logger
    }

    /// Runs the project and answers the command's exit status (128 + signal when killed).
    public func run(_ request: ProjectRunRequest) async throws -> Int32 {
        if request.experimentName != nil && request.experimentId != nil {
            throw SwiftflowError.invalidParameter("Specify only one of 'experiment_name' or 'experiment_id'.")
        }
        let trackingURI = environment["MLFLOW_TRACKING_URI"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:5000"
        let client = try TrackingClient(trackingURI: trackingURI, environment: environment)
        // As mlflow run: the experiment first (created when missing), then the project.
        let experimentId = try await experiment(request, client)
        let source = try ProjectSource.fetch(request.uri, version: request.version)
        let project = try MLproject.load(directory: source.directory)
        let entry = try project.entryPoint(request.entryPoint, shell: environment["SHELL"] ?? "bash")
        // Everything about the parameters is checked before a run exists.
        let (parameters, extra) = try entry.resolve(request.parameters)
        // Relative `path` values are read from where the command was started, as mlflow run does.
        let command = try entry.command(
            request.parameters, workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        let manager = try envManager(request.envManager, project: project)
        let runId: String
        if let existing = request.runId {
            _ = try await client.get("/api/2.0/mlflow/runs/get", query: [("run_id", existing)])
            runId = existing
        } else {
            runId = try await createRun(client, experimentId: experimentId, source: source, entryPoint: request.entryPoint,
                                        parameters: parameters + extra)
        }
        if let name = request.runName { try await setTag(client, runId, "mlflow.runName", name) }
        try await setTag(client, runId, "mlflow.project.backend", "local")

        var childEnvironment = environment
        childEnvironment["MLFLOW_RUN_ID"] = runId
        childEnvironment["MLFLOW_TRACKING_URI"] = trackingURI
        childEnvironment["MLFLOW_EXPERIMENT_ID"] = experimentId
        var argv = ["bash", "-c", command]
        do {
            switch manager {
            case .local:
                break
            case .virtualenv, .conda:
                try await setTag(client, runId, "mlflow.project.env", manager.rawValue)
                let python = try pythonEnvironment(manager, project: project, directory: source.directory)
                let bin = URL(fileURLWithPath: python).deletingLastPathComponent()
                childEnvironment["PATH"] = bin.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
                childEnvironment["VIRTUAL_ENV"] = bin.deletingLastPathComponent().path
            case .docker:
                try await setTag(client, runId, "mlflow.project.env", "docker")
                guard case .docker(let docker) = project.environment else {
                    throw SwiftflowError.invalidParameter("--env-manager docker needs a docker_env in the MLproject file.")
                }
                argv = try dockerCommand(docker, command: command, directory: source.directory, run: childEnvironment)
            }
        } catch {
            try? await endRun(client, runId, status: "FAILED")
            throw error
        }

        logger.info("=== Running command '\(command)' in run with ID '\(runId)' === ")
        let outcome = try await ChildProcess.run(argv, directory: source.directory, environment: childEnvironment)
        switch outcome {
        case .exited(0):
            try await endRun(client, runId, status: "FINISHED")
            logger.info("=== Run (ID '\(runId)') succeeded ===")
            return 0
        case .exited(let status):
            try await endRun(client, runId, status: "FAILED")
            logger.error("=== Run (ID '\(runId)') failed ===")
            return status
        case .interrupted:
            try await endRun(client, runId, status: "KILLED")
            logger.error("=== Run (ID '\(runId)') was killed ===")
            return 130
        case .signaled(let signal):
            try await endRun(client, runId, status: "FAILED")
            logger.error("=== Run (ID '\(runId)') failed: the command was killed by signal \(signal) ===")
            return 128 + signal
        }
    }

    enum Manager: String { case local, virtualenv, conda, docker }

    private func envManager(_ requested: String?, project: MLproject) throws -> Manager {
        if case .docker = project.environment {
            if let requested, requested != "local" && requested != "docker" {
                throw SwiftflowError.invalidParameter(
                    "--env-manager \(requested) cannot be used with a docker_env project (its environment is the image).")
            }
            return .docker
        }
        if let requested {
            let name = requested == "uv" ? "virtualenv" : requested
            guard let manager = Manager(rawValue: name), manager != .docker else {
                throw SwiftflowError.invalidParameter("Invalid value for '--env-manager': '\(requested)' (local, virtualenv, conda).")
            }
            if manager == .conda, case .python = project.environment {
                throw SwiftflowError.invalidParameter("python_env project cannot be executed using conda. "
                                                      + "Use --env-manager virtualenv or local.")
            }
            return manager
        }
        if case .conda = project.environment { return .conda }
        return .virtualenv
    }

    private func pythonEnvironment(_ manager: Manager, project: MLproject, directory: URL) throws -> String {
        let builder = PythonEnvironment(manager: manager == .conda ? .conda : .virtualenv, environment: environment, logger: logger)
        switch (manager, project.environment) {
        case (.conda, .conda(let file)):
            return try builder.conda(file: directory.appendingPathComponent(file))
        case (.conda, _):
            throw SwiftflowError.invalidParameter("--env-manager conda needs a conda_env (or conda.yaml) in the project.")
        case (_, .python(let file)):
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            return try builder.virtualenv(try PythonEnvFile.parse(yaml: text), directory)
        default:
            // No python_env: an environment of the current Python with nothing installed.
            let python = try builder.executable(environment["SWIFTFLOW_PYTHON"] ?? "python3")
            let version = try builder.pythonVersion(python)
            return try builder.virtualenv(PythonEnvFile(python: version, buildDependencies: [], dependencies: []), directory)
        }
    }

    /// `docker run` as MLflow builds it: the project mounted at /mlflow/projects/code, the tracking
    /// variables passed in, the declared volumes and variables added. It needs a running Docker engine.
    private func dockerCommand(_ docker: MLproject.DockerEnvironment, command: String, directory: URL,
                               run: [String: String]) throws -> [String] {
        let pathDocker = try? PythonEnvironment(manager: .local, environment: environment, logger: logger).executable("docker")
        guard let pathDocker, (try? Self.capture([pathDocker, "info", "--format", "{{.ServerVersion}}"])) != nil else {
            throw SwiftflowError.invalidParameter(
                "This project runs in Docker (docker_env image \(docker.image)), but no Docker engine answers here: "
                    + "install Docker and start it, or run a project without docker_env.")
        }
        var argv = [pathDocker, "run", "--rm", "-v", "\(directory.path):/mlflow/projects/code", "-w", "/mlflow/projects/code"]
        for key in ["MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"] {
            if let value = run[key] { argv += ["-e", "\(key)=\(value)"] }
        }
        for volume in docker.volumes { argv += ["-v", volume] }
        for variable in docker.environment {
            switch variable {
            case .copy(let name): if let value = environment[name] { argv += ["-e", "\(name)=\(value)"] }
            case .set(let name, let value): argv += ["-e", "\(name)=\(value)"]
            }
        }
        return argv + [docker.image, "bash", "-c", command]
    }

    static func capture(_ argv: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SwiftflowError.invalidParameter("\(argv[0]) failed") }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: tracking

    private func experiment(_ request: ProjectRunRequest, _ client: TrackingClient) async throws -> String {
        if let id = request.experimentId { return id }
        let name = request.experimentName ?? environment["MLFLOW_EXPERIMENT_NAME"].flatMap { $0.isEmpty ? nil : $0 }
        guard let name else {
            return environment["MLFLOW_EXPERIMENT_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? "0"
        }
        do {
            let found = try await client.get("/api/2.0/mlflow/experiments/get-by-name", query: [("experiment_name", name)])
            if case .string(let id)? = found["experiment"]?["experiment_id"] { return id }
        } catch {
            guard error.code == .resourceDoesNotExist else { throw error }
            logger.info("'\(name)' does not exist. Creating a new experiment")
        }
        var body = JSONWriter(style: .compact)
        body.beginObject(); body.field("name", name); body.endObject()
        let created = try await client.post("/api/2.0/mlflow/experiments/create", body: body.bytes)
        guard case .string(let id)? = created["experiment_id"] else {
            throw SwiftflowError(.internalError, "The tracking server did not answer an experiment id.")
        }
        return id
    }

    private func createRun(_ client: TrackingClient, experimentId: String, source: ProjectSource, entryPoint: String,
                           parameters: [(key: String, value: String)]) async throws -> String {
        var tags: [(String, String)] = [
            ("mlflow.user", Self.user(environment)),
            ("mlflow.source.name", source.sourceName),
            ("mlflow.source.type", "PROJECT"),
            ("mlflow.project.entryPoint", entryPoint),
        ]
        if let commit = source.gitCommit { tags.append(("mlflow.source.git.commit", commit)) }
        if let url = source.gitRepoURL { tags.append(("mlflow.source.git.repoURL", url)) }
        if let branch = source.gitBranch { tags.append(("mlflow.source.git.branch", branch)) }
        var body = JSONWriter(style: .compact)
        body.beginObject()
        body.field("experiment_id", experimentId)
        body.field("user_id", Self.user(environment))
        body.field("start_time", Int64(Date().timeIntervalSince1970 * 1000))
        body.repeatedField("tags", tags) { w, tag in
            w.beginObject(); w.field("key", tag.0); w.field("value", tag.1); w.endObject()
        }
        body.endObject()
        let created = try await client.post("/api/2.0/mlflow/runs/create", body: body.bytes)
        guard case .string(let runId)? = created["run"]?["info"]?["run_id"] else {
            throw SwiftflowError(.internalError, "The tracking server did not answer a run id.")
        }
        if !parameters.isEmpty {
            var batch = JSONWriter(style: .compact)
            batch.beginObject()
            batch.field("run_id", runId)
            batch.repeatedField("params", parameters) { w, param in
                w.beginObject(); w.field("key", param.key); w.field("value", param.value); w.endObject()
            }
            batch.endObject()
            _ = try await client.post("/api/2.0/mlflow/runs/log-batch", body: batch.bytes)
        }
        return runId
    }

    private func setTag(_ client: TrackingClient, _ runId: String, _ key: String, _ value: String) async throws {
        var body = JSONWriter(style: .compact)
        body.beginObject(); body.field("run_id", runId); body.field("key", key); body.field("value", value); body.endObject()
        _ = try await client.post("/api/2.0/mlflow/runs/set-tag", body: body.bytes)
    }

    private func endRun(_ client: TrackingClient, _ runId: String, status: String) async throws {
        var body = JSONWriter(style: .compact)
        body.beginObject()
        body.field("run_id", runId)
        body.field("status", status)
        body.field("end_time", Int64(Date().timeIntervalSince1970 * 1000))
        body.endObject()
        let updated = try await client.post("/api/2.0/mlflow/runs/update", body: body.bytes)
        // The links the official client prints when it ends a run on a tracking server.
        let suppressed = ["true", "1"].contains(environment["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"]?.lowercased() ?? "")
        if !suppressed, case .string(let experimentId)? = updated["run_info"]?["experiment_id"] {
            let name: String = if case .string(let n)? = updated["run_info"]?["run_name"] { n } else { runId }
            let experimentURL = "\(client.baseURL)/#/experiments/\(experimentId)"
            print("🏃 View run \(name) at: \(experimentURL)/runs/\(runId)")
            print("🧪 View experiment at: \(experimentURL)")
        }
    }

    /// Python's `getpass.getuser()`.
    static func user(_ environment: [String: String]) -> String {
        for key in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
            if let value = environment[key], !value.isEmpty { return value }
        }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "unknown"
    }
}
