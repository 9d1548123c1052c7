import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `experiments/*` of MLflow's REST API.
struct ExperimentRoutes {
    let store: any TrackingStore

    func register(on api: APIRouter) {
        let store = self.store
        api.on(.post, "/experiments/create") { request in
            let id = try await store.createExperiment(
                name: try request.requiredString("name"),
                artifactLocation: try request.string("artifact_location"),
                tags: try request.keyValues("tags"))
            try await request.auth?.grantCreator(.experiment, id)
            return JSONResponse.make { $0.beginObject(); $0.field("experiment_id", id); $0.endObject() }
        }
        // The UI's dataset list (ajax only in MLflow).
        api.on(.post, "/experiments/search-datasets") { request in
            let ids = try request.stringArray("experiment_ids")
            if ids.isEmpty {
                throw SwiftflowError.invalidParameter("SearchDatasets request must specify at least one experiment_id.")
            }
            if ids.count > 20 {
                throw SwiftflowError.invalidParameter(
                    "SearchDatasets request cannot specify more than 20 experiment_ids. Received \(ids.count) experiment_ids.")
            }
            let summaries = try await store.searchDatasets(experimentIds: ids)
            return JSONResponse.make { w in
                w.beginObject()
                w.repeatedField("dataset_summaries", summaries) { w, summary in
                    w.beginObject()
                    w.field("experiment_id", summary.experimentId)
                    w.field("name", summary.name)
                    w.field("digest", summary.digest)
                    w.optionalField("context", summary.context)
                    w.endObject()
                }
                w.endObject()
            }
        }
        api.on(.get, "/experiments/get") { request in
            let experiment = try await store.getExperiment(id: try request.requiredString("experiment_id"))
            return JSONResponse.make { w in
                w.beginObject(); w.key("experiment"); w.experiment(experiment); w.endObject()
            }
        }
        api.on(.get, "/experiments/get-by-name") { request in
            let name = try request.requiredString("experiment_name")
            guard let experiment = try await store.getExperiment(name: name) else {
                throw SwiftflowError.notFound("Could not find experiment with name '\(name)'")
            }
            return JSONResponse.make { w in
                w.beginObject(); w.key("experiment"); w.experiment(experiment); w.endObject()
            }
        }
        api.on(.post, "/experiments/update") { request in
            let id = try request.requiredString("experiment_id")
            if let newName = try request.string("new_name"), !newName.isEmpty {
                try await store.renameExperiment(id: id, newName: newName)
            } else {
                _ = try await store.getExperiment(id: id)
            }
            return JSONResponse.empty
        }
        api.on(.post, "/experiments/delete") { request in
            try await store.deleteExperiment(id: try request.requiredString("experiment_id"))
            return JSONResponse.empty
        }
        api.on(.post, "/experiments/restore") { request in
            try await store.restoreExperiment(id: try request.requiredString("experiment_id"))
            return JSONResponse.empty
        }
        api.on(.post, "/experiments/set-experiment-tag") { request in
            try await store.setExperimentTag(
                id: try request.requiredString("experiment_id"),
                tag: ExperimentTag(try request.requiredString("key"), try request.string("value") ?? ""))
            return JSONResponse.empty
        }
        api.on(.post, "/experiments/delete-experiment-tag") { request in
            try await store.deleteExperimentTag(
                id: try request.requiredString("experiment_id"), key: try request.requiredString("key"))
            return JSONResponse.empty
        }
        let search: APIRouter.Handler = { request in
            let maxResults = try request.int64("max_results") ?? 0
            if maxResults <= 0 {
                throw SwiftflowError.invalidParameter(
                    "Invalid value \(maxResults) for parameter 'max_results' supplied. It must be a positive integer")
            }
            if maxResults > Int64(Limits.maxExperimentsListedPerPage) {
                throw SwiftflowError.invalidParameter(
                    "Invalid value \(maxResults) for parameter 'max_results' supplied. It must be at most "
                        + "\(Limits.maxExperimentsListedPerPage)")
            }
            let page = try await store.searchExperiments(
                filter: try SearchFilter.parseExperimentFilter(try request.string("filter")),
                viewType: try viewType(request, "view_type"),
                maxResults: Int(maxResults),
                orderBy: try OrderByClause.parseExperimentOrderBy(try request.stringArray("order_by")),
                pageToken: try request.string("page_token"),
                visibility: try await request.auth?.visibility(.experiment) ?? .all)
            return JSONResponse.page(page, key: "experiments") { w, experiment in w.experiment(experiment) }
        }
        api.on(.post, "/experiments/search", search)
        api.on(.get, "/experiments/search", search)
    }
}

/// Reads a `ViewType` field by name or number; absent means ACTIVE_ONLY.
func viewType(_ request: MLflowRequest, _ name: String) throws(SwiftflowError) -> ViewType {
    guard let value = request.value(name) else { return .activeOnly }
    switch value {
    case .string(let text), .number(let text):
        guard let viewType = ViewType(wireValue: text) else { throw MLflowRequest.invalidType(name, value) }
        return viewType
    default:
        throw MLflowRequest.invalidType(name, value)
    }
}
