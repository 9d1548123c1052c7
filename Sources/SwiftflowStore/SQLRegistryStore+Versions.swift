import SQLKit
import SwiftflowCore

extension SQLRegistryStore {
    public func createModelVersion(
        name: String, source: String, runId: String?, tags: [ModelVersionTag], runLink: String?,
        description: String?, modelId loggedModelId: String?
    ) async throws -> ModelVersion {
        try Validation.validateModelName(name)
        for tag in tags { try Validation.validateRegistryTag(tag) }
        let finalTags = SQLTrackingStore.lastWins(tags)
        let reference: ModelsURI? = source.lowercased().hasPrefix("models:")
            ? try Self.referencedVersion(source) : nil
        return try await executor.write { db in
            let model = try await self.requireModel(db, name: name)
            var storageLocation = source
            var runId = runId
            switch reference {
            case .version(let sourceName, let sourceVersion)?:
                do {
                    let number = try Validation.parseModelVersion(sourceVersion)
                    let modelId = try await self.requireVersion(db, name: sourceName, version: number)
                    storageLocation = try await self.downloadURI(db, modelId: modelId, version: number)
                } catch let error as SwiftflowError {
                    throw Self.unfetchable(source, error.message)
                }
            case .modelId(let id)?:
                // The logged model lives in the tracking tables of the same database.
                do {
                    let logged = try await Self.loggedModel(db, id: id)
                    storageLocation = logged.artifactLocation
                    if (runId ?? "").isEmpty { runId = logged.sourceRunId }
                } catch let error as SwiftflowError {
                    throw Self.unfetchable(source, error.message)
                }
            default:
                break
            }
            if (runId ?? "").isEmpty, let loggedModelId, !loggedModelId.isEmpty {
                runId = try await Self.loggedModel(db, id: loggedModelId).sourceRunId
            }
            let now = Timestamp.nowMillis()
            // The counter only grows: a deleted version's number is never given again.
            let counted = try await db.raw("""
                UPDATE registered_models SET last_version = last_version + 1, last_updated_time = \(bind: now)
                WHERE model_id = \(bind: model.id) RETURNING last_version
                """).all()
            guard let version = try counted.first?.decode(column: "last_version", as: Int64.self) else {
                throw SwiftflowError(.internalError, "Model Version creation error (name=\(name)).")
            }
            try await db.raw("""
                INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, description,
                    current_stage, source, storage_location, run_id, run_link, status)
                VALUES (\(bind: model.id), \(bind: version), \(bind: now), \(bind: now), \(bind: description),
                    \(bind: ModelVersionStage.none.rawValue), \(bind: source), \(bind: storageLocation), \(bind: runId),
                    \(bind: runLink), \(bind: ModelVersionStatus.ready.rawValue))
                """).run()
            try await self.upsertTags(
                db, table: "model_version_tags", owner: [model.id, version], ownerColumns: "model_id, version",
                tags: finalTags)
            return ModelVersion(
                name: name, version: version, creationTimestamp: now, lastUpdatedTimestamp: now,
                currentStage: .none, description: description, source: source, runId: runId, status: .ready,
                tags: finalTags.sorted { $0.key < $1.key }, runLink: runLink)
        }
    }

    /// The `models:/` URI a version is created from; only `models:/name/version` can be resolved here
    /// (the server turns stage, alias and `latest` forms into it first).
    private static func referencedVersion(_ source: String) throws(SwiftflowError) -> ModelsURI {
        let parsed: ModelsURI
        do {
            parsed = try ModelsURI.parse(source)
        } catch {
            throw unfetchable(source, error.message)
        }
        switch parsed {
        case .version, .modelId: return parsed
        default:
            throw unfetchable(source, "Only models:/<name>/<version> sources can be resolved by the registry store.")
        }
    }

    /// The artifact location and source run of an active logged model.
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` with MLflow's message.
    private static func loggedModel(
        _ db: any SQLDatabase, id: String
    ) async throws -> (artifactLocation: String, sourceRunId: String?) {
        let rows = try await db.raw("""
            SELECT artifact_location, source_run_id FROM logged_models
            WHERE model_id = \(bind: id) AND lifecycle_stage != 'deleted'
            """).all()
        guard let row = rows.first else { throw SwiftflowError.notFound("Logged model with ID '\(id)' not found.") }
        return (try row.decode(column: "artifact_location", as: String.self),
                try row.decode(column: "source_run_id", as: String?.self))
    }

    private static func unfetchable(_ source: String, _ reason: String) -> SwiftflowError {
        SwiftflowError(
            .internalError, "Unable to fetch model from model URI source artifact location '\(source)'.Error: \(reason)")
    }

    public func getModelVersion(name: String, version: String) async throws -> ModelVersion {
        try Validation.validateModelName(name)
        let number = try Validation.parseModelVersion(version)
        return try await executor.read { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            return try await self.loadVersion(db, modelId: modelId, version: number)
        }
    }

    public func updateModelVersion(name: String, version: String, description: String?) async throws -> ModelVersion {
        try Validation.validateModelName(name)
        let number = try Validation.parseModelVersion(version)
        return try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            try await db.raw("""
                UPDATE model_versions SET description = \(bind: description), last_updated_time = \(bind: Timestamp.nowMillis())
                WHERE model_id = \(bind: modelId) AND version = \(bind: number)
                """).run()
            return try await self.loadVersion(db, modelId: modelId, version: number)
        }
    }

    public func transitionModelVersionStage(
        name: String, version: String, stage: String, archiveExistingVersions: Bool
    ) async throws -> ModelVersion {
        let target = try ModelVersionStage(canonicalizing: stage)
        if archiveExistingVersions, !ModelVersionStage.active.contains(target) {
            // MLflow raises this without a code, so clients see INTERNAL_ERROR.
            throw SwiftflowError(
                .internalError,
                "Model version transition cannot archive existing model versions because '\(stage)' is not an Active "
                    + "stage. Valid stages are ['Staging', 'Production']")
        }
        try Validation.validateModelName(name)
        let number = try Validation.parseModelVersion(version)
        return try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            let now = Timestamp.nowMillis()
            if archiveExistingVersions {
                try await db.raw("""
                    UPDATE model_versions SET current_stage = \(bind: ModelVersionStage.archived.rawValue),
                        last_updated_time = \(bind: now)
                    WHERE model_id = \(bind: modelId) AND version != \(bind: number)
                        AND current_stage = \(bind: target.rawValue)
                    """).run()
            }
            try await db.raw("""
                UPDATE model_versions SET current_stage = \(bind: target.rawValue), last_updated_time = \(bind: now)
                WHERE model_id = \(bind: modelId) AND version = \(bind: number)
                """).run()
            try await db.raw("""
                UPDATE registered_models SET last_updated_time = \(bind: now) WHERE model_id = \(bind: modelId)
                """).run()
            return try await self.loadVersion(db, modelId: modelId, version: number)
        }
    }

    public func deleteModelVersion(name: String, version: String) async throws {
        let number = try Validation.parseModelVersion(version)
        try Validation.validateModelName(name)
        try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            try await db.raw("""
                UPDATE registered_models SET last_updated_time = \(bind: Timestamp.nowMillis()) WHERE model_id = \(bind: modelId)
                """).run()
            for table in ["registered_model_aliases", "model_version_tags", "model_versions"] {
                try await db.raw("""
                    DELETE FROM \(unsafeRaw: table) WHERE model_id = \(bind: modelId) AND version = \(bind: number)
                    """).run()
            }
        }
    }

    public func getModelVersionDownloadURI(name: String, version: String) async throws -> String {
        try Validation.validateModelName(name)
        let number = try Validation.parseModelVersion(version)
        return try await executor.read { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            return try await self.downloadURI(db, modelId: modelId, version: number)
        }
    }

    /// The storage location, or the source when there is none (MLflow's `storage_location or source`).
    private func downloadURI(_ db: any SQLDatabase, modelId: Int64, version: Int64) async throws -> String {
        let rows = try await db.raw("""
            SELECT source, storage_location FROM model_versions WHERE model_id = \(bind: modelId) AND version = \(bind: version)
            """).all()
        guard let row = rows.first else { return "" }
        if let location = try row.decode(column: "storage_location", as: String?.self), !location.isEmpty { return location }
        return try row.decode(column: "source", as: String?.self) ?? ""
    }

    public func setModelVersionTag(name: String, version: String, tag: ModelVersionTag) async throws {
        try Validation.validateModelName(name)
        let number = try Validation.parseModelVersion(version)
        try Validation.validateRegistryTag(tag)
        try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            try await self.upsertTags(
                db, table: "model_version_tags", owner: [modelId, number], ownerColumns: "model_id, version", tags: [tag])
        }
    }

    public func deleteModelVersionTag(name: String, version: String, key: String) async throws {
        try Validation.validateModelName(name)
        let number = try Validation.parseModelVersion(version)
        try Validation.validateName(key, path: "key")
        try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            try await db.raw("""
                DELETE FROM model_version_tags WHERE model_id = \(bind: modelId) AND version = \(bind: number)
                AND key = \(bind: key)
                """).run()
        }
    }

    // MARK: - Aliases

    public func setRegisteredModelAlias(name: String, alias: String, version: String) async throws {
        try Validation.validateModelName(name)
        try Validation.validateAliasName(alias)
        try Validation.validateAliasNameNotReserved(alias)
        let number = try Validation.parseModelVersion(version)
        try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: number)
            try await db.raw("""
                INSERT INTO registered_model_aliases (model_id, alias, version)
                VALUES (\(bind: modelId), \(bind: alias), \(bind: number))
                ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version
                """).run()
        }
    }

    public func deleteRegisteredModelAlias(name: String, alias: String) async throws {
        try Validation.validateModelName(name)
        try Validation.validateAliasName(alias)
        try await executor.write { db in
            let model = try await self.requireModel(db, name: name)
            try await db.raw("""
                DELETE FROM registered_model_aliases WHERE model_id = \(bind: model.id) AND alias = \(bind: alias)
                """).run()
        }
    }

    public func getModelVersion(name: String, alias: String) async throws -> ModelVersion {
        try Validation.validateModelName(name)
        try Validation.validateAliasName(alias)
        if alias.lowercased() == "latest" {
            let latest = try await getLatestVersions(name: name, stages: [])
            guard let newest = latest.max(by: { $0.version < $1.version }) else {
                throw SwiftflowError.notFound("Latest version not found for model \(name).")
            }
            return newest
        }
        return try await executor.read { db in
            let model = try await self.requireModel(db, name: name)
            let rows = try await db.raw("""
                SELECT version FROM registered_model_aliases WHERE model_id = \(bind: model.id) AND alias = \(bind: alias)
                """).all()
            guard let row = rows.first else {
                throw SwiftflowError.invalidParameter("Registered model alias \(alias) not found.")
            }
            return try await self.loadVersion(db, modelId: model.id, version: try row.decode(column: "version", as: Int64.self))
        }
    }
}
