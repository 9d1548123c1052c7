import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `registered-models/*` and `model-versions/*` of MLflow's REST API (`model_registry.proto`).
///
/// The tracking store is consulted only to check that a new version's source belongs to its run.
struct RegistryRoutes {
    /// The grant types that name a registered model.
    static let modelGrantTypes = [AuthResourceType.registeredModel.rawValue, AuthResourceType.prompt.rawValue]

    let registry: any RegistryStore
    let tracking: any TrackingStore
    /// Called with the model's name after a version is created (promotion policies); it never throws.
    var afterVersionCreated: (@Sendable (String) async -> Void)?

    func register(on api: APIRouter) {
        registerModelRoutes(on: api)
        registerVersionRoutes(on: api)
        registerTagAndAliasRoutes(on: api)
    }

    // MARK: - Registered models

    private func registerModelRoutes(on api: APIRouter) {
        let registry = self.registry
        api.on(.post, "/registered-models/create") { request in
            let model = try await registry.createRegisteredModel(
                name: try request.requiredString("name"), tags: try Self.tags(request),
                description: try request.string("description"))
            try await request.auth?.grantCreator(.registeredModel, model.name)
            return Self.respond("registered_model") { $0.registeredModel(model) }
        }
        api.on(.get, "/registered-models/get") { request in
            let model = try await registry.getRegisteredModel(name: try request.requiredString("name"))
            return Self.respond("registered_model") { $0.registeredModel(model) }
        }
        api.on(.patch, "/registered-models/update") { request in
            let model = try await registry.updateRegisteredModel(
                name: try request.requiredString("name"), description: try request.string("description") ?? "")
            return Self.respond("registered_model") { $0.registeredModel(model) }
        }
        api.on(.post, "/registered-models/rename") { request in
            let model = try await registry.renameRegisteredModel(
                name: try request.requiredString("name"), newName: try request.requiredString("new_name"))
            // Per-user grants follow the model to its new name, as in MLflow.
            try await request.auth?.access.auth.renameGrants(
                resourceTypes: Self.modelGrantTypes, from: try request.requiredString("name"), to: model.name)
            return Self.respond("registered_model") { $0.registeredModel(model) }
        }
        api.on(.delete, "/registered-models/delete") { request in
            try await registry.deleteRegisteredModel(name: try request.requiredString("name"))
            // A model created again under this name starts from the default permission.
            try await request.auth?.access.auth.deleteGrants(
                resourceTypes: Self.modelGrantTypes, resourcePattern: try request.requiredString("name"))
            return JSONResponse.empty
        }
        api.on(.get, "/registered-models/search") { request in
            let maxResults = try Self.maxResults(
                request, default: Limits.defaultRegisteredModelsSearchResults,
                limit: Limits.maxRegisteredModelsSearchResults)
            let page = try await registry.searchRegisteredModels(
                filter: try SearchFilter.parseRegisteredModelFilter(try request.string("filter")),
                maxResults: maxResults,
                orderBy: try OrderByClause.parseRegisteredModelOrderBy(try request.stringArray("order_by")),
                pageToken: try request.string("page_token").flatMap { $0.isEmpty ? nil : $0 },
                visibility: try await request.auth?.visibility(.registeredModel) ?? .all)
            return JSONResponse.make { w in
                w.beginObject()
                w.registeredModels("registered_models", page.items)
                w.optionalField("next_page_token", page.nextPageToken)
                w.endObject()
            }
        }
        let latest: APIRouter.Handler = { request in
            let versions = try await registry.getLatestVersions(
                name: try request.requiredString("name"), stages: try request.stringArray("stages"))
            return JSONResponse.make { w in
                w.beginObject(); w.modelVersions("model_versions", versions); w.endObject()
            }
        }
        api.on(.post, "/registered-models/get-latest-versions", latest)
        api.on(.get, "/registered-models/get-latest-versions", latest)
    }

    // MARK: - Model versions

    private func registerVersionRoutes(on api: APIRouter) {
        let registry = self.registry
        let tracking = self.tracking
        let afterVersionCreated = self.afterVersionCreated
        api.on(.post, "/model-versions/create") { request in
            let version = try await Self.createModelVersion(request, registry: registry, tracking: tracking)
            await afterVersionCreated?(version.name)
            return Self.respond("model_version") { $0.modelVersion(version) }
        }
        api.on(.get, "/model-versions/get") { request in
            let version = try await registry.getModelVersion(
                name: try request.requiredString("name"), version: try request.requiredString("version"))
            return Self.respond("model_version") { $0.modelVersion(version) }
        }
        api.on(.patch, "/model-versions/update") { request in
            let version = try await registry.updateModelVersion(
                name: try request.requiredString("name"), version: try request.requiredString("version"),
                description: try request.string("description"))
            return Self.respond("model_version") { $0.modelVersion(version) }
        }
        api.on(.post, "/model-versions/transition-stage") { request in
            let version = try await registry.transitionModelVersionStage(
                name: try request.requiredString("name"), version: try request.requiredString("version"),
                stage: try request.requiredString("stage"),
                archiveExistingVersions: try Self.jsonBool(request, "archive_existing_versions") ?? false)
            return Self.respond("model_version") { $0.modelVersion(version) }
        }
        api.on(.delete, "/model-versions/delete") { request in
            try await registry.deleteModelVersion(
                name: try request.requiredString("name"), version: try request.requiredString("version"))
            return JSONResponse.empty
        }
        api.on(.get, "/model-versions/get-download-uri") { request in
            // No required-field schema here in MLflow: the store's own checks speak for missing fields.
            let uri = try await registry.getModelVersionDownloadURI(
                name: try request.string("name") ?? "", version: try request.string("version") ?? "")
            return JSONResponse.make { w in
                w.beginObject(); w.field("artifact_uri", uri); w.endObject()
            }
        }
        api.on(.get, "/model-versions/search") { request in
            let maxResults = try Self.maxResults(
                request, default: Limits.maxModelVersionsSearchResults, limit: Limits.maxModelVersionsSearchResults)
            var page = try await registry.searchModelVersions(
                filter: try SearchFilter.parseModelVersionFilter(try request.string("filter")),
                maxResults: maxResults,
                orderBy: try OrderByClause.parseModelVersionOrderBy(try request.stringArray("order_by")),
                pageToken: try request.string("page_token").flatMap { $0.isEmpty ? nil : $0 })
            if let auth = request.auth, !auth.isAdmin {
                // As MLflow: versions of unreadable models are dropped from the page, which is not refilled.
                var kept: [ModelVersion] = []
                for version in page.items where try await auth.canReadVersions(of: version.name) { kept.append(version) }
                page.items = kept
            }
            return JSONResponse.make { w in
                w.beginObject()
                w.modelVersions("model_versions", page.items)
                w.optionalField("next_page_token", page.nextPageToken)
                w.endObject()
            }
        }
    }

    // MARK: - Tags and aliases

    private func registerTagAndAliasRoutes(on api: APIRouter) {
        let registry = self.registry
        api.on(.post, "/registered-models/set-tag") { request in
            try await registry.setRegisteredModelTag(
                name: try request.requiredString("name"),
                tag: RegisteredModelTag(try request.requiredString("key"), try request.string("value") ?? ""))
            return JSONResponse.empty
        }
        api.on(.delete, "/registered-models/delete-tag") { request in
            try await registry.deleteRegisteredModelTag(
                name: try request.requiredString("name"), key: try request.requiredString("key"))
            return JSONResponse.empty
        }
        api.on(.post, "/model-versions/set-tag") { request in
            try await registry.setModelVersionTag(
                name: try request.requiredString("name"), version: try request.requiredString("version"),
                tag: ModelVersionTag(try request.requiredString("key"), try request.string("value") ?? ""))
            return JSONResponse.empty
        }
        api.on(.delete, "/model-versions/delete-tag") { request in
            try await registry.deleteModelVersionTag(
                name: try request.requiredString("name"), version: try request.requiredString("version"),
                key: try request.requiredString("key"))
            return JSONResponse.empty
        }
        api.on(.post, "/registered-models/alias") { request in
            try await registry.setRegisteredModelAlias(
                name: try request.requiredString("name"), alias: try request.requiredString("alias"),
                version: try request.requiredString("version"))
            return JSONResponse.empty
        }
        api.on(.delete, "/registered-models/alias") { request in
            try await registry.deleteRegisteredModelAlias(
                name: try request.requiredString("name"), alias: try request.requiredString("alias"))
            return JSONResponse.empty
        }
        api.on(.get, "/registered-models/alias") { request in
            let version = try await registry.getModelVersion(
                name: try request.requiredString("name"), alias: try request.requiredString("alias"))
            return Self.respond("model_version") { $0.modelVersion(version) }
        }
    }

    // MARK: - Helpers

    /// `{"<field>": <entity>}`, the shape of every registry answer that returns one entity.
    private static func respond(_ field: String, _ body: (inout JSONWriter) -> Void) -> Response {
        JSONResponse.make { w in
            w.beginObject(); w.key(field); body(&w); w.endObject()
        }
    }

    /// Repeated `{key, value}` tags; a missing key reads as "" (the proto default) and is refused by
    /// the store's key validation, as in MLflow.
    private static func tags(_ request: MLflowRequest) throws(SwiftflowError) -> [KeyValue] {
        try request.objects("tags").map { item throws(SwiftflowError) -> KeyValue in
            KeyValue(try item.string("key") ?? "", try item.string("value") ?? "")
        }
    }

    /// A bool field of a JSON body: a JSON `true` / `false` only (MLflow's proto parsing rejects strings).
    private static func jsonBool(_ request: MLflowRequest, _ name: String) throws(SwiftflowError) -> Bool? {
        guard let value = request.value(name) else { return nil }
        guard case .bool(let flag) = value else { throw MLflowRequest.invalidType(name, value) }
        return flag
    }

    /// `max_results` of a registry search: the proto default when absent, an integer no larger than
    /// `limit` (MLflow's schema check, with its message) otherwise.
    private static func maxResults(_ request: MLflowRequest, default: Int, limit: Int) throws(SwiftflowError) -> Int {
        guard let value = try request.int64("max_results") else { return `default` }
        if value > Int64(limit), let raw = request.value("max_results") {
            throw MLflowRequest.invalidType("max_results", raw)
        }
        return Int(clamping: value)
    }

    /// `_create_model_version`: checks the source against its run (or refuses it), resolves a
    /// `models:/name/<stage|alias|latest>` source to the version it names, then registers the version.
    private static func createModelVersion(
        _ request: MLflowRequest, registry: any RegistryStore, tracking: any TrackingStore
    ) async throws -> ModelVersion {
        let name = try request.requiredString("name")
        var source = try request.requiredString("source")
        let hasRunId = request.value("run_id") != nil
        var runId = try request.string("run_id") ?? ""
        let tags = try Self.tags(request)
        let hasModelId = request.value("model_id") != nil
        let modelId = try request.string("model_id") ?? ""
        let isPrompt = tags.last(where: { $0.key == RegistryTags.isPrompt })?.value.lowercased() == "true"
        if isPrompt, !RegistryTags.promptSourcePlaceholders.contains(source) {
            throw SwiftflowError.invalidParameter(
                "Invalid prompt source: '\(source)'. Prompt sources must use an MLflow placeholder.")
        }
        try ModelVersionSource.validateHostPolicy(source)
        if !isPrompt {
            if let reference = try ModelVersionSource.registeredModelReference(source), let referenced = reference.name {
                let original = source
                let sourceModel = try await registry.getRegisteredModel(name: referenced)
                if sourceModel.isPrompt {
                    throw SwiftflowError.invalidParameter(
                        "Invalid model version source: '\(original)'. Prompt versions cannot be used as model version "
                            + "sources.")
                }
                let sourceVersion = try await Self.resolve(reference, name: referenced, registry: registry)
                if (hasRunId && runId != (sourceVersion.runId ?? "")) || (hasModelId && !modelId.isEmpty) {
                    throw SwiftflowError.invalidParameter(
                        "Invalid model version source: '\(original)'. The run_id and model_id request parameters must "
                            + "match the referenced model version.")
                }
                source = "models:/\(referenced)/\(sourceVersion.version)"
                if !hasRunId { runId = sourceVersion.runId ?? "" }
            }
            if !modelId.isEmpty {
                try await ModelVersionSource.validateModelSource(source, modelId: modelId) { id in
                    do {
                        return try await tracking.getLoggedModel(id: id, allowDeleted: false).artifactLocation
                    } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
                        return nil
                    }
                }
            } else {
                try await ModelVersionSource.validateRunSource(source, runId: runId) { id in
                    do {
                        return try await tracking.getRun(id: id).info.artifactUri
                    } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
                        return nil
                    }
                }
            }
        }
        let version = try await registry.createModelVersion(
            name: name, source: source, runId: runId, tags: tags, runLink: try request.string("run_link") ?? "",
            description: try request.string("description") ?? "", modelId: modelId.isEmpty ? nil : modelId)
        if !isPrompt, !modelId.isEmpty {
            // As MLflow's server: the logged model lists the registered versions made from it.
            try await tracking.recordModelVersion(modelId: modelId, name: name, version: version.version)
        }
        return version
    }

    /// The version a `models:/` reference names (`get_model_name_and_version`).
    private static func resolve(
        _ reference: ModelsURI, name: String, registry: any RegistryStore
    ) async throws -> ModelVersion {
        switch reference {
        case .version(_, let version):
            return try await registry.getModelVersion(name: name, version: version)
        case .alias(_, let alias):
            return try await registry.getModelVersion(name: name, alias: alias)
        case .latest, .stage:
            var stage: String?
            if case .stage(_, let text) = reference { stage = text }
            let latest = try await registry.getLatestVersions(name: name, stages: stage.map { [$0] } ?? [])
            guard let newest = latest.max(by: { $0.version < $1.version }) else {
                throw SwiftflowError(
                    .internalError, "No versions of model with name '\(name)'\(stage.map { " and stage '\($0)'" } ?? "") found")
            }
            return try await registry.getModelVersion(name: name, version: String(newest.version))
        case .modelId:
            throw ModelVersionSource.invalidSource("models:/\(name)", "model_id")
        }
    }
}
