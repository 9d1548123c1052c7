import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftflowClient
import SwiftflowCore
import Testing

/// What the SDK saw, with server-chosen ids and times replaced, so that two servers can be compared.
final class Transcript: @unchecked Sendable {
    private(set) var lines: [String] = []
    private var aliases: [String: String] = [:]

    /// Names `id` (a run, logged model…) in later lines. Experiment ids are small numbers that both fresh
    /// servers hand out alike, so they stay as they are.
    func alias(_ id: String, as name: String) { aliases[id] = name }

    func record(_ label: String, _ value: Any) {
        var text = "\(label): \(value)"
        // Longest first, so that a run id inside an artifact URI is replaced whole.
        // Whole tokens only: experiment "1" must not rename every digit 1.
        for (id, name) in aliases.sorted(by: { $0.key.count > $1.key.count }) {
            let pattern = "(?<![A-Za-z0-9])" + NSRegularExpression.escapedPattern(for: id) + "(?![A-Za-z0-9])"
            text = text.replacingOccurrences(of: pattern, with: name, options: .regularExpression)
        }
        lines.append(text)
    }

    /// Runs `body` and records the MLflow error code it throws (or that it threw none).
    func recordError(_ label: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            record(label, "no error")
        } catch let error as SwiftflowError {
            record(label, error.code.rawValue)
        } catch {
            record(label, "unexpected \(error)")
        }
    }
}

private func tags(_ items: [KeyValue], excluding prefix: String? = nil) -> String {
    items.filter { prefix == nil || !$0.key.hasPrefix(prefix!) }.sorted { $0.key < $1.key }
        .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
}

/// The same calls through the SDK against any MLflow-compatible server: everything MlflowClient and the
/// fluent layer offer, with checks that hold on any correct server, and a transcript to compare servers by.
enum SDKScenario {
    static func run(_ client: MlflowClient, scratch: URL) async throws -> [String] {
        let t = Transcript()

        // Experiments.
        let experimentId = try await client.createExperiment(name: "sdk-demo", tags: ["team": "ml", "b": "2"])
        let experiment = try await client.getExperiment(id: experimentId)
        t.record("experiment", "\(experiment.experimentId) \(experiment.name) \(experiment.lifecycleStage) [\(tags(experiment.tags))]")
        #expect(experiment.name == "sdk-demo")
        #expect(try await client.getExperiment(byName: "sdk-demo")?.experimentId == experimentId)
        t.record("missing by name", String(describing: try await client.getExperiment(byName: "no-such-experiment")))
        await t.recordError("duplicate experiment") { _ = try await client.createExperiment(name: "sdk-demo") }
        await t.recordError("unknown experiment") { _ = try await client.getExperiment(id: "987654321") }
        await t.recordError("bad filter") { _ = try await client.searchExperiments(filter: "name ~ 'x'") }
        _ = try await client.createExperiment(name: "sdk-other")
        let found = try await client.searchExperiments(filter: "name LIKE 'sdk-%'", orderBy: ["name ASC"])
        t.record("search experiments", found.items.map(\.name))
        try await client.renameExperiment(id: experimentId, newName: "sdk-demo-renamed")
        try await client.setExperimentTag(experimentId: experimentId, key: "stage", value: "dev")
        try await client.deleteExperimentTag(experimentId: experimentId, key: "b")
        let renamed = try await client.getExperiment(id: experimentId)
        t.record("renamed", "\(renamed.name) [\(tags(renamed.tags))]")

        // Runs, params, metrics, tags.
        let first = try await client.createRun(
            experimentId: experimentId, runName: "first", startTime: 1_700_000_000_000,
            tags: ["mlflow.user": "tester", "phase": "train"], userId: "tester")
        let runId = first.info.runId
        t.alias(runId, as: "run-1")
        t.record("created run", "\(first.info.runName) \(first.info.status) \(first.info.userId) \(first.info.artifactUri)")
        try await client.logParam(runId: runId, key: "lr", value: "0.1")
        await t.recordError("param changed") { try await client.logParam(runId: runId, key: "lr", value: "0.2") }
        try await client.logMetric(runId: runId, key: "loss", value: 0.9, step: 0, timestamp: 1000)
        try await client.logBatch(
            runId: runId,
            metrics: (1...3).map { Metric(key: "loss", value: 1.0 / Double($0 + 1), timestamp: 1000 + Int64($0), step: Int64($0)) }
                + [Metric(key: "accuracy", value: .nan, timestamp: 2000, step: 3)],
            params: [Param("depth", "4"), Param("optimizer", "sgd")], tags: [RunTag("note", "batch")])
        await t.recordError("unknown run") { _ = try await client.getRun(id: "0123456789abcdef0123456789abcdef") }
        await t.recordError("metric on unknown run") {
            try await client.logMetric(runId: "0123456789abcdef0123456789abcdef", key: "x", value: 1)
        }
        let history = try await client.getMetricHistory(runId: runId, key: "loss")
        t.record("loss history", history.sorted { $0.step < $1.step }.map { "\($0.step):\($0.value)@\($0.timestamp)" })
        #expect(history.count == 4)
        try await client.setTag(runId: runId, key: "temporary", value: "yes")
        try await client.deleteTag(runId: runId, key: "temporary")
        try await client.logInputs(runId: runId, datasets: [
            DatasetInput(dataset: Dataset(name: "iris", digest: "abc123", sourceType: "local", source: "{\"uri\": \"iris.csv\"}",
                                          schema: nil, profile: "{\"rows\": 150}"),
                         tags: [KeyValue("mlflow.data.context", "training")]),
        ])
        try await client.updateRun(id: runId, runName: "first-renamed")
        let fetched = try await client.getRun(id: runId)
        t.record("run", "\(fetched.info.runName) \(fetched.info.status) \(fetched.info.lifecycleStage)")
        t.record("run metrics", fetched.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)@\($0.step)" })
        t.record("run params", tags(fetched.params))
        t.record("run tags", tags(fetched.tags))
        t.record("run inputs", fetched.inputs.map { "\($0.dataset.name) \($0.dataset.digest) \($0.dataset.source) [\(tags($0.tags))]" })
        #expect(fetched.params.count == 3)

        let second = try await client.createRun(experimentId: experimentId, runName: "second", startTime: 1_700_000_001_000)
        t.alias(second.info.runId, as: "run-2")
        try await client.logBatch(runId: second.info.runId, metrics: [Metric(key: "loss", value: 0.1, timestamp: 5, step: 0)],
                                  params: [Param("lr", "0.5")])
        try await client.setTerminated(runId: second.info.runId, status: .finished, endTime: 1_700_000_002_000)
        let searched = try await client.searchRuns(experimentIds: [experimentId], filter: "metrics.loss < 0.5",
                                                   orderBy: ["metrics.loss ASC"])
        t.record("search runs", searched.items.map { "\($0.info.runName) \($0.info.status)" })
        let page1 = try await client.searchRuns(experimentIds: [experimentId], maxResults: 1, orderBy: ["attributes.start_time DESC"])
        t.record("page 1", page1.items.map(\.info.runName) + [page1.nextPageToken == nil ? "last" : "more"])
        let page2 = try await client.searchRuns(experimentIds: [experimentId], maxResults: 1,
                                                orderBy: ["attributes.start_time DESC"], pageToken: page1.nextPageToken)
        t.record("page 2", page2.items.map(\.info.runName))
        await t.recordError("bad run filter") {
            _ = try await client.searchRuns(experimentIds: [experimentId], filter: "metrics.loss <")
        }
        try await client.deleteRun(id: second.info.runId)
        let deletedOnly = try await client.searchRuns(experimentIds: [experimentId], viewType: .deletedOnly)
        t.record("deleted runs", deletedOnly.items.map(\.info.runName))
        try await client.restoreRun(id: second.info.runId)
        t.record("restored", try await client.getRun(id: second.info.runId).info.lifecycleStage)

        // Artifacts, streamed through the server.
        let upload = scratch.appendingPathComponent("upload")
        try FileManager.default.createDirectory(at: upload.appendingPathComponent("nested"), withIntermediateDirectories: true)
        let blob = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try blob.write(to: upload.appendingPathComponent("weights.bin"))
        try Data("a,b\n1,2\n".utf8).write(to: upload.appendingPathComponent("nested/table.csv"))
        try await client.logArtifacts(runId: runId, localDirectory: upload, artifactPath: "model")
        try await client.logText(runId: runId, "hello from Swift\n", artifactFile: "notes/hello.txt")
        try await client.logArtifact(runId: runId, localFile: upload.appendingPathComponent("nested/table.csv"))
        t.record("artifacts /", try await client.listArtifacts(runId: runId).map { "\($0.path) \($0.isDir) \($0.fileSize.map(String.init) ?? "-")" })
        t.record("artifacts model", try await client.listArtifacts(runId: runId, path: "model").map { "\($0.path) \($0.isDir) \($0.fileSize.map(String.init) ?? "-")" })
        t.record("artifacts of a file", try await client.listArtifacts(runId: runId, path: "table.csv").map(\.path))
        let download = scratch.appendingPathComponent("download")
        let model = try await client.downloadArtifacts(runId: runId, path: "model", to: download)
        #expect(try Data(contentsOf: model.appendingPathComponent("weights.bin")) == blob)
        #expect(try String(contentsOf: model.appendingPathComponent("nested/table.csv"), encoding: .utf8) == "a,b\n1,2\n")
        let note = try await client.downloadArtifacts(runId: runId, path: "notes/hello.txt", to: download)
        t.record("downloaded note", try String(contentsOf: note, encoding: .utf8))
        await t.recordError("missing artifact") {
            _ = try await client.downloadArtifacts(runId: runId, path: "no/such/file.txt", to: download)
        }

        // Logged models.
        let logged = try await client.createLoggedModel(
            experimentId: experimentId, name: "regressor", modelType: "swift", sourceRunId: runId,
            params: ["alpha": "0.5"], tags: ["framework": "swift"])
        t.alias(logged.modelId, as: "model-1")
        t.record("logged model", "\(logged.name) \(logged.status.wireName) \(logged.modelType ?? "-") \(logged.sourceRunId ?? "-") [\(tags(logged.params))] [\(tags(logged.tags, excluding: "mlflow."))]")
        try await client.logModelArtifact(modelId: logged.modelId, localFile: upload.appendingPathComponent("nested/table.csv"))
        let ready = try await client.finalizeLoggedModel(id: logged.modelId)
        t.record("finalized", ready.status.wireName)
        try await client.setLoggedModelTags(id: logged.modelId, tags: ["quality": "good", "tmp": "1"])
        try await client.deleteLoggedModelTag(id: logged.modelId, key: "tmp")
        try await client.logMetric(runId: runId, key: "rmse", value: 0.25, step: 1, timestamp: 3000, modelId: logged.modelId)
        let loggedModels = try await client.searchLoggedModels(experimentIds: [experimentId])
        t.record("logged models", loggedModels.items.map { "\($0.name) [\(tags($0.tags, excluding: "mlflow."))] \($0.metrics.map { "\($0.key)=\($0.value)" })" })
        await t.recordError("unknown logged model") { _ = try await client.getLoggedModel(id: "m-0123456789abcdef0123456789abcdef") }

        // Model Registry.
        try await client.createRegisteredModel(name: "sdk-model", description: "first model", tags: ["owner": "swift"])
        await t.recordError("duplicate model") { try await client.createRegisteredModel(name: "sdk-model") }
        let v1 = try await client.createModelVersion(name: "sdk-model", source: "runs:/\(runId)/model", runId: runId,
                                                     tags: ["candidate": "yes"], description: "v1")
        let v2 = try await client.createModelVersion(name: "sdk-model", source: "models:/\(logged.modelId)",
                                                     runId: runId, modelId: logged.modelId)
        t.record("versions", "\(v1.version) \(v1.currentStage.rawValue) \(v1.status.rawValue) \(v1.source ?? "-") | \(v2.version) \(v2.source ?? "-")")
        try await client.setRegisteredModelAlias(name: "sdk-model", alias: "champion", version: 2)
        let champion = try await client.getModelVersion(name: "sdk-model", alias: "champion")
        t.record("champion", "\(champion.version) \(champion.aliases)")
        #expect(champion.version == 2)
        try await client.transitionModelVersionStage(name: "sdk-model", version: 1, stage: "Staging")
        t.record("latest", try await client.getLatestVersions(name: "sdk-model").map { "\($0.version) \($0.currentStage.rawValue)" })
        try await client.setModelVersionTag(name: "sdk-model", version: 2, key: "validated", value: "true")
        try await client.deleteModelVersionTag(name: "sdk-model", version: 1, key: "candidate")
        try await client.updateModelVersion(name: "sdk-model", version: 2, description: "the champion")
        let versions = try await client.searchModelVersions(filter: "name = 'sdk-model'")
        t.record("search versions", versions.items.sorted { $0.version < $1.version }.map {
            "\($0.version) \($0.currentStage.rawValue) \($0.description ?? "-") [\(tags($0.tags))] \($0.aliases)"
        })
        try await client.setRegisteredModelTag(name: "sdk-model", key: "tmp", value: "x")
        try await client.deleteRegisteredModelTag(name: "sdk-model", key: "tmp")
        try await client.updateRegisteredModel(name: "sdk-model", description: "updated")
        try await client.renameRegisteredModel(name: "sdk-model", newName: "sdk-model-2")
        let registered = try await client.getRegisteredModel(name: "sdk-model-2")
        t.record("registered", "\(registered.name) \(registered.description ?? "-") [\(tags(registered.tags))] \(registered.aliases.map { "\($0.alias)=\($0.version)" }) \(registered.latestVersions.map(\.version))")
        t.record("search models", try await client.searchRegisteredModels(filter: "name LIKE 'sdk-%'").items.map(\.name))
        await t.recordError("unknown alias") { _ = try await client.getModelVersion(name: "sdk-model-2", alias: "nope") }
        try await client.deleteRegisteredModelAlias(name: "sdk-model-2", alias: "champion")
        try await client.deleteModelVersion(name: "sdk-model-2", version: 1)
        await t.recordError("deleted version") { _ = try await client.getModelVersion(name: "sdk-model-2", version: 1) }
        try await client.deleteRegisteredModel(name: "sdk-model-2")
        await t.recordError("deleted model") { _ = try await client.getRegisteredModel(name: "sdk-model-2") }

        // The fluent layer: a parent, a nested child, a failing run.
        let points = 3000
        let parentId = try await Swiftflow.withRun(experiment: "sdk-fluent", runName: "parent", tags: ["kind": "parent"],
                                                   client: client) { run in
            #expect(Swiftflow.current?.id == run.id)
            try await run.log(params: ["epochs": "3", "lr": "0.01"])
            for step in 0..<points {
                try await run.log(metric: "loss", 1.0 / Double(step + 1), step: Int64(step))
            }
            try await run.log(metrics: ["a": 1, "b": 2], step: 7)
            try await run.log(text: "weights", artifactFile: "model/weights.txt")
            try await run.withNestedRun(name: "child") { child in
                try await child.log(metric: "fold", 0.5, step: 1)
                try await child.setTag("fold", "1")
            }
            await t.recordError("unnested start") {
                try await Swiftflow.withRun(runName: "not-nested", client: client) { _ in }
            }
            return run.id
        }
        t.alias(parentId, as: "fluent-parent")
        struct TrainingFailed: Error {}
        var failedId = ""
        do {
            try await Swiftflow.withRun(experiment: "sdk-fluent", runName: "broken", client: client) { run in
                failedId = run.id
                try await run.log(metric: "loss", 0.3, step: 0)
                throw TrainingFailed()
            }
            Issue.record("the failing closure's error was swallowed")
        } catch is TrainingFailed {}
        t.alias(failedId, as: "fluent-failed")
        let fluent = try #require(try await client.getExperiment(byName: "sdk-fluent"))
        let fluentRuns = try await client.searchRuns(experimentIds: [fluent.experimentId], orderBy: ["attributes.run_name ASC"])
        for run in fluentRuns.items {
            t.alias(run.info.runId, as: "fluent-\(run.info.runName)")
        }
        for run in fluentRuns.items {
            let shown = tags(run.tags, excluding: "mlflow.source") + " " + run.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)@\($0.step)" }.joined(separator: ",")
            t.record("fluent run \(run.info.runName)", "\(run.info.status) \(run.info.endTime != nil) \(shown)")
        }
        let parentHistory = try await client.getMetricHistory(runId: parentId, key: "loss")
        t.record("fluent history", "\(parentHistory.count) \(parentHistory.map(\.step).max() ?? -1)")
        #expect(parentHistory.count == points)
        t.record("fluent artifacts", try await client.listArtifacts(runId: parentId, path: "model").map(\.path))
        return t.lines
    }
}

@Suite("Swift SDK", .serialized)
struct ClientSDKTests {
    @Test("the SDK against Swiftflow's server")
    func againstSwiftflow() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let client = try MlflowClient(trackingURI: server.base, environment: [:])
        let lines = try await SDKScenario.run(client, scratch: URL(fileURLWithPath: folder.path))
        #expect(lines.count > 40)
    }

    /// Both servers get the same calls and must give the same answers: the SDK is an MLflow client.
    @Test("the SDK gets the same answers from Swiftflow and from the official mlflow server",
          .enabled(if: ReferenceServer.executable != nil, "needs SWIFTFLOW_TEST_MLFLOW (scripts/test.sh sets it)"))
    func sameAnswersAsMLflow() async throws {
        let ours = try TemporaryFolder(), theirs = try TemporaryFolder()
        defer { ours.remove(); theirs.remove() }
        let reference = try await ReferenceServer.started(dataFolder: theirs.path)
        defer { reference.stop() }
        let server = try await ServerProcess.started(dataFolder: ours.path)
        defer { server.stop() }
        let expected = try await SDKScenario.run(try MlflowClient(trackingURI: reference.base, environment: [:]),
                                                 scratch: URL(fileURLWithPath: theirs.path))
        let actual = try await SDKScenario.run(try MlflowClient(trackingURI: server.base, environment: [:]),
                                               scratch: URL(fileURLWithPath: ours.path))
        // Keep both for a reader when asked (`SWIFTFLOW_TEST_TRANSCRIPTS=/some/folder`).
        if let keep = ProcessInfo.processInfo.environment["SWIFTFLOW_TEST_TRANSCRIPTS"] {
            try expected.joined(separator: "\n").write(toFile: keep + "/mlflow.txt", atomically: true, encoding: .utf8)
            try actual.joined(separator: "\n").write(toFile: keep + "/swiftflow.txt", atomically: true, encoding: .utf8)
        }
        for (index, line) in expected.enumerated() {
            #expect(index < actual.count && actual[index] == line, "line \(index): mlflow said \(line)")
        }
        #expect(actual.count == expected.count)
    }

    @Test("configuration comes from MLflow's environment variables")
    func configuration() throws {
        let config = try ClientConfiguration.fromEnvironment([
            "MLFLOW_TRACKING_URI": "https://mlflow.example.com/", "MLFLOW_TRACKING_USERNAME": "ada",
            "MLFLOW_TRACKING_PASSWORD": "secret", "MLFLOW_TRACKING_INSECURE_TLS": "true",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5", "MLFLOW_EXPERIMENT_NAME": "exp", "MLFLOW_RUN_ID": "abc",
        ])
        #expect(config.trackingURI == "https://mlflow.example.com")
        #expect(config.credentials == .basic(username: "ada", password: "secret"))
        #expect(config.insecureTLS && config.maxRetries == 3 && config.backoffFactor == 1)
        #expect(config.requestTimeout == .seconds(5))
        #expect(config.experimentName == "exp" && config.runId == "abc")
        let token = try ClientConfiguration.fromEnvironment(["MLFLOW_TRACKING_URI": "http://h:1", "MLFLOW_TRACKING_TOKEN": "t"])
        #expect(token.credentials == .bearer(token: "t"))
        #expect(token.maxRetries == 7 && token.backoffFactor == 2 && !token.insecureTLS)
        #expect(throws: SwiftflowError.self) { try ClientConfiguration.fromEnvironment([:]) }
        #expect(throws: SwiftflowError.self) { try ClientConfiguration.fromEnvironment(["MLFLOW_TRACKING_URI": "./mlruns"]) }
        #expect(throws: SwiftflowError.self) {
            try ClientConfiguration.fromEnvironment(["MLFLOW_TRACKING_URI": "http://h", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "many"])
        }
    }

    static let experimentBody = #"{"experiment": {"experiment_id": "7", "name": "retried", "artifact_location": "x", "lifecycle_stage": "active"}}"#

    @Test("429 and 5xx answers are retried with backoff, Retry-After is honoured, 4xx are not retried")
    func retries() async throws {
        let flaky = try ScriptedHTTPServer([
            .init(status: 503), .init(status: 429, headers: ["Retry-After": "0"], body: #"{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}"#),
            .init(status: 502), .init(status: 200, body: Self.experimentBody),
        ])
        defer { flaky.stop() }
        let config = try ClientConfiguration(trackingURI: "http://127.0.0.1:\(flaky.port)", maxRetries: 3,
                                             backoffFactor: 0.01, backoffJitter: 0)
        let experiment = try await MlflowClient(configuration: config).getExperiment(id: "7")
        #expect(experiment.name == "retried")
        #expect(flaky.requests.count == 4)

        let limited = try ScriptedHTTPServer(Array(repeating: .init(
            status: 429, headers: ["Retry-After": "0"], body: #"{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}"#),
            count: 3))
        defer { limited.stop() }
        let once = try ClientConfiguration(trackingURI: "http://127.0.0.1:\(limited.port)", maxRetries: 1, backoffJitter: 0)
        let code = await thrownCode { _ = try await MlflowClient(configuration: once).getExperiment(id: "7") }
        #expect(code == .requestLimitExceeded)
        #expect(limited.requests.count == 2)

        let refused = try ScriptedHTTPServer([
            .init(status: 404, body: #"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No Experiment with id=7 exists"}"#),
        ])
        defer { refused.stop() }
        let noRetry = try ClientConfiguration(trackingURI: "http://127.0.0.1:\(refused.port)", maxRetries: 5)
        do {
            _ = try await MlflowClient(configuration: noRetry).getExperiment(id: "7")
            Issue.record("a 404 answer did not throw")
        } catch {
            #expect(error.code == .resourceDoesNotExist && error.message == "No Experiment with id=7 exists")
        }
        #expect(refused.requests.count == 1)
    }

    @Test("the fluent layer batches metrics: 20,000 points take few requests, all arrive")
    func batching() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let client = try MlflowClient(trackingURI: server.base, environment: [:])
        var traffic = (points: 0, requests: 0)
        let runId = try await Swiftflow.withRun(experiment: "batching", client: client) { run in
            for step in 0..<20_000 { try await run.log(metric: "x", Double(step), step: Int64(step)) }
            try await run.flush()
            traffic = await run.metricTraffic
            return run.id
        }
        #expect(traffic.points == 20_000)
        #expect(traffic.requests >= 20 && traffic.requests <= 200, "requests: \(traffic.requests)")
        #expect(try await client.getMetricHistory(runId: runId, key: "x").count == 20_000)
        #expect(try await client.getRun(id: runId).info.status == .finished)
    }

    @Test("a refused batch fails the run and surfaces its error")
    func refusedBatch() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let client = try MlflowClient(trackingURI: server.base, environment: [:])
        var runId = ""
        do {
            try await Swiftflow.withRun(experiment: "refused", client: client) { run in
                runId = run.id
                try await run.log(metric: "bad key ../..", 1)
            }
            Issue.record("an invalid metric key was accepted")
        } catch let error as SwiftflowError {
            #expect(error.code == .invalidParameterValue)
        }
        #expect(try await client.getRun(id: runId).info.status == .failed)
    }

    @Test("MLFLOW_RUN_ID resumes a run; MLFLOW_EXPERIMENT_NAME picks the experiment")
    func environmentRuns() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let named = try MlflowClient(environment: ["MLFLOW_TRACKING_URI": server.base, "MLFLOW_EXPERIMENT_NAME": "from-env"])
        let runId = try await Swiftflow.withRun(client: named) { run in
            try await run.log(param: "p", "1")
            return run.id
        }
        let experiment = try #require(try await named.getExperiment(byName: "from-env"))
        #expect(try await named.getRun(id: runId).info.experimentId == experiment.experimentId)
        let resuming = try MlflowClient(environment: ["MLFLOW_TRACKING_URI": server.base, "MLFLOW_RUN_ID": runId])
        try await Swiftflow.withRun(client: resuming) { run in
            #expect(run.id == runId)
            try await run.log(metric: "m", 2)
        }
        let resumed = try await named.getRun(id: runId)
        #expect(resumed.info.status == .finished && resumed.metrics.map(\.key) == ["m"])
    }

    /// Large files in parts through the server into S3 (moto): the object must be a multipart one
    /// (its ETag ends in `-<parts>`) and download byte for byte. A local store has no multipart
    /// uploads (501, as MLflow's): the SDK falls back to one streamed PUT.
    @Test("multipart uploads through the proxy into S3, and the fallback to PUT on a local store",
          .enabled(if: ProcessInfo.processInfo.environment["SWIFTFLOW_TEST_S3_ENDPOINT"] != nil))
    func multipartUpload() async throws {
        let environment = ProcessInfo.processInfo.environment
        let endpoint = try #require(environment["SWIFTFLOW_TEST_S3_ENDPOINT"])
        let bucket = environment["SWIFTFLOW_TEST_S3_BUCKET"] ?? "swiftflow-test"
        let prefix = "sdk-multipart-\(UUID().uuidString)"
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let big = URL(fileURLWithPath: folder.path + "/big.bin")
        let blob = Data((0..<(11 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ ($0 >> 12)) })
        try blob.write(to: big)
        var options = ServerProcess.defaultOptions(dataFolder: folder.path)
        options[options.firstIndex(of: "--artifacts-destination")! + 1] = "s3://\(bucket)/\(prefix)"
        let server = try await ServerProcess.started(
            dataFolder: folder.path, options: options, environment: ["MLFLOW_S3_ENDPOINT_URL": endpoint])
        defer { server.stop() }
        var config = try ClientConfiguration.fromEnvironment([
            "MLFLOW_TRACKING_URI": server.base, "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
            "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": String(1024 * 1024),
            "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": String(5 * 1024 * 1024),
        ])
        config.maxRetries = 2
        let client = MlflowClient(configuration: config)
        let run = try await client.createRun(experimentId: "0", runName: "big")
        try await client.logArtifact(runId: run.info.runId, localFile: big, artifactPath: "weights")
        #expect(try await client.listArtifacts(runId: run.info.runId, path: "weights").map(\.fileSize) == [Int64(blob.count)])
        let copy = try await client.downloadArtifacts(runId: run.info.runId, path: "weights/big.bin",
                                                      to: URL(fileURLWithPath: folder.path + "/down"))
        #expect(try Data(contentsOf: copy) == blob)
        // moto keeps S3's multipart ETag: the MD5 of the parts' MD5s, then "-3" for three parts.
        let key = "\(prefix)/0/\(run.info.runId)/artifacts/weights/big.bin"
        var head = URLRequest(url: URL(string: "\(endpoint)/\(bucket)/\(key)")!)
        head.httpMethod = "HEAD"
        let (_, response) = try await URLSession.shared.data(for: head)
        let etag = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "ETag") ?? ""
        #expect(etag.replacingOccurrences(of: "\"", with: "").hasSuffix("-3"), "ETag \(etag)")

        // The same client against a local artifact folder: create answers 501, the file goes as one PUT.
        let local = try TemporaryFolder()
        defer { local.remove() }
        let plain = try await ServerProcess.started(dataFolder: local.path)
        defer { plain.stop() }
        var localConfig = config
        localConfig.trackingURI = plain.base
        let localClient = MlflowClient(configuration: localConfig)
        let localRun = try await localClient.createRun(experimentId: "0", runName: "big-local")
        try await localClient.logArtifact(runId: localRun.info.runId, localFile: big)
        let stored = try Data(contentsOf: URL(fileURLWithPath:
            "\(local.path)/artifacts/0/\(localRun.info.runId)/artifacts/big.bin"))
        #expect(stored == blob)
    }
}
