import SQLKit
import SwiftflowCore

extension SQLTrackingStore {
    public func createExperiment(name: String, artifactLocation: String?, tags: [ExperimentTag]) async throws -> String {
        try Validation.validateExperimentName(name)
        for tag in tags { try Validation.validateExperimentTag(tag) }
        let root = defaultArtifactRoot
        let lock = executor.kind.lockForKeyAllocation("experiments")
        return try await executor.write { db in
            // Concurrent creates (several PostgreSQL servers) must not both see the same name free or
            // the same largest id.
            if let lock { try await db.raw(SQLQueryString(lock)).run() }
            let existing = try await db.raw("SELECT experiment_id FROM experiments WHERE name = \(bind: name)").all()
            if !existing.isEmpty { throw SwiftflowError.alreadyExists("Experiment(name=\(name)) already exists.") }
            let now = Timestamp.nowMillis()
            let next = try await db.raw("SELECT COALESCE(MAX(experiment_id), -1) + 1 AS next FROM experiments").all()
            let id = try next.first?.decode(column: "next", as: Int64.self) ?? 1
            let location = artifactLocation.flatMap { $0.isEmpty ? nil : $0 } ?? Self.join(root, String(id))
            try await db.raw("""
                INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                VALUES (\(bind: id), \(bind: name), \(bind: location), 'active', \(bind: now), \(bind: now))
                """).run()
            if !tags.isEmpty {
                var query = SQLQuery("INSERT INTO experiment_tags (experiment_id, key, value) VALUES ")
                for (index, tag) in Self.lastWins(tags).enumerated() {
                    if index > 0 { query += ", " }
                    query.bindList([id, tag.key, tag.value])
                }
                try await db.run(query)
            }
            return String(id)
        }
    }

    public func getExperiment(id: String) async throws -> Experiment {
        try await executor.read { db in try await self.requireExperiment(db, id: id) }
    }

    public func getExperiment(name: String) async throws -> Experiment? {
        try await executor.read { db in
            let rows = try await db.raw("SELECT experiment_id FROM experiments WHERE name = \(bind: name)").all()
            guard let row = rows.first else { return nil }
            return try await self.requireExperiment(db, id: String(try row.decode(column: "experiment_id", as: Int64.self)))
        }
    }

    public func renameExperiment(id: String, newName: String) async throws {
        try Validation.validateExperimentName(newName)
        try await executor.write { db in
            let experiment = try await self.requireExperiment(db, id: id)
            if experiment.lifecycleStage != .active {
                throw SwiftflowError(.invalidState, "Cannot rename a non-active experiment.")
            }
            if experiment.name == newName { return }
            let taken = try await db.raw("SELECT experiment_id FROM experiments WHERE name = \(bind: newName)").all()
            if !taken.isEmpty { throw SwiftflowError(.badRequest, "Experiment(name=\(newName)) already exists.") }
            try await db.raw("""
                UPDATE experiments SET name = \(bind: newName), last_update_time = \(bind: Timestamp.nowMillis())
                WHERE experiment_id = \(bind: try self.experimentIdValue(id))
                """).run()
        }
    }

    public func deleteExperiment(id: String) async throws {
        try await setExperimentStage(id: id, to: .deleted)
    }

    public func restoreExperiment(id: String) async throws {
        try await setExperimentStage(id: id, to: .active)
    }

    /// Deleting an experiment deletes its runs; restoring it restores them, as MLflow's SQL store does.
    private func setExperimentStage(id: String, to stage: LifecycleStage) async throws {
        try await executor.write { db in
            let experiment = try await self.requireExperiment(db, id: id)
            if stage == .active, experiment.lifecycleStage == .active {
                throw SwiftflowError(.invalidParameterValue, "Cannot restore an active experiment.")
            }
            let numeric = try self.experimentIdValue(id)
            let now = Timestamp.nowMillis()
            try await db.raw("""
                UPDATE experiments SET lifecycle_stage = \(bind: stage.rawValue), last_update_time = \(bind: now)
                WHERE experiment_id = \(bind: numeric)
                """).run()
            let deletedTime: Int64? = stage == .deleted ? now : nil
            try await db.raw("""
                UPDATE runs SET lifecycle_stage = \(bind: stage.rawValue), deleted_time = \(bind: deletedTime)
                WHERE experiment_id = \(bind: numeric)
                """).run()
        }
    }

    public func setExperimentTag(id: String, tag: ExperimentTag) async throws {
        try Validation.validateExperimentTag(tag)
        try await executor.write { db in
            let experiment = try await self.requireExperiment(db, id: id)
            if experiment.lifecycleStage != .active {
                throw SwiftflowError.invalidParameter(
                    "The experiment \(id) must be in the 'active' state. Current state is \(experiment.lifecycleStage.rawValue).")
            }
            let numeric = try self.experimentIdValue(id)
            try await db.raw("""
                INSERT INTO experiment_tags (experiment_id, key, value) VALUES (\(bind: numeric), \(bind: tag.key), \(bind: tag.value))
                ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value
                """).run()
            try await db.raw("""
                UPDATE experiments SET last_update_time = \(bind: Timestamp.nowMillis()) WHERE experiment_id = \(bind: numeric)
                """).run()
        }
    }

    public func deleteExperimentTag(id: String, key: String) async throws {
        try await executor.write { db in
            let experiment = try await self.requireExperiment(db, id: id)
            if experiment.lifecycleStage != .active {
                throw SwiftflowError.invalidParameter(
                    "The experiment \(id) must be in the 'active' state. Current state is \(experiment.lifecycleStage.rawValue).")
            }
            guard experiment.tags.contains(where: { $0.key == key }) else {
                throw SwiftflowError.notFound("No tag with name: \(key) in experiment with id \(id)")
            }
            try await db.raw("""
                DELETE FROM experiment_tags WHERE experiment_id = \(bind: try self.experimentIdValue(id)) AND key = \(bind: key)
                """).run()
        }
    }

    public func searchExperiments(
        filter: SearchFilter, viewType: ViewType, maxResults: Int, orderBy: [OrderByClause], pageToken: String?,
        visibility: Visibility
    ) async throws -> Page<Experiment> {
        let offset = try PageToken.decodeOffset(pageToken)
        var query = SQLQuery("""
            SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time
            FROM experiments e WHERE e.lifecycle_stage IN
            """)
        query.bindList(viewType.stages.map(\.rawValue))
        for comparison in filter.comparisons {
            query += " AND "
            try SearchCompiler.experimentCondition(comparison, kind: executor.kind, into: &query)
        }
        // Ids that are not numbers name no experiment of ours.
        SearchCompiler.visibilityCondition(
            "e.experiment_id", visibility, values: { $0.compactMap { Int64($0) } }, into: &query)
        query += " ORDER BY "
        query += try SearchCompiler.experimentOrder(orderBy)
        query += " LIMIT "
        query.bind(maxResults + 1)
        query += " OFFSET "
        query.bind(offset)
        let finalQuery = query
        return try await executor.read { db in
            var experiments = try await db.all(finalQuery).map(Self.experiment(from:))
            var token: String?
            if experiments.count > maxResults {
                experiments.removeLast(experiments.count - maxResults)
                token = PageToken.encode(offset: offset + maxResults)
            }
            let tags = try await self.experimentTags(db, ids: experiments.compactMap { Int64($0.experimentId) })
            for index in experiments.indices {
                experiments[index].tags = tags[Int64(experiments[index].experimentId) ?? -1] ?? []
            }
            return Page(items: experiments, nextPageToken: token)
        }
    }

    /// Keeps the last value given for each key, in first-seen order.
    package static func lastWins(_ items: [KeyValue]) -> [KeyValue] {
        var position: [String: Int] = [:]
        var result: [KeyValue] = []
        for item in items {
            if let index = position[item.key] {
                result[index] = item
            } else {
                position[item.key] = result.count
                result.append(item)
            }
        }
        return result
    }
}
