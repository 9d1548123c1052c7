import SwiftflowCore

/// The Model Registry: registered models, their numbered versions, stages, aliases and tags.
///
/// Every method that writes is one transaction. Errors are `SwiftflowError`s with MLflow's codes:
/// `RESOURCE_DOES_NOT_EXIST` for unknown models and versions, `RESOURCE_ALREADY_EXISTS` for taken
/// names, `INVALID_PARAMETER_VALUE` for bad names, versions, stages, aliases and tags. Versions are
/// given as text, the way the API carries them, and read as Python's `int()` would.
public protocol RegistryStore: Sendable {
    // MARK: - Registered models

    func createRegisteredModel(name: String, tags: [RegisteredModelTag], description: String?) async throws
        -> RegisteredModel
    func getRegisteredModel(name: String) async throws -> RegisteredModel
    /// Sets (or, with nil, clears) the description.
    func updateRegisteredModel(name: String, description: String?) async throws -> RegisteredModel
    /// Renames the model and, with it, every version, tag and alias.
    func renameRegisteredModel(name: String, newName: String) async throws -> RegisteredModel
    /// Deletes the model with its versions, tags and aliases.
    func deleteRegisteredModel(name: String) async throws
    /// - Parameter visibility: the model names the caller may read; the others are left out of every page.
    func searchRegisteredModels(
        filter: SearchFilter, maxResults: Int, orderBy: [OrderByClause], pageToken: String?, visibility: Visibility
    ) async throws -> Page<RegisteredModel>
    /// The newest version in each of `stages` (any case; empty means every stage), with aliases.
    func getLatestVersions(name: String, stages: [String]) async throws -> [ModelVersion]
    func setRegisteredModelTag(name: String, tag: RegisteredModelTag) async throws
    /// Deleting a tag that is not set is not an error, as in MLflow.
    func deleteRegisteredModelTag(name: String, key: String) async throws

    // MARK: - Model versions

    /// Registers the next version of `name` (one more than the highest ever given; numbers are never
    /// reused). A `models:/name/version` source stores the referenced version's download location; a
    /// `models:/<model_id>` source the logged model's artifact location, and its source run when `runId`
    /// is empty (as when `modelId` names the model).
    func createModelVersion(
        name: String, source: String, runId: String?, tags: [ModelVersionTag], runLink: String?,
        description: String?, modelId: String?
    ) async throws -> ModelVersion
    func getModelVersion(name: String, version: String) async throws -> ModelVersion
    /// Sets (or, with nil, clears) the description.
    func updateModelVersion(name: String, version: String, description: String?) async throws -> ModelVersion
    /// Moves a version to `stage` (any case); with `archiveExistingVersions`, the other versions in
    /// that stage (Staging or Production only) move to Archived.
    func transitionModelVersionStage(
        name: String, version: String, stage: String, archiveExistingVersions: Bool
    ) async throws -> ModelVersion
    /// Deletes a version with its tags and the aliases pointing at it.
    func deleteModelVersion(name: String, version: String) async throws
    /// Where the version's files can be read.
    func getModelVersionDownloadURI(name: String, version: String) async throws -> String
    func searchModelVersions(
        filter: SearchFilter, maxResults: Int, orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<ModelVersion>
    func setModelVersionTag(name: String, version: String, tag: ModelVersionTag) async throws
    /// Deleting a tag that is not set is not an error, as in MLflow.
    func deleteModelVersionTag(name: String, version: String, key: String) async throws

    // MARK: - Aliases

    /// Points `alias` at `version`, moving it if it pointed elsewhere.
    func setRegisteredModelAlias(name: String, alias: String, version: String) async throws
    /// Deleting an alias that is not set is not an error, as in MLflow.
    func deleteRegisteredModelAlias(name: String, alias: String) async throws
    /// The version `alias` points at; `latest` (any case) is the newest version.
    /// - Throws: `INVALID_PARAMETER_VALUE` for an unknown alias (MLflow's code, surprising as it is).
    func getModelVersion(name: String, alias: String) async throws -> ModelVersion

    // MARK: - Promotions (Swiftflow, not MLflow)

    /// Points `alias` at `version` and writes the audit record, in one transaction.
    ///
    /// `expectedCurrent` is the version the caller saw holding the alias (nil: unset); if the alias
    /// moved since, nothing changes, so a decision is never applied to a state it was not made on.
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for an unknown model or version, `RESOURCE_CONFLICT` if the
    ///   alias no longer points at `expectedCurrent`.
    func promote(
        name: String, alias: String, version: Int64, expectedCurrent: Int64?, rule: String, actor: String
    ) async throws -> PromotionRecord
    /// The model's promotions, newest first, at most `maxResults`.
    func listPromotions(name: String, maxResults: Int) async throws -> [PromotionRecord]
}

extension RegistryStore {
    /// Registers the next version of `name` from a source that names no logged model.
    public func createModelVersion(
        name: String, source: String, runId: String?, tags: [ModelVersionTag], runLink: String?,
        description: String?
    ) async throws -> ModelVersion {
        try await createModelVersion(
            name: name, source: source, runId: runId, tags: tags, runLink: runLink, description: description,
            modelId: nil)
    }
}

extension RegistryStore {
    /// Every registered model matching, whoever asks.
    public func searchRegisteredModels(
        filter: SearchFilter, maxResults: Int, orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<RegisteredModel> {
        try await searchRegisteredModels(
            filter: filter, maxResults: maxResults, orderBy: orderBy, pageToken: pageToken, visibility: .all)
    }
}
