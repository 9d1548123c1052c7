import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `runs/*` and `metrics/*` of MLflow's REST API.
struct RunRoutes {
    let store: any TrackingStore

    func register(on api: APIRouter) {
        let store = self.store
        api.on(.post, "/runs/create") { request in
            let run = try await store.createRun(
                experimentId: try request.string("experiment_id") ?? "0",
                userId: try request.string("user_id") ?? "",
                startTime: try request.int64("start_time") ?? 0,
                runName: try request.string("run_name"),
                tags: try request.keyValues("tags"))
            return JSONResponse.make { w in
                w.beginObject(); w.key("run"); w.run(run, includeOutputs: false); w.endObject()
            }
        }
        api.on(.get, "/runs/get") { request in
            let run = try await store.getRun(id: try request.requiredString("run_id", "run_uuid"))
            return JSONResponse.make { w in
                w.beginObject(); w.key("run"); w.run(run); w.endObject()
            }
        }
        api.on(.post, "/runs/update") { request in
            var status: RunStatus?
            if let value = request.value("status") {
                guard case .string(let text) = value, let parsed = RunStatus(wireValue: text) else {
                    throw MLflowRequest.invalidType("status", value)
                }
                status = parsed
            }
            let info = try await store.updateRun(
                id: try request.requiredString("run_id", "run_uuid"), status: status,
                endTime: try request.int64("end_time"), runName: try request.string("run_name"))
            return JSONResponse.make { w in
                w.beginObject(); w.key("run_info"); w.runInfo(info); w.endObject()
            }
        }
        api.on(.post, "/runs/delete") { request in
            try await store.deleteRun(id: try request.requiredString("run_id"))
            return JSONResponse.empty
        }
        api.on(.post, "/runs/restore") { request in
            try await store.restoreRun(id: try request.requiredString("run_id"))
            return JSONResponse.empty
        }
        api.on(.post, "/runs/set-tag") { request in
            try await store.setTag(
                runId: try request.requiredString("run_id", "run_uuid"),
                tag: RunTag(try request.requiredString("key"), try request.string("value") ?? ""))
            return JSONResponse.empty
        }
        api.on(.post, "/runs/delete-tag") { request in
            try await store.deleteTag(runId: try request.requiredString("run_id"), key: try request.requiredString("key"))
            return JSONResponse.empty
        }
        api.on(.post, "/runs/log-parameter") { request in
            let param = Param(try request.requiredString("key"), try request.string("value") ?? "")
            try await store.logBatch(
                runId: try request.requiredString("run_id", "run_uuid"), metrics: [], params: [param], tags: [])
            return JSONResponse.empty
        }
        api.on(.post, "/runs/log-metric") { request in
            let key = try request.requiredString("key")
            guard let value = try request.double("value") else {
                throw SwiftflowError.invalidParameter(Validation.missingValue("value"))
            }
            let timestamp = try request.requiredInt64("timestamp")
            let metric = Metric(
                key: key, value: value, timestamp: timestamp, step: try request.int64("step") ?? 0,
                link: try MetricLink.fromRequest(
                    modelId: try request.string("model_id"), datasetName: try request.string("dataset_name"),
                    datasetDigest: try request.string("dataset_digest")))
            try await store.logBatch(
                runId: try request.requiredString("run_id", "run_uuid"), metrics: [metric], params: [], tags: [])
            return JSONResponse.empty
        }
        api.on(.post, "/runs/log-batch") { request in
            let runId = try request.requiredString("run_id")
            let metrics = try request.objects("metrics").map { item throws(SwiftflowError) -> Metric in
                Metric(
                    key: try item.string("key") ?? "", value: try item.double("value") ?? 0,
                    timestamp: try item.int64("timestamp") ?? 0, step: try item.int64("step") ?? 0,
                    link: try MetricLink.fromRequest(
                        modelId: try item.string("model_id"), datasetName: try item.string("dataset_name"),
                        datasetDigest: try item.string("dataset_digest")))
            }
            try await store.logBatch(
                runId: runId, metrics: metrics, params: try request.keyValues("params"), tags: try request.keyValues("tags"))
            return JSONResponse.empty
        }
        api.on(.post, "/runs/log-inputs") { request in
            let runId = try request.requiredString("run_id")
            let inputs = try request.objects("datasets").map { item throws(SwiftflowError) -> DatasetInput in
                guard let dataset = try item.object("dataset") else {
                    throw SwiftflowError.invalidParameter(Validation.missingValue("dataset"))
                }
                return DatasetInput(
                    dataset: Dataset(
                        name: try dataset.requiredString("name"), digest: try dataset.requiredString("digest"),
                        sourceType: try dataset.requiredString("source_type"), source: try dataset.requiredString("source"),
                        schema: try dataset.string("schema"), profile: try dataset.string("profile")),
                    tags: try item.keyValues("tags"))
            }
            let models = try request.objects("models").map { item throws(SwiftflowError) in
                LoggedModelInput(modelId: try item.string("model_id") ?? "")
            }
            try await store.logInputs(runId: runId, inputs: inputs, models: models)
            return JSONResponse.empty
        }
        api.on(.get, "/metrics/get-history") { request in
            let maxResults = try request.int64("max_results")
            if let maxResults, maxResults <= 0 {
                throw SwiftflowError.invalidParameter(
                    "Invalid value \(maxResults) for parameter 'max_results' supplied. It must be a positive integer.")
            }
            let page = try await store.metricHistory(
                runId: try request.requiredString("run_id", "run_uuid"), key: try request.requiredString("metric_key"),
                maxResults: maxResults.map { Int(min($0, Int64(Int32.max))) }, pageToken: try request.string("page_token"))
            return JSONResponse.page(page, key: "metrics") { w, metric in w.metric(metric) }
        }
        api.on(.get, "/metrics/get-history-bulk-interval") { request in
            let runIds = try request.stringArray("run_ids")
            if runIds.isEmpty { throw SwiftflowError.invalidParameter(Validation.missingValue("run_ids")) }
            if runIds.count > Limits.maxRunsPerHistoryBulk {
                throw SwiftflowError.invalidParameter(
                    "GetMetricHistoryBulkInterval request must specify at most \(Limits.maxRunsPerHistoryBulk) run_ids. "
                        + "Received \(runIds.count) run_ids.\(Validation.seeTheDocs)")
            }
            let key = try request.requiredString("metric_key")
            let maxResults = try request.int64("max_results") ?? Int64(Limits.maxSampledPointsPerRun)
            guard (1...Int64(Limits.maxSampledPointsPerRun)).contains(maxResults) else {
                throw SwiftflowError.invalidParameter(
                    "max_results must be between 1 and \(Limits.maxSampledPointsPerRun).\(Validation.seeTheDocs)")
            }
            var steps: ClosedRange<Int64>?
            switch (try request.int64("start_step"), try request.int64("end_step")) {
            case (nil, nil): steps = nil
            case (let start?, let end?):
                guard start <= end else {
                    throw SwiftflowError.invalidParameter(
                        "end_step must be greater than start_step. Found start_step=\(start) and end_step=\(end).")
                }
                steps = start...end
            default:
                throw SwiftflowError.invalidParameter("If either start step or end step are specified, both must be specified.")
            }
            let points = try await store.sampledMetricHistory(
                runIds: runIds, key: key, maxResults: Int(maxResults), steps: steps)
            return JSONResponse.make { w in
                w.beginObject()
                w.repeatedField("metrics", points) { w, point in w.metricWithRunId(point) }
                w.endObject()
            }
        }
        // The UI's chart data (ajax only in MLflow): Flask's compact JSON with sorted keys.
        api.on(.get, "/metrics/get-history-bulk") { request in
            let runIds = try request.stringArray("run_id")
            if runIds.isEmpty {
                throw SwiftflowError.invalidParameter("GetMetricHistoryBulk request must specify at least one run_id.")
            }
            if runIds.count > Limits.maxRunsPerHistoryBulk {
                throw SwiftflowError.invalidParameter(
                    "GetMetricHistoryBulk request cannot specify more than \(Limits.maxRunsPerHistoryBulk) run_ids. "
                        + "Received \(runIds.count) run_ids.")
            }
            guard let key = try request.string("metric_key") else {
                throw SwiftflowError.invalidParameter("GetMetricHistoryBulk request must specify a metric_key.")
            }
            let maxResults = min(try request.int64("max_results") ?? Int64(Limits.maxHistoryBulkPoints),
                                 Int64(Limits.maxHistoryBulkPoints))
            let points = try await store.metricHistoryBulk(runIds: runIds, key: key, maxResults: Int(max(0, maxResults)))
            return JSONResponse.flask { w in
                w.beginObject()
                w.key("metrics")
                w.beginArray()
                for point in points {
                    w.beginObject()
                    w.field("key", point.metric.key)
                    w.field("run_id", point.runId)
                    w.field("step", point.metric.step)
                    w.field("timestamp", point.metric.timestamp)
                    w.key("value")
                    // Python's json writes a float NaN bare (protobuf's mapping would quote it).
                    if point.metric.value.isNaN { w.raw("NaN") } else { w.double(point.metric.value) }
                    w.endObject()
                }
                w.endArray()
                w.endObject()
            }
        }
        api.on(.post, "/runs/search") { request in
            let maxResults = try request.int64("max_results") ?? 1000
            if maxResults <= 0 || maxResults > Int64(Limits.maxRunsSearchResults) {
                throw SwiftflowError.invalidParameter(
                    "Invalid value \(maxResults) for parameter 'max_results' supplied. It must be at most "
                        + "\(Limits.maxRunsSearchResults), and greater than 0")
            }
            var experimentIds = try request.stringArray("experiment_ids")
            if let auth = request.auth {
                // As MLflow: experiments the caller may not read are silently left out of the search.
                experimentIds = try await auth.readableExperiments(experimentIds)
                if experimentIds.isEmpty { return JSONResponse.make { $0.beginObject(); $0.endObject() } }
            }
            let page = try await store.searchRuns(
                experimentIds: experimentIds,
                filter: try SearchFilter.parseRunFilter(try request.string("filter")),
                viewType: try viewType(request, "run_view_type"),
                maxResults: Int(maxResults),
                orderBy: try OrderByClause.parseRunOrderBy(try request.stringArray("order_by")),
                pageToken: try request.string("page_token"))
            return JSONResponse.page(page, key: "runs") { w, run in w.run(run) }
        }
    }
}
