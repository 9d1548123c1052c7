import NIOHTTP1
import SwiftflowCore

/// The Model Registry: registered models, their numbered versions, stages, aliases and tags.
extension MlflowClient {
    // MARK: Registered models

    @discardableResult
    public func createRegisteredModel(
        name: String, description: String? = nil, tags: [String: String] = [:]
    ) async throws(SwiftflowError) -> RegisteredModel {
        let answer = try await send(.POST, Self.api + "/registered-models/create") { w in
            w.field("name", name)
            w.keyValues("tags", Self.sorted(tags))
            w.optionalField("description", description)
        }
        return try RegisteredModel(wire: answer["registered_model"])
    }

    public func getRegisteredModel(name: String) async throws(SwiftflowError) -> RegisteredModel {
        try await RegisteredModel(wire: get(Self.api + "/registered-models/get", query: [("name", name)])["registered_model"])
    }

    @discardableResult
    public func renameRegisteredModel(name: String, newName: String) async throws(SwiftflowError) -> RegisteredModel {
        let answer = try await send(.POST, Self.api + "/registered-models/rename") { w in
            w.field("name", name)
            w.field("new_name", newName)
        }
        return try RegisteredModel(wire: answer["registered_model"])
    }

    @discardableResult
    public func updateRegisteredModel(name: String, description: String) async throws(SwiftflowError) -> RegisteredModel {
        let answer = try await send(.PATCH, Self.api + "/registered-models/update") { w in
            w.field("name", name)
            w.field("description", description)
        }
        return try RegisteredModel(wire: answer["registered_model"])
    }

    /// Deletes the model with all its versions.
    public func deleteRegisteredModel(name: String) async throws(SwiftflowError) {
        _ = try await send(.DELETE, Self.api + "/registered-models/delete") { $0.field("name", name) }
    }

    /// One page of registered models matching `filter` (e.g. `name LIKE 'fraud%'`).
    public func searchRegisteredModels(
        filter: String? = nil, maxResults: Int = 100, orderBy: [String] = [], pageToken: String? = nil
    ) async throws(SwiftflowError) -> Page<RegisteredModel> {
        let query = Self.searchQuery(filter: filter, maxResults: maxResults, orderBy: orderBy, pageToken: pageToken)
        let answer = try await get(Self.api + "/registered-models/search", query: query)
        var models: [RegisteredModel] = []
        for item in try WireReader(answer, "answer").array("registered_models") {
            models.append(try RegisteredModel(wire: item))
        }
        return Page(items: models, nextPageToken: .pageToken(answer))
    }

    /// The latest version in each of `stages` (every stage when empty).
    public func getLatestVersions(name: String, stages: [String] = []) async throws(SwiftflowError) -> [ModelVersion] {
        let answer = try await send(.POST, Self.api + "/registered-models/get-latest-versions") { w in
            w.field("name", name)
            w.repeatedField("stages", stages) { $0.string($1) }
        }
        return try Self.versions(answer, "model_versions")
    }

    public func setRegisteredModelTag(name: String, key: String, value: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/registered-models/set-tag") { w in
            w.field("name", name)
            w.field("key", key)
            w.field("value", value)
        }
    }

    public func deleteRegisteredModelTag(name: String, key: String) async throws(SwiftflowError) {
        _ = try await send(.DELETE, Self.api + "/registered-models/delete-tag") { w in
            w.field("name", name)
            w.field("key", key)
        }
    }

    // MARK: Versions

    /// Registers `source` (e.g. `runs:/<run>/model`, `models:/m-…`) as the next version of `name`.
    @discardableResult
    public func createModelVersion(
        name: String, source: String, runId: String? = nil, tags: [String: String] = [:], runLink: String? = nil,
        description: String? = nil, modelId: String? = nil
    ) async throws(SwiftflowError) -> ModelVersion {
        let answer = try await send(.POST, Self.api + "/model-versions/create") { w in
            w.field("name", name)
            w.field("source", source)
            w.optionalField("run_id", runId)
            w.keyValues("tags", Self.sorted(tags))
            w.optionalField("run_link", runLink)
            w.optionalField("description", description)
            w.optionalField("model_id", modelId)
        }
        return try ModelVersion(wire: answer["model_version"])
    }

    public func getModelVersion(name: String, version: Int64) async throws(SwiftflowError) -> ModelVersion {
        let answer = try await get(Self.api + "/model-versions/get", query: [("name", name), ("version", String(version))])
        return try ModelVersion(wire: answer["model_version"])
    }

    @discardableResult
    public func updateModelVersion(
        name: String, version: Int64, description: String
    ) async throws(SwiftflowError) -> ModelVersion {
        let answer = try await send(.PATCH, Self.api + "/model-versions/update") { w in
            w.field("name", name)
            w.field("version", String(version))
            w.field("description", description)
        }
        return try ModelVersion(wire: answer["model_version"])
    }

    public func deleteModelVersion(name: String, version: Int64) async throws(SwiftflowError) {
        _ = try await send(.DELETE, Self.api + "/model-versions/delete") { w in
            w.field("name", name)
            w.field("version", String(version))
        }
    }

    /// Moves a version to `stage` (`None`, `Staging`, `Production`, `Archived`), optionally archiving the
    /// versions already there.
    @discardableResult
    public func transitionModelVersionStage(
        name: String, version: Int64, stage: String, archiveExistingVersions: Bool = false
    ) async throws(SwiftflowError) -> ModelVersion {
        let answer = try await send(.POST, Self.api + "/model-versions/transition-stage") { w in
            w.field("name", name)
            w.field("version", String(version))
            w.field("stage", stage)
            w.field("archive_existing_versions", archiveExistingVersions)
        }
        return try ModelVersion(wire: answer["model_version"])
    }

    /// One page of versions matching `filter` (e.g. `name = 'fraud' and run_id = '…'`).
    public func searchModelVersions(
        filter: String? = nil, maxResults: Int = 10000, orderBy: [String] = [], pageToken: String? = nil
    ) async throws(SwiftflowError) -> Page<ModelVersion> {
        let query = Self.searchQuery(filter: filter, maxResults: maxResults, orderBy: orderBy, pageToken: pageToken)
        let answer = try await get(Self.api + "/model-versions/search", query: query)
        return Page(items: try Self.versions(answer, "model_versions"), nextPageToken: .pageToken(answer))
    }

    /// Where the version's files are, as the server resolves its source.
    public func getModelVersionDownloadURI(name: String, version: Int64) async throws(SwiftflowError) -> String {
        let answer = try await get(
            Self.api + "/model-versions/get-download-uri", query: [("name", name), ("version", String(version))])
        return try WireReader(answer, "answer").required("artifact_uri")
    }

    public func setModelVersionTag(
        name: String, version: Int64, key: String, value: String
    ) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/model-versions/set-tag") { w in
            w.field("name", name)
            w.field("version", String(version))
            w.field("key", key)
            w.field("value", value)
        }
    }

    public func deleteModelVersionTag(name: String, version: Int64, key: String) async throws(SwiftflowError) {
        _ = try await send(.DELETE, Self.api + "/model-versions/delete-tag") { w in
            w.field("name", name)
            w.field("version", String(version))
            w.field("key", key)
        }
    }

    // MARK: Aliases

    /// Points `alias` (e.g. `champion`) at `version`; `models:/<name>@<alias>` then resolves to it.
    public func setRegisteredModelAlias(name: String, alias: String, version: Int64) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/registered-models/alias") { w in
            w.field("name", name)
            w.field("alias", alias)
            w.field("version", String(version))
        }
    }

    public func deleteRegisteredModelAlias(name: String, alias: String) async throws(SwiftflowError) {
        _ = try await send(.DELETE, Self.api + "/registered-models/alias") { w in
            w.field("name", name)
            w.field("alias", alias)
        }
    }

    public func getModelVersion(name: String, alias: String) async throws(SwiftflowError) -> ModelVersion {
        let answer = try await get(Self.api + "/registered-models/alias", query: [("name", name), ("alias", alias)])
        return try ModelVersion(wire: answer["model_version"])
    }

    /// The query of the registry's GET searches (repeated `order_by`, as MLflow's client sends it).
    static func searchQuery(
        filter: String?, maxResults: Int, orderBy: [String], pageToken: String?
    ) -> [(String, String)] {
        var query = [("max_results", String(maxResults))]
        if let filter { query.append(("filter", filter)) }
        for order in orderBy { query.append(("order_by", order)) }
        if let pageToken { query.append(("page_token", pageToken)) }
        return query
    }

    static func versions(_ answer: JSONValue, _ key: String) throws(SwiftflowError) -> [ModelVersion] {
        var versions: [ModelVersion] = []
        for item in try WireReader(answer, "answer").array(key) { versions.append(try ModelVersion(wire: item)) }
        return versions
    }
}
