import Foundation
import SwiftflowCore

/// The fluent API: a run around a block of code, as `with mlflow.start_run():` is in Python.
///
/// ```swift
/// try await Swiftflow.withRun(experiment: "regression") { run in
///     try await run.log(param: "lr", "0.01")
///     for step in 0..<1000 {
///         try await run.log(metric: "loss", loss, step: Int64(step))
///     }
/// }
/// ```
public enum Swiftflow {
    /// The run of the innermost enclosing ``withRun(experiment:experimentId:runName:tags:nested:runId:client:isolation:_:)``.
    @TaskLocal public static var current: ActiveRun?

    /// Metric points per `log-batch` request (MLflow's limit is 1,000).
    public static let batchSize = MlflowClient.BatchLimits.metrics
    /// Metric points queued at most before `log` waits for the sender.
    public static let bufferCapacity = 50_000

    /// Starts a run, runs `body` with it, and ends it: `FINISHED` when `body` returns, `FAILED` when it throws,
    /// `KILLED` when the task is cancelled. Queued metrics are sent before the run ends.
    ///
    /// - Parameters:
    ///   - experiment: the experiment's name; created when missing. Defaults to `experimentId`, then
    ///     `MLFLOW_EXPERIMENT_NAME`, then `MLFLOW_EXPERIMENT_ID`, then the Default experiment (`0`).
    ///   - experimentId: the experiment's id, when no name is given.
    ///   - runName: the run's name; the server picks one when nil.
    ///   - tags: tags of the new run, added to the context tags (`mlflow.user`, `mlflow.source.name`,
    ///     `mlflow.source.type`) MLflow's fluent client sets.
    ///   - nested: start a child of ``current`` (tagged `mlflow.parentRunId`). Without it, starting a run inside
    ///     another is an error, as in MLflow.
    ///   - runId: resume this run instead of creating one; `MLFLOW_RUN_ID` does the same for an outermost run.
    ///   - client: the client to use; by default one configured from the environment.
    ///   - isolation: where `body` runs: the caller's actor, so `body` need not be `Sendable`.
    ///   - body: the work; its result is returned once the run has ended.
    /// - Returns: what `body` returned.
    /// - Throws: what `body` threw (after ending the run `FAILED`), or a `SwiftflowError` of the server.
    public static func withRun<T>(
        experiment: String? = nil, experimentId: String? = nil, runName: String? = nil, tags: [String: String] = [:],
        nested: Bool = false, runId: String? = nil, client: MlflowClient? = nil,
        isolation: isolated (any Actor)? = #isolation, _ body: (ActiveRun) async throws -> T
    ) async throws -> T {
        let parent = current
        if let parent, !nested {
            throw SwiftflowError.invalidParameter(
                "Run with UUID \(parent.id) is already active. To start a nested run, call withRun with nested: true.")
        }
        if parent == nil && nested {
            throw SwiftflowError.invalidParameter("A nested run needs an active parent run.")
        }
        let client = try client ?? parent?.client ?? MlflowClient()
        let resume = runId ?? (parent == nil ? client.configuration.runId : nil)
        let run: Run
        if let resume {
            run = try await resumeRun(resume, tags: tags, client: client)
        } else {
            let experimentId = try await resolveExperiment(name: experiment, id: experimentId, client: client)
            var allTags = defaultTags()
            if let parent { allTags["mlflow.parentRunId"] = parent.id }
            allTags.merge(tags) { _, user in user }
            run = try await client.createRun(
                experimentId: experimentId, runName: runName, tags: allTags, userId: allTags["mlflow.user"])
        }
        let active = ActiveRun(run: run, client: client, batchSize: batchSize, capacity: bufferCapacity)
        let result: T
        do {
            result = try await $current.withValue(active) { try await body(active) }
        } catch {
            let status: RunStatus = error is CancellationError ? .killed : .failed
            // The closure's error is the one to report; a failing flush only adds to it.
            try? await active.flush()
            try? await client.setTerminated(runId: active.id, status: status)
            throw error
        }
        do {
            try await active.flush()
        } catch {
            try? await client.setTerminated(runId: active.id, status: .failed)
            throw error
        }
        try await client.setTerminated(runId: active.id, status: .finished)
        return result
    }

    /// The id of the experiment named `name` (created when missing), or of `id`, or the environment's choice.
    static func resolveExperiment(name: String?, id: String?, client: MlflowClient) async throws -> String {
        if let name = name ?? (id == nil ? client.configuration.experimentName : nil) {
            if let experiment = try await client.getExperiment(byName: name) {
                if experiment.lifecycleStage == .deleted {
                    throw SwiftflowError.invalidParameter(
                        "Cannot set a deleted experiment '\(name)' as the active experiment. You can restore the "
                            + "experiment, or permanently delete the experiment to create a new one.")
                }
                return experiment.experimentId
            }
            let created: Result<String, SwiftflowError>
            do {
                created = .success(try await client.createExperiment(name: name))
            } catch {
                created = .failure(error)
            }
            // Another process may have created it first.
            if case .failure(let error) = created, error.code == .resourceAlreadyExists,
               let experiment = try await client.getExperiment(byName: name) {
                return experiment.experimentId
            }
            return try created.get()
        }
        if let id = id ?? client.configuration.experimentId {
            return try await client.getExperiment(id: id).experimentId
        }
        return "0"
    }

    static func resumeRun(_ id: String, tags: [String: String], client: MlflowClient) async throws -> Run {
        let existing = try await client.getRun(id: id)
        if existing.info.lifecycleStage == .deleted {
            throw SwiftflowError.invalidParameter("Cannot start run with ID \(id) because it is in the deleted state.")
        }
        try await client.updateRun(id: id, status: .running)
        if !tags.isEmpty {
            try await client.logBatch(runId: id, tags: tags.sorted { $0.key < $1.key }.map { RunTag($0.key, $0.value) })
        }
        return try await client.getRun(id: id)
    }

    /// The context tags MLflow's fluent client sets on a new run.
    static func defaultTags() -> [String: String] {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["USER"] ?? environment["LOGNAME"] ?? NSUserName()
        let source = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "swift"
        return ["mlflow.user": user, "mlflow.source.name": source, "mlflow.source.type": "LOCAL"]
    }
}
