import Foundation
import SwiftflowCore
import SwiftflowStore
import Testing

// Expected behaviour below was checked against MLflow 3.17.2's SQL store and server.

/// An experiment and a run in it, for logged-model tests.
private func experimentAndRun(_ store: SQLTrackingStore, _ name: String) async throws -> (experiment: String, run: String) {
    let experiment = try await store.createExperiment(name: name, artifactLocation: nil, tags: [])
    let run = try await store.createRun(experimentId: experiment, userId: "u", startTime: 1, runName: nil, tags: [])
    return (experiment, run.info.runId)
}

/// Creates a model with only the fields that matter to a test.
private func createModel(
    _ store: SQLTrackingStore, _ experiment: String, name: String? = nil, params: [KeyValue] = [], tags: [KeyValue] = []
) async throws -> LoggedModel {
    try await store.createLoggedModel(
        experimentId: experiment, name: name, modelType: "", sourceRunId: "", params: params, tags: tags)
}

/// The names of one search page, for `filter`.
private func names(
    _ store: SQLTrackingStore, _ experiment: String, _ filter: String? = nil, order: [LoggedModelOrderRequest] = [],
    datasets: [(name: String?, digest: String?)] = []
) async throws -> [String] {
    let search = try LoggedModelSearch(
        experimentIds: [experiment], filter: filter, datasets: datasets, maxResults: nil, orderBy: order, pageToken: nil)
    return try await store.searchLoggedModels(search).items.map(\.name)
}

@Suite("Embedded store: logged models")
struct LoggedModelStoreTests {
    @Test("create gives a pending model under the experiment's artifact location, with sorted params and tags", arguments: Backend.all)
    func create(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, run) = try await experimentAndRun(store, "create")
            let model = try await store.createLoggedModel(
                experimentId: experiment, name: "mymodel", modelType: "agent", sourceRunId: run,
                params: [KeyValue("b", "2"), KeyValue("a", "1")], tags: [KeyValue("t2", "v"), KeyValue("t1", "w")])
            #expect(model.modelId.hasPrefix("m-") && model.modelId.count == 34)
            #expect(model.modelId.dropFirst(2).allSatisfy { $0.isHexDigit && !$0.isUppercase })
            #expect(model.artifactLocation == "mlflow-artifacts:/\(experiment)/models/\(model.modelId)/artifacts")
            #expect(model.status == .pending && model.modelType == "agent" && model.sourceRunId == run)
            #expect(model.params == [KeyValue("a", "1"), KeyValue("b", "2")])
            #expect(model.tags == [KeyValue("t1", "w"), KeyValue("t2", "v")])
            #expect(try await store.getLoggedModel(id: model.modelId, allowDeleted: false) == model)

            let unnamed = try await createModel(store, experiment)
            #expect(unnamed.name.split(separator: "-").count == 3)
        }
    }

    @Test("create refuses bad names, unknown or deleted experiments and repeated keys", arguments: Backend.all)
    func createErrors(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, _) = try await experimentAndRun(store, "create-errors")
            #expect(await errorCode { _ = try await createModel(store, experiment, name: "a.b") } == "INVALID_PARAMETER_VALUE")
            #expect(await errorCode { _ = try await createModel(store, "999") } == "RESOURCE_DOES_NOT_EXIST")
            #expect(await errorCode { _ = try await createModel(store, "abc") } == "INVALID_PARAMETER_VALUE")
            #expect(await errorCode {
                _ = try await createModel(store, experiment, params: [KeyValue("a", "1"), KeyValue("a", "2")])
            } == "BAD_REQUEST")
            try await store.deleteExperiment(id: experiment)
            #expect(await errorCode { _ = try await createModel(store, experiment) } == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("finalize, tags and params; unknown ids are RESOURCE_DOES_NOT_EXIST", arguments: Backend.all)
    func updates(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, _) = try await experimentAndRun(store, "updates")
            let id = try await createModel(store, experiment, params: [KeyValue("a", "1")]).modelId
            let ready = try await store.finalizeLoggedModel(id: id, status: .ready)
            #expect(ready.status == .ready)

            try await store.setLoggedModelTags(id: id, tags: [KeyValue("k", "1"), KeyValue("k", "2"), KeyValue("", "x")])
            try await store.setLoggedModelTags(id: id, tags: [KeyValue("j", "v")])
            #expect(try await store.getLoggedModel(id: id, allowDeleted: false).tags
                == [KeyValue("", "x"), KeyValue("j", "v"), KeyValue("k", "2")])
            try await store.deleteLoggedModelTag(id: id, key: "k")
            #expect(await errorCode { try await store.deleteLoggedModelTag(id: id, key: "k") } == "RESOURCE_DOES_NOT_EXIST")

            try await store.logLoggedModelParams(id: id, params: [KeyValue("b", "2")])
            #expect(await errorCode { try await store.logLoggedModelParams(id: id, params: [KeyValue("a", "1")]) }
                == "BAD_REQUEST")
            #expect(try await store.getLoggedModel(id: id, allowDeleted: false).params == [KeyValue("a", "1"), KeyValue("b", "2")])

            for body: () async throws -> Void in [
                { _ = try await store.getLoggedModel(id: "m-nope", allowDeleted: true) },
                { _ = try await store.finalizeLoggedModel(id: "m-nope", status: .ready) },
                { try await store.deleteLoggedModel(id: "m-nope") },
                { try await store.setLoggedModelTags(id: "m-nope", tags: []) },
                { try await store.deleteLoggedModelTag(id: "m-nope", key: "k") },
                { try await store.logLoggedModelParams(id: "m-nope", params: []) },
            ] {
                #expect(await errorCode(body) == "RESOURCE_DOES_NOT_EXIST")
            }
        }
    }

    @Test("deleted models are hidden from get and search but still take writes, as in MLflow", arguments: Backend.all)
    func deletion(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, _) = try await experimentAndRun(store, "deletion")
            let kept = try await createModel(store, experiment, name: "kept")
            let gone = try await createModel(store, experiment, name: "gone")
            try await store.deleteLoggedModel(id: gone.modelId)
            try await store.deleteLoggedModel(id: gone.modelId)
            #expect(await errorCode { _ = try await store.getLoggedModel(id: gone.modelId, allowDeleted: false) }
                == "RESOURCE_DOES_NOT_EXIST")
            #expect(try await store.getLoggedModel(id: gone.modelId, allowDeleted: true).lifecycleStage == .deleted)
            try await store.setLoggedModelTags(id: gone.modelId, tags: [KeyValue("after", "delete")])
            #expect(try await names(store, experiment) == [kept.name])
        }
    }

    @Test("search: attribute, metric, param and tag filters, datasets, order and paging", arguments: Backend.all)
    func search(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, run) = try await experimentAndRun(store, "search")
            let alpha = try await createModel(store, experiment, name: "alpha", params: [KeyValue("lr", "0.1")],
                                              tags: [KeyValue("team", "a")])
            // Distinct creation times keep the default order (newest first) deterministic.
            try await Task.sleep(for: .milliseconds(3))
            let beta = try await createModel(store, experiment, name: "beta", params: [KeyValue("lr", "0.2")])
            try await Task.sleep(for: .milliseconds(3))
            _ = try await createModel(store, experiment, name: "gamma")
            _ = try await store.finalizeLoggedModel(id: beta.modelId, status: .ready)
            let link = { (id: String, dataset: String?) in
                MetricLink(modelId: id, datasetName: dataset, datasetDigest: dataset.map { _ in "d" })
            }
            try await store.logBatch(runId: run, metrics: [
                Metric(key: "acc", value: 0.9, timestamp: 10, step: 0, link: link(alpha.modelId, "eval")),
                Metric(key: "acc", value: 0.5, timestamp: 20, step: 0, link: link(alpha.modelId, nil)),
                Metric(key: "acc", value: 0.7, timestamp: 10, step: 0, link: link(beta.modelId, "eval")),
            ], params: [], tags: [])

            #expect(try await names(store, experiment) == ["gamma", "beta", "alpha"])
            #expect(try await names(store, experiment, "name = 'beta'") == ["beta"])
            #expect(try await names(store, experiment, "name LIKE 'A%'").isEmpty)
            #expect(try await names(store, experiment, "name ILIKE 'A%'") == ["alpha"])
            #expect(try await names(store, experiment, "name IN ('alpha', 'gamma')") == ["gamma", "alpha"])
            #expect(try await names(store, experiment, "status = 2") == ["beta"])
            #expect(try await names(store, experiment, "status = 'LOGGED_MODEL_READY'").isEmpty)
            #expect(try await names(store, experiment, "params.lr = 0.1") == ["alpha"])
            #expect(try await names(store, experiment, "tags.team != 'b'") == ["alpha"])
            #expect(try await names(store, experiment, "metrics.acc > 0.6") == ["beta", "alpha"])
            #expect(try await names(store, experiment, "metrics.acc > 0.6", datasets: [(name: "eval", digest: "d")])
                == ["beta", "alpha"])
            #expect(try await names(store, experiment, "metrics.acc < 0.6", datasets: [(name: "eval", digest: "d")]).isEmpty)
            // As MLflow's server reads it, a dataset without digest means "metrics logged without one".
            #expect(try await names(store, experiment, datasets: [(name: "eval", digest: nil)]).isEmpty)
            #expect(try await names(store, experiment, datasets: [(name: "eval", digest: "d")]) == ["beta", "alpha"])
            #expect(try await names(store, experiment, "creation_time > 0 AND model_type = ''").count == 3)

            // Latest value first (alpha's is 0.5 at timestamp 20); models without the metric last either way.
            let byAcc = [LoggedModelOrderRequest(fieldName: "metrics.acc")]
            #expect(try await names(store, experiment, order: byAcc) == ["alpha", "beta", "gamma"])
            let byAccDescending = [LoggedModelOrderRequest(fieldName: "metrics.acc", ascending: false)]
            #expect(try await names(store, experiment, order: byAccDescending) == ["beta", "alpha", "gamma"])
            let byEvalAcc = [LoggedModelOrderRequest(fieldName: "metrics.acc", datasetName: "eval", datasetDigest: "d")]
            #expect(try await names(store, experiment, order: byEvalAcc) == ["beta", "alpha", "gamma"])
            #expect(try await names(store, experiment, order: [LoggedModelOrderRequest(fieldName: "name")])
                == ["alpha", "beta", "gamma"])

            var token: String?
            var seen: [String] = []
            repeat {
                let page = try await store.searchLoggedModels(try LoggedModelSearch(
                    experimentIds: [experiment], filter: nil, datasets: [], maxResults: 2, orderBy: [], pageToken: token))
                seen += page.items.map(\.name)
                token = page.nextPageToken
            } while token != nil
            #expect(seen == ["gamma", "beta", "alpha"])
            #expect(await errorCode {
                _ = try await store.searchLoggedModels(try LoggedModelSearch(
                    experimentIds: ["abc"], filter: nil, datasets: [], maxResults: nil, orderBy: [], pageToken: nil))
            } == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("metrics logged with a model_id are recorded on the model too, all or nothing", arguments: Backend.all)
    func modelMetrics(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, run) = try await experimentAndRun(store, "model-metrics")
            let id = try await createModel(store, experiment).modelId
            let link = MetricLink(modelId: id, datasetName: "ds", datasetDigest: "dg")
            try await store.logBatch(runId: run, metrics: [
                Metric(key: "acc", value: 0.5, timestamp: 100, step: 1, link: link),
                Metric(key: "acc", value: .nan, timestamp: 200, step: 2, link: MetricLink(modelId: id, datasetName: nil, datasetDigest: nil)),
                Metric(key: "plain", value: 1, timestamp: 1, step: 0),
            ], params: [], tags: [])
            // The same point again is fine; a different value for it is not.
            try await store.logBatch(runId: run, metrics: [Metric(key: "acc", value: 0.5, timestamp: 100, step: 1, link: link)],
                                     params: [], tags: [])
            #expect(await errorCode {
                try await store.logBatch(runId: run, metrics: [Metric(key: "acc", value: 0.6, timestamp: 100, step: 1, link: link)],
                                         params: [], tags: [])
            } == "BAD_REQUEST")
            #expect(await errorCode {
                try await store.logBatch(runId: run, metrics: [
                    Metric(key: "new", value: 1, timestamp: 1, step: 0),
                    Metric(key: "new", value: 1, timestamp: 1, step: 0,
                           link: MetricLink(modelId: "m-nope", datasetName: nil, datasetDigest: nil)),
                ], params: [], tags: [])
            } == "BAD_REQUEST")

            let metrics = try await store.getLoggedModel(id: id, allowDeleted: false).metrics
            #expect(metrics.map(\.key) == ["acc", "acc"])
            #expect(metrics.map(\.value) == [0.5, 0])  // MLflow keeps a model's NaN as 0
            #expect(metrics[0].link == MetricLink(modelId: id, datasetName: "ds", datasetDigest: "dg", runId: run))
            #expect(metrics[1].link == MetricLink(modelId: id, datasetName: nil, datasetDigest: nil, runId: run))
            let runMetrics = try await store.getRun(id: run).metrics
            #expect(Set(runMetrics.map(\.key)) == ["acc", "plain"])  // nothing of the refused batch
            #expect(runMetrics.allSatisfy { $0.link == nil })
        }
    }

    @Test("run outputs and model inputs show in get-run; search shows outputs only, as MLflow", arguments: Backend.all)
    func outputsAndInputs(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let (experiment, run) = try await experimentAndRun(store, "outputs")
            let id = try await createModel(store, experiment).modelId
            try await store.logOutputs(runId: run, models: [LoggedModelOutput(modelId: id, step: 3),
                                                            LoggedModelOutput(modelId: "m-unknown", step: 0)])
            #expect(await errorCode { try await store.logOutputs(runId: run, models: [LoggedModelOutput(modelId: id, step: 4)]) }
                == "BAD_REQUEST")
            #expect(await errorCode { try await store.logOutputs(runId: "nope", models: []) } == "RESOURCE_DOES_NOT_EXIST")
            try await store.logInputs(runId: run, inputs: [], models: [LoggedModelInput(modelId: id), LoggedModelInput(modelId: "m-z")])
            try await store.logInputs(runId: run, inputs: [], models: [LoggedModelInput(modelId: id)])

            let fetched = try await store.getRun(id: run)
            #expect(fetched.modelOutputs == [LoggedModelOutput(modelId: id, step: 3), LoggedModelOutput(modelId: "m-unknown", step: 0)])
            #expect(fetched.modelInputs == [LoggedModelInput(modelId: id), LoggedModelInput(modelId: "m-z")])
            let found = try await store.searchRuns(
                experimentIds: [experiment], filter: SearchFilter(), viewType: .activeOnly, maxResults: 10, orderBy: [],
                pageToken: nil).items
            #expect(found.first?.modelOutputs.count == 2)
            #expect(found.first?.modelInputs.isEmpty == true)
        }
    }

    @Test("a version registered from a logged model takes its location and run, and is listed on the model", arguments: Backend.all)
    func registryLink(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let registry = SQLRegistryStore(sharing: store)
            let (experiment, run) = try await experimentAndRun(store, "registry")
            let model = try await store.createLoggedModel(
                experimentId: experiment, name: "m", modelType: "", sourceRunId: run, params: [], tags: [])
            _ = try await registry.createRegisteredModel(name: "reg", tags: [], description: nil)
            let version = try await registry.createModelVersion(
                name: "reg", source: "models:/\(model.modelId)", runId: "", tags: [], runLink: "", description: "",
                modelId: model.modelId)
            #expect(version.runId == run)
            #expect(try await registry.getModelVersionDownloadURI(name: "reg", version: "1") == model.artifactLocation)
            try await store.recordModelVersion(modelId: model.modelId, name: "reg", version: version.version)
            try await store.recordModelVersion(modelId: model.modelId, name: "reg", version: version.version)
            try await store.recordModelVersion(modelId: model.modelId, name: "reg", version: 2)
            #expect(try await store.getLoggedModel(id: model.modelId, allowDeleted: false).tags
                == [KeyValue(LoggedModelTags.modelVersions, #"[{"name": "reg", "version": 1}, {"name": "reg", "version": 2}]"#)])
            #expect(await errorCode {
                _ = try await registry.createModelVersion(
                    name: "reg", source: "models:/m-nope", runId: "", tags: [], runLink: "", description: "", modelId: "m-nope")
            } == "INTERNAL_ERROR")
        }
    }
}
