import NIOHTTP1
import Foundation
import SwiftflowCore

extension MlflowClient {
    /// MLflow's limits on one `log-batch` request.
    public enum BatchLimits {
        public static let metrics = 1000
        public static let params = 100
        public static let tags = 100
        public static let total = 1000
    }

    /// Creates a run in `experimentId`; the server picks a name when `runName` is nil.
    public func createRun(
        experimentId: String, runName: String? = nil, startTime: Int64? = nil, tags: [String: String] = [:],
        userId: String? = nil
    ) async throws(SwiftflowError) -> Run {
        let answer = try await send(.POST, Self.api + "/runs/create") { w in
            w.field("experiment_id", experimentId)
            w.optionalField("user_id", userId)
            w.optionalField("run_name", runName)
            w.field("start_time", startTime ?? Self.now())
            w.keyValues("tags", Self.sorted(tags))
        }
        return try Run(wire: answer["run"])
    }

    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for an unknown run.
    public func getRun(id: String) async throws(SwiftflowError) -> Run {
        try await Run(wire: get(Self.api + "/runs/get", query: [("run_id", id)])["run"])
    }

    /// Changes a run's status, end time or name; answers the updated info.
    @discardableResult
    public func updateRun(
        id: String, status: RunStatus? = nil, endTime: Int64? = nil, runName: String? = nil
    ) async throws(SwiftflowError) -> RunInfo {
        let answer = try await send(.POST, Self.api + "/runs/update") { w in
            w.field("run_id", id)
            w.field("run_uuid", id)
            w.optionalField("status", status?.rawValue)
            w.optionalField("end_time", endTime)
            w.optionalField("run_name", runName)
        }
        return try RunInfo(wire: answer["run_info"])
    }

    /// Ends a run: `FINISHED` unless another terminal status is given, end time now unless given.
    public func setTerminated(
        runId: String, status: RunStatus = .finished, endTime: Int64? = nil
    ) async throws(SwiftflowError) {
        try await updateRun(id: runId, status: status, endTime: endTime ?? Self.now())
    }

    public func deleteRun(id: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/delete") { $0.field("run_id", id) }
    }

    public func restoreRun(id: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/restore") { $0.field("run_id", id) }
    }

    /// One page of runs of `experimentIds` matching `filter`
    /// (e.g. `metrics.loss < 0.5 and params.lr = '0.1'`), ordered by `orderBy` (e.g. `metrics.loss ASC`).
    public func searchRuns(
        experimentIds: [String], filter: String? = nil, viewType: ViewType = .activeOnly, maxResults: Int = 1000,
        orderBy: [String] = [], pageToken: String? = nil
    ) async throws(SwiftflowError) -> Page<Run> {
        let answer = try await send(.POST, Self.api + "/runs/search") { w in
            w.repeatedField("experiment_ids", experimentIds) { $0.string($1) }
            w.optionalField("filter", filter)
            w.field("run_view_type", viewType.rawValue)
            w.field("max_results", Int64(maxResults))
            w.repeatedField("order_by", orderBy) { $0.string($1) }
            w.optionalField("page_token", pageToken)
        }
        var runs: [Run] = []
        for item in try WireReader(answer, "answer").array("runs") { runs.append(try Run(wire: item)) }
        return Page(items: runs, nextPageToken: .pageToken(answer))
    }

    /// Logs one metric point (timestamp now unless given).
    public func logMetric(
        runId: String, key: String, value: Double, step: Int64 = 0, timestamp: Int64? = nil,
        modelId: String? = nil, datasetName: String? = nil, datasetDigest: String? = nil
    ) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/log-metric") { w in
            w.field("run_id", runId)
            w.field("run_uuid", runId)
            w.field("key", key)
            w.field("value", value)
            w.field("timestamp", timestamp ?? Self.now())
            w.field("step", step)
            w.optionalField("model_id", modelId)
            w.optionalField("dataset_name", datasetName)
            w.optionalField("dataset_digest", datasetDigest)
        }
    }

    /// Logs a param; params are immutable, so a different value for a logged key is `INVALID_PARAMETER_VALUE`.
    public func logParam(runId: String, key: String, value: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/log-parameter") { w in
            w.field("run_id", runId)
            w.field("run_uuid", runId)
            w.field("key", key)
            w.field("value", value)
        }
    }

    public func setTag(runId: String, key: String, value: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/set-tag") { w in
            w.field("run_id", runId)
            w.field("run_uuid", runId)
            w.field("key", key)
            w.field("value", value)
        }
    }

    public func deleteTag(runId: String, key: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/delete-tag") { w in
            w.field("run_id", runId)
            w.field("key", key)
        }
    }

    /// Logs metrics, params and tags in as few `log-batch` requests as MLflow's limits allow
    /// (1,000 metrics, 100 params, 100 tags, 1,000 entries per request), in order.
    public func logBatch(
        runId: String, metrics: [Metric] = [], params: [Param] = [], tags: [RunTag] = []
    ) async throws(SwiftflowError) {
        var metrics = metrics[...], params = params[...], tags = tags[...]
        repeat {
            let paramCount = min(params.count, BatchLimits.params)
            let tagCount = min(tags.count, BatchLimits.tags, BatchLimits.total - paramCount)
            let metricCount = min(metrics.count, BatchLimits.metrics, BatchLimits.total - paramCount - tagCount)
            let chunk = (metrics.prefix(metricCount), params.prefix(paramCount), tags.prefix(tagCount))
            metrics = metrics.dropFirst(metricCount)
            params = params.dropFirst(paramCount)
            tags = tags.dropFirst(tagCount)
            _ = try await transport.json(.POST, Self.api + "/runs/log-batch", body: Self.batchBody(runId, chunk))
        } while !(metrics.isEmpty && params.isEmpty && tags.isEmpty)
    }

    static func batchBody(
        _ runId: String, _ chunk: (ArraySlice<Metric>, ArraySlice<Param>, ArraySlice<RunTag>)
    ) -> [UInt8] {
        var w = JSONWriter(style: .compact, reserve: 128 + chunk.0.count * 96)
        w.beginObject()
        w.field("run_id", runId)
        w.repeatedField("metrics", chunk.0) { $0.metric($1) }
        w.keyValues("params", Array(chunk.1))
        w.keyValues("tags", Array(chunk.2))
        w.endObject()
        return w.bytes
    }

    /// Every logged point of `key` in the run, following pages.
    public func getMetricHistory(runId: String, key: String) async throws(SwiftflowError) -> [Metric] {
        var points: [Metric] = []
        var token: String?
        repeat {
            var query = [("run_id", runId), ("run_uuid", runId), ("metric_key", key), ("max_results", "25000")]
            if let token { query.append(("page_token", token)) }
            let answer = try await get(Self.api + "/metrics/get-history", query: query)
            for item in try WireReader(answer, "answer").array("metrics") { points.append(try Metric(wire: item)) }
            token = .pageToken(answer)
        } while token != nil
        return points
    }

    /// Records datasets (and logged models) the run used.
    public func logInputs(
        runId: String, datasets: [DatasetInput] = [], models: [LoggedModelInput] = []
    ) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/log-inputs") { w in
            w.field("run_id", runId)
            w.repeatedField("datasets", datasets) { w, input in
                w.beginObject()
                w.keyValues("tags", input.tags)
                w.key("dataset")
                w.dataset(input.dataset)
                w.endObject()
            }
            w.repeatedField("models", models) { w, model in
                w.beginObject()
                w.field("model_id", model.modelId)
                w.endObject()
            }
        }
    }

    /// Records logged models the run produced, at `step`.
    public func logOutputs(runId: String, models: [LoggedModelOutput]) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/runs/outputs") { w in
            w.field("run_id", runId)
            w.repeatedField("models", models) { w, model in
                w.beginObject()
                w.field("model_id", model.modelId)
                w.field("step", model.step)
                w.endObject()
            }
        }
    }

    /// Milliseconds since the epoch, the unit of every MLflow timestamp.
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
