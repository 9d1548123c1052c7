import HTTPTypes
import SwiftflowCore
import SwiftflowStore

/// What each REST route asks of a non-admin caller, as MLflow 3's basic-auth app decides it.
///
/// Keys are the method and the route as `APIRouter` registers it (relative to the API prefix). A
/// route absent from the table is refused to non-admins. Searches are open to everyone here: their
/// handlers narrow what they return (`RequestAuth.visibility`, `readableExperiments`).
enum AccessRules {
    typealias Rule = @Sendable (MLflowRequest, RequestAuth) async throws -> Void

    static func rule(_ method: HTTPRequest.Method, _ path: String) -> Rule? {
        table["\(method.rawValue) \(path)"]
    }

    // MARK: - Building blocks

    private static let anyone: Rule = { _, _ in }
    private static let adminOnly: Rule = { _, auth in try auth.requireAdmin() }

    private static func experiment(_ need: Permission.Need, field: String = "experiment_id") -> Rule {
        { request, auth in try await auth.requireExperiment(try request.requiredString(field), need) }
    }

    private static func run(_ need: Permission.Need) -> Rule {
        { request, auth in try await auth.requireRun(try request.requiredString("run_id", "run_uuid"), need) }
    }

    /// A run update that may also write to logged models (metrics with `model_id`, model inputs).
    private static func runAndModels(_ need: Permission.Need, models: @escaping @Sendable (MLflowRequest) throws -> [String]) -> Rule {
        { request, auth in
            try await auth.requireRun(try request.requiredString("run_id", "run_uuid"), need)
            for modelId in Set(try models(request)) where !modelId.isEmpty {
                try await auth.requireLoggedModel(modelId, need)
            }
        }
    }

    private static func loggedModel(_ need: Permission.Need) -> Rule {
        { request, auth in try await auth.requireLoggedModel(request.pathParameter("model_id"), need) }
    }

    private static func registeredModel(_ need: Permission.Need) -> Rule {
        { request, auth in try await auth.requireRegisteredModel(try request.requiredString("name"), need) }
    }

    private static func version(_ need: Permission.Need, modelNeed: Permission.Need = .read) -> Rule {
        { request, auth in
            try await auth.requireModelVersion(try request.requiredString("name"), need, modelNeed: modelNeed)
        }
    }

    /// Runs named by repeated `run_id` / `run_ids` fields: READ on each.
    private static func runs(field: String, missing: String) -> Rule {
        { request, auth in
            let ids = try request.stringArray(field)
            if ids.isEmpty { throw SwiftflowError.invalidParameter(missing) }
            for id in ids { try await auth.requireRun(id, .read) }
        }
    }

    // MARK: - The table

    private static let table: [String: Rule] = [
        // Experiments
        "POST /experiments/create": { _, auth in
            if RequestAuth.fold(try await auth.grants(), .experiment, "*") == .deny { throw PermissionDenied() }
        },
        "GET /experiments/get": experiment(.read),
        "GET /experiments/get-by-name": { request, auth in
            let name = try request.requiredString("experiment_name")
            guard let found = try await auth.access.tracking.getExperiment(name: name) else {
                throw SwiftflowError.notFound("Could not find experiment with name \(name)")
            }
            try await auth.requireExperiment(found.experimentId, .read)
        },
        "POST /experiments/update": experiment(.update),
        "POST /experiments/set-experiment-tag": experiment(.update),
        "POST /experiments/delete-experiment-tag": experiment(.update),
        "POST /experiments/delete": experimentDelete,
        "POST /experiments/restore": experimentDelete,
        "GET /experiments/search": anyone,
        "POST /experiments/search": anyone,
        "POST /experiments/search-datasets": { request, auth in
            let ids = try request.stringArray("experiment_ids")
            if ids.isEmpty {
                throw SwiftflowError.invalidParameter("SearchDatasets request must specify at least one experiment_id.")
            }
            for id in ids { try await auth.requireExperiment(id, .read) }
        },

        // Runs
        "POST /runs/create": { request, auth in
            let id = try request.requiredString("experiment_id")
            try await auth.requireExperiment(id, .update)
            try await auth.require(.notDenied, .run, "*", fallbacks: [(.experiment, id)])
        },
        "GET /runs/get": run(.read),
        "POST /runs/update": run(.update),
        "POST /runs/set-tag": run(.update),
        "POST /runs/delete-tag": run(.update),
        "POST /runs/log-parameter": run(.update),
        "POST /runs/log-model": run(.update),
        "POST /runs/log-metric": runAndModels(.update) { request in [try request.string("model_id")].compactMap { $0 } },
        "POST /runs/log-batch": runAndModels(.update) { request in try modelIds(request, "metrics") },
        "POST /runs/log-inputs": runAndModels(.update) { request in try modelIds(request, "models") },
        "POST /runs/outputs": runAndModels(.update) { request in try modelIds(request, "models") },
        "POST /runs/delete": run(.delete),
        "POST /runs/restore": run(.delete),
        "POST /runs/search": anyone,
        "GET /metrics/get-history": run(.read),
        "GET /metrics/get-history-bulk": runs(
            field: "run_id", missing: "GetMetricHistoryBulk request must specify at least one run_id."),
        "GET /metrics/get-history-bulk-interval": runs(
            field: "run_ids", missing: "GetMetricHistoryBulkInterval request must specify at least one run_id."),
        "GET /artifacts/list": run(.read),

        // Logged models
        "POST /logged-models": { request, auth in
            let id = try request.requiredString("experiment_id")
            try await auth.requireExperiment(id, .update)
            try await auth.require(.notDenied, .loggedModel, "*", fallbacks: [(.experiment, id)])
            if let source = try request.string("source_run_id"), !source.isEmpty {
                try await auth.requireRun(source, .read)
            }
        },
        "GET /logged-models/{model_id}": loggedModel(.read),
        "GET /logged-models/{model_id}/artifacts/directories": loggedModel(.read),
        "PATCH /logged-models/{model_id}": loggedModel(.update),
        "PATCH /logged-models/{model_id}/tags": loggedModel(.update),
        "POST /logged-models/{model_id}/params": loggedModel(.update),
        "DELETE /logged-models/{model_id}": loggedModel(.delete),
        "DELETE /logged-models/{model_id}/tags/{tag_key}": loggedModel(.delete),
        "GET /logged-models/search": anyone,
        "POST /logged-models/search": anyone,

        // Registered models
        "POST /registered-models/create": { request, auth in
            let name = try request.requiredString("name")
            if try await auth.permission(.registeredModel, name) == .deny { throw PermissionDenied() }
        },
        "GET /registered-models/get": registeredModel(.read),
        "PATCH /registered-models/update": registeredModel(.update),
        "POST /registered-models/rename": registeredModel(.update),
        "POST /registered-models/set-tag": registeredModel(.update),
        "DELETE /registered-models/delete-tag": registeredModel(.update),
        "DELETE /registered-models/delete": { request, auth in
            let name = try request.requiredString("name")
            try await auth.requireExistingModel(name)
            try await auth.requireRegisteredModel(name, .delete)
            try await auth.require(.delete, .registeredModelVersion, "*", fallbacks: [(.registeredModel, name)])
        },
        "GET /registered-models/search": anyone,
        "GET /registered-models/get-latest-versions": version(.notDenied),
        "POST /registered-models/get-latest-versions": version(.notDenied),
        "GET /registered-models/alias": version(.notDenied),
        "POST /registered-models/alias": version(.read, modelNeed: .update),
        "DELETE /registered-models/alias": version(.read, modelNeed: .delete),

        // Model versions
        "POST /model-versions/create": { request, auth in
            let name = try request.requiredString("name")
            try await auth.requireRegisteredModel(name, .update)
            try await auth.require(.notDenied, .registeredModelVersion, "*", fallbacks: [(.registeredModel, name)])
            if let runId = try request.string("run_id"), !runId.isEmpty { try await auth.requireRun(runId, .read) }
            if let modelId = try request.string("model_id"), !modelId.isEmpty {
                try await auth.requireLoggedModel(modelId, .read)
            }
        },
        "GET /model-versions/get": version(.notDenied),
        "GET /model-versions/get-download-uri": version(.notDenied),
        "PATCH /model-versions/update": version(.update),
        "POST /model-versions/set-tag": version(.update),
        "POST /model-versions/transition-stage": version(.update),
        "DELETE /model-versions/delete": version(.delete),
        "DELETE /model-versions/delete-tag": version(.delete),
        "GET /model-versions/search": anyone,

        // The auth app's own routes (users, permissions, roles): each handler checks who may call it.
        "POST /users/create": anyone,
        "GET /users/get": anyone,
        "GET /users/current": anyone,
        "GET /users/list": anyone,
        "PATCH /users/update-password": anyone,
        "PATCH /users/update-admin": adminOnly,
        "DELETE /users/delete": adminOnly,
        "POST /users/permissions/grant": anyone,
        "POST /users/permissions/revoke": anyone,
        "GET /users/permissions/get": anyone,
        "GET /users/permissions/list": anyone,
        "GET /users/current/permissions": anyone,
        "GET /users/roles/list": anyone,
        "GET /roles/list": anyone,
        "POST /roles/create": anyone,
        "GET /roles/get": anyone,
        "PATCH /roles/update": anyone,
        "DELETE /roles/delete": anyone,
        "POST /roles/permissions/add": anyone,
        "DELETE /roles/permissions/remove": anyone,
        "GET /roles/permissions/list": anyone,
        "POST /roles/assign": anyone,
        "DELETE /roles/unassign": anyone,
        "GET /roles/users/list": anyone,
        // MLflow 2.x's permission routes: granting is managing.
        "POST /experiments/permissions/create": experiment(.manage),
        "GET /experiments/permissions/get": experiment(.manage),
        "PATCH /experiments/permissions/update": experiment(.manage),
        "DELETE /experiments/permissions/delete": experiment(.manage),
        "POST /registered-models/permissions/create": registeredModel(.manage),
        "GET /registered-models/permissions/get": registeredModel(.manage),
        "PATCH /registered-models/permissions/update": registeredModel(.manage),
        "DELETE /registered-models/permissions/delete": registeredModel(.manage),
        "PATCH /roles/permissions/update": anyone,
    ]

    /// Deleting or restoring an experiment: DELETE on it and on its sub-resource tiers.
    private static let experimentDelete: Rule = { request, auth in
        let id = try request.requiredString("experiment_id")
        try await auth.requireExperiment(id, .delete)
        for tier in [AuthResourceType.run, .trace, .loggedModel, .assessment, .reviewQueue, .scorer, .scorerVersion] {
            try await auth.require(.delete, tier, "*", fallbacks: [(.experiment, id)])
        }
    }

    private static func modelIds(_ request: MLflowRequest, _ field: String) throws -> [String] {
        try request.objects(field).compactMap { object in try object.string("model_id") }
    }
}
