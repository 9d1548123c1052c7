/// MLflow's JSON form of the registry entities (`model_registry.proto`), in proto field order.
///
/// Which fields appear follows the reference's `to_proto`: a model's description only when non-empty,
/// a version's description, run id and run link whenever stored (even empty), aliases only when any.
extension JSONWriter {
    public mutating func modelVersion(_ version: ModelVersion) {
        beginObject()
        field("name", version.name)
        field("version", String(version.version))
        field("creation_timestamp", version.creationTimestamp)
        optionalField("last_updated_timestamp", version.lastUpdatedTimestamp)
        optionalField("user_id", version.userId)
        field("current_stage", version.currentStage.rawValue)
        optionalField("description", version.description)
        optionalField("source", version.source)
        optionalField("run_id", version.runId)
        field("status", version.status.rawValue)
        if let message = version.statusMessage, !message.isEmpty { field("status_message", message) }
        keyValues("tags", version.tags)
        optionalField("run_link", version.runLink)
        repeatedField("aliases", version.aliases) { w, alias in w.string(alias) }
        endObject()
    }

    public mutating func registeredModel(_ model: RegisteredModel) {
        beginObject()
        field("name", model.name)
        field("creation_timestamp", model.creationTimestamp)
        if let updated = model.lastUpdatedTimestamp, updated != 0 { field("last_updated_timestamp", updated) }
        optionalField("user_id", model.userId)
        if let description = model.description, !description.isEmpty { field("description", description) }
        modelVersions("latest_versions", model.latestVersions)
        keyValues("tags", model.tags)
        repeatedField("aliases", model.aliases) { w, alias in
            w.beginObject()
            w.field("alias", alias.alias)
            w.field("version", String(alias.version))
            w.endObject()
        }
        endObject()
    }

    /// A repeated `ModelVersion` field, omitted when empty.
    public mutating func modelVersions(_ name: String, _ versions: [ModelVersion]) {
        repeatedField(name, versions) { w, version in w.modelVersion(version) }
    }

    /// A repeated `RegisteredModel` field, omitted when empty.
    public mutating func registeredModels(_ name: String, _ models: [RegisteredModel]) {
        repeatedField(name, models) { w, model in w.registeredModel(model) }
    }
}
