import Foundation
import SwiftflowCore

/// A run started by ``Swiftflow/withRun(experiment:experimentId:runName:tags:nested:runId:client:isolation:_:)``:
/// what a training loop logs to.
///
/// Metrics are queued and sent in the background in batches (see ``log(metric:_:step:timestamp:)``);
/// params, tags, inputs and artifacts are sent when logged. All methods may be called from any task.
public final class ActiveRun: Sendable {
    /// The run as the server answered its creation (or resumption).
    public let run: Run
    public let client: MlflowClient
    let batcher: MetricBatcher

    public var id: String { run.info.runId }
    public var experimentId: String { run.info.experimentId }
    public var name: String { run.info.runName }

    init(run: Run, client: MlflowClient, batchSize: Int, capacity: Int) {
        self.run = run
        self.client = client
        batcher = MetricBatcher(client: client, runId: run.info.runId, batchSize: batchSize, capacity: capacity)
    }

    // MARK: Metrics

    /// Queues one point of `key`; it reaches the server in a batch, at the latest when the run ends or
    /// ``flush()`` is called. Timestamps default to now, in milliseconds.
    /// - Throws: the error of an earlier batch the server refused.
    /// Runs on the caller's executor (`nonisolated(nonsending)`): queuing a point costs no executor hop.
    public nonisolated(nonsending) func log(
        metric key: String, _ value: Double, step: Int64 = 0, timestamp: Int64? = nil
    ) async throws(SwiftflowError)
    {
        try await batcher.add(Metric(key: key, value: value, timestamp: timestamp ?? MlflowClient.now(), step: step))
    }

    /// Queues one point of each metric, with one timestamp.
    public nonisolated(nonsending) func log(
        metrics: [String: Double], step: Int64 = 0, timestamp: Int64? = nil
    ) async throws(SwiftflowError) {
        let time = timestamp ?? MlflowClient.now()
        try await batcher.add(metrics.sorted { $0.key < $1.key }.map {
            Metric(key: $0.key, value: $0.value, timestamp: time, step: step)
        })
    }

    /// Sends every queued metric point now.
    public func flush() async throws(SwiftflowError) {
        try await batcher.flush()
    }

    /// Points sent so far and the `log-batch` requests they took.
    public var metricTraffic: (points: Int, requests: Int) {
        get async { batcher.traffic }
    }

    // MARK: Params and tags

    public func log(param key: String, _ value: String) async throws(SwiftflowError) {
        try await client.logParam(runId: id, key: key, value: value)
    }

    /// Logs params in as few requests as MLflow's limits allow.
    public func log(params: [String: String]) async throws(SwiftflowError) {
        try await client.logBatch(runId: id, params: params.sorted { $0.key < $1.key }.map { Param($0.key, $0.value) })
    }

    public func setTag(_ key: String, _ value: String) async throws(SwiftflowError) {
        try await client.setTag(runId: id, key: key, value: value)
    }

    public func setTags(_ tags: [String: String]) async throws(SwiftflowError) {
        try await client.logBatch(runId: id, tags: tags.sorted { $0.key < $1.key }.map { RunTag($0.key, $0.value) })
    }

    // MARK: Inputs and artifacts

    /// Records a dataset the run used; `context` (e.g. `training`) becomes the input's `mlflow.data.context` tag.
    public func log(input dataset: Dataset, context: String? = nil) async throws(SwiftflowError) {
        let tags = context.map { [KeyValue("mlflow.data.context", $0)] } ?? []
        try await client.logInputs(runId: id, datasets: [DatasetInput(dataset: dataset, tags: tags)])
    }

    public func log(artifact localFile: URL, artifactPath: String? = nil) async throws(SwiftflowError) {
        try await client.logArtifact(localFile: localFile, artifactURI: run.info.artifactUri, artifactPath: artifactPath)
    }

    public func log(artifacts localDirectory: URL, artifactPath: String? = nil) async throws(SwiftflowError) {
        try await client.logArtifacts(localDirectory: localDirectory, artifactURI: run.info.artifactUri,
                                      artifactPath: artifactPath)
    }

    /// Writes `text` to the artifact file `artifactFile`.
    public func log(text: String, artifactFile: String) async throws(SwiftflowError) {
        let root = run.info.artifactUri
        try await client.withTemporaryFile(named: (artifactFile as NSString).lastPathComponent, contents: Data(text.utf8)) {
            (file) async throws(SwiftflowError) in
            let folder = (artifactFile as NSString).deletingLastPathComponent
            try await client.logArtifact(localFile: file, artifactURI: root, artifactPath: folder.isEmpty ? nil : folder)
        }
    }

    // MARK: Nested runs

    /// Runs `body` in a child run of this one (tagged `mlflow.parentRunId`), ended as ``Swiftflow`` ends runs.
    public func withNestedRun<T>(
        name: String? = nil, tags: [String: String] = [:], isolation: isolated (any Actor)? = #isolation,
        _ body: (ActiveRun) async throws -> T
    ) async throws -> T {
        try await Swiftflow.$current.withValue(self) {
            try await Swiftflow.withRun(experimentId: experimentId, runName: name, tags: tags, nested: true,
                                        client: client, body)
        }
    }
}
