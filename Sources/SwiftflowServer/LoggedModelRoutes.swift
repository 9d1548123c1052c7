import Foundation
import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `logged-models/*` and `runs/outputs` of MLflow's REST API (MLflow 3 logged models).
///
/// Fields are read as MLflow's handlers read them: the model id comes from the path, except for
/// finalize, which (like MLflow) acts on the body's `model_id`; logging params also insists on a body
/// `model_id` but uses the path's.
struct LoggedModelRoutes {
    let store: any TrackingStore

    func register(on api: APIRouter) {
        let store = self.store
        api.on(.post, "/logged-models") { request in
            let model = try await store.createLoggedModel(
                experimentId: try request.requiredString("experiment_id"),
                name: try request.string("name").flatMap { $0.isEmpty ? nil : $0 },
                modelType: try request.string("model_type") ?? "",
                sourceRunId: try request.string("source_run_id") ?? "",
                params: try Self.keyValues(request, "params"),
                tags: try Self.keyValues(request, "tags"))
            return Self.respond(model)
        }
        let get: APIRouter.Handler = { request in
            // MLflow reads this flag by hand: anything but "true" (any case) is false.
            let allowDeleted = (try? request.string("allow_deleted"))?.lowercased() == "true"
            let model = try await store.getLoggedModel(
                id: request.pathParameters["model_id"] ?? "search", allowDeleted: allowDeleted)
            return Self.respond(model)
        }
        api.on(.get, "/logged-models/{model_id}", get)
        // Only POST is the search; MLflow's router hands a GET of that path to get, as a model id.
        api.on(.get, "/logged-models/search", get)
        api.on(.patch, "/logged-models/{model_id}") { request in
            let modelId = try request.requiredString("model_id")
            let model = try await store.finalizeLoggedModel(id: modelId, status: try Self.status(request))
            return Self.respond(model)
        }
        api.on(.delete, "/logged-models/{model_id}") { request in
            try await store.deleteLoggedModel(id: request.pathParameter("model_id"))
            return JSONResponse.empty
        }
        api.on(.post, "/logged-models/search") { request in
            guard request.value("experiment_ids") != nil else {
                throw SwiftflowError.invalidParameter(Validation.missingValue("experiment_ids"))
            }
            let datasets = try request.objects("datasets").map { item throws(SwiftflowError) in
                (name: try item.string("dataset_name"), digest: try item.string("dataset_digest"))
            }
            let orderBy = try request.objects("order_by").map { item throws(SwiftflowError) in
                LoggedModelOrderRequest(
                    fieldName: try item.string("field_name") ?? "", ascending: try item.bool("ascending") ?? true,
                    datasetName: try item.string("dataset_name"), datasetDigest: try item.string("dataset_digest"))
            }
            var experimentIds = try request.stringArray("experiment_ids")
            if let auth = request.auth {
                // Models of experiments the caller may not read are left out, as MLflow filters them.
                experimentIds = try await auth.readableExperiments(experimentIds, tier: .loggedModel)
                if experimentIds.isEmpty { return JSONResponse.make { $0.beginObject(); $0.endObject() } }
            }
            let search = try LoggedModelSearch(
                experimentIds: experimentIds, filter: try request.string("filter"),
                datasets: datasets, maxResults: try request.int64("max_results"), orderBy: orderBy,
                pageToken: try request.string("page_token"))
            let page = try await store.searchLoggedModels(search)
            return JSONResponse.page(page, key: "models") { w, model in w.loggedModel(model) }
        }
        api.on(.patch, "/logged-models/{model_id}/tags") { request in
            try await store.setLoggedModelTags(
                id: request.pathParameter("model_id"), tags: try Self.keyValues(request, "tags"))
            return JSONResponse.empty
        }
        api.on(.delete, "/logged-models/{model_id}/tags/{tag_key}") { request in
            try await store.deleteLoggedModelTag(
                id: request.pathParameter("model_id"), key: request.pathParameter("tag_key"))
            return JSONResponse.empty
        }
        api.on(.post, "/logged-models/{model_id}/params") { request in
            _ = try request.requiredString("model_id")
            try await store.logLoggedModelParams(
                id: request.pathParameter("model_id"), params: try Self.keyValues(request, "params"))
            return JSONResponse.empty
        }
        api.on(.post, "/runs/outputs") { request in
            let runId = try request.requiredString("run_id")
            guard request.value("models") != nil else {
                throw SwiftflowError.invalidParameter(Validation.missingValue("models"))
            }
            let models = try request.objects("models").map { item throws(SwiftflowError) in
                LoggedModelOutput(modelId: try item.string("model_id") ?? "", step: try item.int64("step") ?? 0)
            }
            try await store.logOutputs(runId: runId, models: models)
            return JSONResponse.empty
        }
    }

    /// `{"model": ...}`, the answer of create, get and finalize.
    static func respond(_ model: LoggedModel) -> Response {
        JSONResponse.make { w in
            w.beginObject()
            w.key("model")
            w.loggedModel(model)
            w.endObject()
        }
    }

    /// Logged-model tags and params: MLflow takes them as the proto gives them, missing fields empty.
    static func keyValues(_ request: MLflowRequest, _ name: String) throws(SwiftflowError) -> [KeyValue] {
        try request.objects(name).map { item throws(SwiftflowError) in
            KeyValue(try item.string("key") ?? "", try item.string("value") ?? "")
        }
    }

    /// The `status` of finalize: required; a name or a number, anything unknown read as unspecified
    /// (MLflow's server parses enums ignoring unknown values).
    static func status(_ request: MLflowRequest) throws(SwiftflowError) -> LoggedModelStatus {
        switch request.value("status") {
        case nil, .string("")?:
            throw .invalidParameter(Validation.missingValue("status"))
        case .string(let text)?, .number(let text)?:
            return LoggedModelStatus(lenientWireValue: text)
        default:
            return .unspecified
        }
    }
}
