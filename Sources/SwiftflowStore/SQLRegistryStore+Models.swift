import SQLKit
import SwiftflowCore

extension SQLRegistryStore {
    public func createRegisteredModel(
        name: String, tags: [RegisteredModelTag], description: String?
    ) async throws -> RegisteredModel {
        try Validation.validateModelName(name)
        for tag in tags { try Validation.validateRegistryTag(tag) }
        let finalTags = SQLTrackingStore.lastWins(tags)
        do {
            return try await executor.write { db in
                let existing = try await db.raw("SELECT model_id FROM registered_models WHERE name = \(bind: name)").all()
                if let row = existing.first {
                    let promptTag = try await db.raw("""
                        SELECT key FROM registered_model_tags
                        WHERE model_id = \(bind: try row.decode(column: "model_id", as: Int64.self))
                        AND key = \(bind: RegistryTags.isPrompt)
                        """).all()
                    throw Self.alreadyExists(
                        name, existingIsPrompt: !promptTag.isEmpty,
                        newIsPrompt: finalTags.contains { $0.key == RegistryTags.isPrompt })
                }
                let now = Timestamp.nowMillis()
                let inserted = try await db.raw("""
                    INSERT INTO registered_models (name, creation_time, last_updated_time, description, last_version)
                    VALUES (\(bind: name), \(bind: now), \(bind: now), \(bind: description), 0) RETURNING model_id
                    """).all()
                guard let modelId = try inserted.first?.decode(column: "model_id", as: Int64.self) else {
                    throw SwiftflowError(.internalError, "The new registered model has no id.")
                }
                try await self.upsertTags(
                    db, table: "registered_model_tags", owner: [modelId], ownerColumns: "model_id", tags: finalTags)
                return RegisteredModel(
                    name: name, creationTimestamp: now, lastUpdatedTimestamp: now, description: description,
                    tags: finalTags.sorted { $0.key < $1.key })
            }
        } catch let error where executor.isUniqueViolation(error) {
            // A concurrent create on a server database won the race.
            throw Self.alreadyExists(name, existingIsPrompt: false, newIsPrompt: false)
        }
    }

    /// MLflow's duplicate-name error, which tells models and prompts apart.
    static func alreadyExists(_ name: String, existingIsPrompt: Bool, newIsPrompt: Bool) -> SwiftflowError {
        let old = existingIsPrompt ? "Prompt" : "Registered Model"
        let new = newIsPrompt ? "Prompt" : "Registered Model"
        if old != new {
            return .alreadyExists(
                "Tried to create a \(new.lowercased()) with name '\(name)', but the name is already taken by a "
                    + "\(old.lowercased()). MLflow does not allow creating a model and a prompt with the same name.")
        }
        return .alreadyExists("\(new) (name=\(name)) already exists.")
    }

    public func getRegisteredModel(name: String) async throws -> RegisteredModel {
        try Validation.validateModelName(name)
        return try await executor.read { db in
            try await self.loadModel(db, try await self.requireModel(db, name: name))
        }
    }

    public func updateRegisteredModel(name: String, description: String?) async throws -> RegisteredModel {
        try Validation.validateModelName(name)
        return try await executor.write { db in
            var row = try await self.requireModel(db, name: name)
            let now = Timestamp.nowMillis()
            try await db.raw("""
                UPDATE registered_models SET description = \(bind: description), last_updated_time = \(bind: now)
                WHERE model_id = \(bind: row.id)
                """).run()
            row.model.description = description
            row.model.lastUpdatedTimestamp = now
            return try await self.loadModel(db, row)
        }
    }

    public func renameRegisteredModel(name: String, newName: String) async throws -> RegisteredModel {
        try Validation.validateModelName(newName, missingPath: "new_name")
        try Validation.validateModelName(name)
        do {
            return try await executor.write { db in
                var row = try await self.requireModel(db, name: name)
                if newName != name {
                    let taken = try await db.raw("SELECT model_id FROM registered_models WHERE name = \(bind: newName)").all()
                    if !taken.isEmpty { throw SwiftflowError.alreadyExists("Registered Model (name=\(newName)) already exists.") }
                }
                let now = Timestamp.nowMillis()
                // Versions, tags and aliases hang off model_id: only the name and the timestamps change.
                try await db.raw("""
                    UPDATE registered_models SET name = \(bind: newName), last_updated_time = \(bind: now)
                    WHERE model_id = \(bind: row.id)
                    """).run()
                try await db.raw("""
                    UPDATE model_versions SET last_updated_time = \(bind: now) WHERE model_id = \(bind: row.id)
                    """).run()
                try await db.raw("""
                    UPDATE registry_promotions SET model_name = \(bind: newName) WHERE model_name = \(bind: name)
                    """).run()
                row.model.name = newName
                row.model.lastUpdatedTimestamp = now
                return try await self.loadModel(db, row)
            }
        } catch let error where executor.isUniqueViolation(error) {
            throw SwiftflowError.alreadyExists("Registered Model (name=\(newName)) already exists.")
        }
    }

    public func deleteRegisteredModel(name: String) async throws {
        try Validation.validateModelName(name)
        try await executor.write { db in
            let row = try await self.requireModel(db, name: name)
            for table in ["registered_model_aliases", "model_version_tags", "model_versions", "registered_model_tags",
                          "registered_models"] {
                try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE model_id = \(bind: row.id)").run()
            }
        }
    }

    public func getLatestVersions(name: String, stages: [String]) async throws -> [ModelVersion] {
        try Validation.validateModelName(name)
        return try await executor.read { db in
            let row = try await self.requireModel(db, name: name)
            let wanted = stages.isEmpty
                ? Set(ModelVersionStage.allCases)
                : Set(try stages.map { stage throws(SwiftflowError) in try ModelVersionStage(canonicalizing: stage) })
            let latest = try await self.latestVersions(db, modelIds: [row.id])[row.id] ?? []
            let aliases = try await self.loadAliases(db, modelIds: [row.id])[row.id] ?? []
            return latest.filter { wanted.contains($0.currentStage) }.map { version in
                var version = version
                version.aliases = aliases.filter { $0.version == version.version }.map(\.alias)
                return version
            }
        }
    }

    public func setRegisteredModelTag(name: String, tag: RegisteredModelTag) async throws {
        try Validation.validateModelName(name)
        try Validation.validateRegistryTag(tag)
        try await executor.write { db in
            let row = try await self.requireModel(db, name: name)
            try await self.upsertTags(db, table: "registered_model_tags", owner: [row.id], ownerColumns: "model_id", tags: [tag])
        }
    }

    public func deleteRegisteredModelTag(name: String, key: String) async throws {
        try Validation.validateModelName(name)
        try Validation.validateName(key, path: "key")
        try await executor.write { db in
            let row = try await self.requireModel(db, name: name)
            try await db.raw("DELETE FROM registered_model_tags WHERE model_id = \(bind: row.id) AND key = \(bind: key)").run()
        }
    }
}
