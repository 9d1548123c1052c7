import SQLKit
import SwiftflowCore

extension SQLTrackingStore {
    public func createRun(
        experimentId: String, userId: String, startTime: Int64, runName: String?, tags: [RunTag]
    ) async throws -> Run {
        var tags = try tags.enumerated().map { index, tag in try Validation.validateRunTag(tag, path: "tags[\(index)]") }
        let nameTag = tags.last(where: { $0.key == MLflowTags.runName })?.value
        let givenName = runName.flatMap { $0.isEmpty ? nil : $0 }
        if let givenName, let nameTag, givenName != nameTag {
            throw SwiftflowError.invalidParameter(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
                    + "(run_name='\(givenName)', mlflow.runName='\(nameTag)').")
        }
        let name = givenName ?? nameTag ?? RunNames.generate()
        if nameTag == nil { tags.append(RunTag(MLflowTags.runName, name)) }
        tags = Self.lastWins(tags)
        let finalTags = tags
        return try await executor.write { db in
            let experiment = try await self.requireExperiment(db, id: experimentId)
            if experiment.lifecycleStage != .active {
                throw SwiftflowError.invalidParameter(
                    "The experiment \(experimentId) must be in the 'active' state. Current state is deleted.")
            }
            let runId = Self.newId()
            let info = RunInfo(
                runId: runId, experimentId: experiment.experimentId, runName: name, userId: userId, status: .running,
                startTime: startTime, endTime: nil,
                artifactUri: Self.join(Self.join(experiment.artifactLocation, runId), "artifacts"),
                lifecycleStage: .active)
            try await db.raw("""
                INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
                VALUES (\(bind: runId), \(bind: try self.experimentIdValue(experiment.experimentId)), \(bind: name),
                        \(bind: userId), 'RUNNING', \(bind: startTime), NULL, 'active', \(bind: info.artifactUri))
                """).run()
            try await self.upsertTags(db, runId: runId, tags: finalTags)
            return Run(info: info, tags: finalTags)
        }
    }

    public func getRun(id: String) async throws -> Run {
        try await executor.read { db in
            let runs = try await self.loadRuns(db, ids: [id])
            guard let run = runs.first else { throw SwiftflowError.notFound("Run with id=\(id) not found") }
            return run
        }
    }

    public func experimentId(ofRun runId: String) async throws -> String? {
        try await executor.read { db in
            let rows = try await db.raw("SELECT experiment_id FROM runs WHERE run_id = \(bind: runId)").all()
            return try rows.first.map { String(try $0.decode(column: "experiment_id", as: Int64.self)) }
        }
    }

    public func updateRun(id: String, status: RunStatus?, endTime: Int64?, runName: String?) async throws -> RunInfo {
        try await executor.write { db in
            try await self.requireActiveRun(db, runId: id)
            var query = SQLQuery("UPDATE runs SET run_id = run_id")
            if let status {
                query += ", status = "
                query.bind(status.rawValue)
            }
            if let endTime {
                query += ", end_time = "
                query.bind(endTime)
            }
            if let runName, !runName.isEmpty {
                query += ", name = "
                query.bind(runName)
                try await self.upsertTags(db, runId: id, tags: [RunTag(MLflowTags.runName, runName)], syncName: false)
            }
            query += " WHERE run_id = "
            query.bind(id)
            try await db.run(query)
            guard let info = try await self.loadRunInfos(db, ids: [id]).first else {
                throw SwiftflowError.notFound("Run with id=\(id) not found")
            }
            return info
        }
    }

    public func deleteRun(id: String) async throws {
        try await executor.write { db in
            _ = try await self.requireRunStage(db, runId: id)
            try await db.raw("""
                UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = \(bind: Timestamp.nowMillis()) WHERE run_id = \(bind: id)
                """).run()
        }
    }

    public func restoreRun(id: String) async throws {
        try await executor.write { db in
            _ = try await self.requireRunStage(db, runId: id)
            try await db.raw("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_id = \(bind: id)").run()
        }
    }

    public func setTag(runId: String, tag: RunTag) async throws {
        let tag = try Validation.validateRunTag(tag)
        try await executor.write { db in
            try await self.requireActiveRun(db, runId: runId)
            try await self.upsertTags(db, runId: runId, tags: [tag])
        }
    }

    public func deleteTag(runId: String, key: String) async throws {
        try await executor.write { db in
            try await self.requireActiveRun(db, runId: runId)
            let rows = try await db.raw("SELECT key FROM tags WHERE run_id = \(bind: runId) AND key = \(bind: key)").all()
            if rows.isEmpty { throw SwiftflowError.notFound("No tag with name: \(key) in run with id \(runId)") }
            try await db.raw("DELETE FROM tags WHERE run_id = \(bind: runId) AND key = \(bind: key)").run()
        }
    }

    /// Inserts or overwrites tags in one statement; `mlflow.runName` also renames the run.
    package func upsertTags(_ db: any SQLDatabase, runId: String, tags: [RunTag], syncName: Bool = true) async throws {
        guard !tags.isEmpty else { return }
        var query = SQLQuery("INSERT INTO tags (run_id, key, value) VALUES ")
        for (index, tag) in tags.enumerated() {
            if index > 0 { query += ", " }
            query.bindList([runId, tag.key, tag.value])
        }
        query += " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
        try await db.run(query)
        if syncName, let name = tags.last(where: { $0.key == MLflowTags.runName })?.value {
            try await db.raw("UPDATE runs SET name = \(bind: name) WHERE run_id = \(bind: runId)").run()
        }
    }

    // MARK: - Loading runs

    package func loadRunInfos(_ db: any SQLDatabase, ids: [String]) async throws -> [RunInfo] {
        guard !ids.isEmpty else { return [] }
        var query = SQLQuery("SELECT \(Self.runInfoColumns(alias: "runs")) FROM runs WHERE run_id IN ")
        query.bindList(ids)
        var byId: [String: RunInfo] = [:]
        for row in try await db.all(query) {
            let info = try Self.runInfo(from: row)
            byId[info.runId] = info
        }
        return ids.compactMap { byId[$0] }
    }

    /// The `runs` columns a `RunInfo` is read from (see `runInfo(from:)`), of the table aliased `alias`.
    static func runInfoColumns(alias: String) -> String {
        ["run_id", "experiment_id", "name", "user_id", "status", "start_time", "end_time", "lifecycle_stage", "artifact_uri"]
            .map { "\(alias).\($0)" }.joined(separator: ", ")
    }

    static func runInfo(from row: any SQLRow) throws -> RunInfo {
        RunInfo(
            runId: try row.decode(column: "run_id", as: String.self),
            experimentId: String(try row.decode(column: "experiment_id", as: Int64.self)),
            runName: try row.decode(column: "name", as: String.self),
            userId: try row.decode(column: "user_id", as: String.self),
            status: RunStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .running,
            startTime: try row.decode(column: "start_time", as: Int64.self),
            endTime: try row.decode(column: "end_time", as: Int64?.self),
            artifactUri: try row.decode(column: "artifact_uri", as: String.self),
            lifecycleStage: LifecycleStage(rawValue: try row.decode(column: "lifecycle_stage", as: String.self)) ?? .active)
    }

    /// Loads whole runs for `ids`, in that order.
    /// - Parameters:
    ///   - modelInputs: whether to load the logged models each run used; MLflow's search leaves them out.
    package func loadRuns(_ db: any SQLDatabase, ids: [String], modelInputs: Bool = true) async throws -> [Run] {
        try await loadRuns(db, infos: try await loadRunInfos(db, ids: ids), modelInputs: modelInputs)
    }

    /// Completes runs whose infos are read: latest metrics, params, tags, model outputs (and inputs) in
    /// one query, a round trip that matters on PostgreSQL; dataset inputs in a second one, for the runs
    /// that have any. Never a join of everything.
    package func loadRuns(_ db: any SQLDatabase, infos: [RunInfo], modelInputs: Bool) async throws -> [Run] {
        guard !infos.isEmpty else { return [] }
        let found = infos.map(\.runId)
        var runs: [String: Run] = [:]
        for info in infos { runs[info.runId] = Run(info: info) }

        // Every part is `(part, run_id, key, text, number, position, step, flag)`. Chunks keep SQLite's
        // binds (five per id) under its limit.
        var rows: [any SQLRow] = []
        for start in stride(from: 0, to: found.count, by: Self.idsPerLoad) {
            let chunk = Array(found[start..<min(start + Self.idsPerLoad, found.count)])
            var query = SQLQuery("SELECT * FROM (")
            for (index, part) in Self.loadParts(modelInputs: modelInputs, kind: db.kind).enumerated() {
                query += index == 0 ? part : " UNION ALL " + part
                db.kind.appendIsAny("run_id", chunk, to: &query)
            }
            query += ") parts ORDER BY seq"
            rows += try await db.all(query)
        }
        var withInputs: Set<String> = []
        var outputs: [(runId: String, position: Int64, output: LoggedModelOutput)] = []
        var usedModels: [(runId: String, position: Int64, input: LoggedModelInput)] = []
        for row in rows {
            let runId = try row.decode(column: "run_id", as: String.self)
            switch try row.decode(column: "part", as: Int.self) {
            case 0:
                let isNaN = try row.decode(column: "flag", as: Bool.self)
                runs[runId]?.metrics.append(Metric(
                    key: try row.decode(column: "key", as: String.self),
                    value: isNaN ? .nan : try row.decode(column: "number", as: Double.self),
                    timestamp: try row.decode(column: "position", as: Int64.self),
                    step: try row.decode(column: "step", as: Int64.self)))
            case 1:
                runs[runId]?.params.append(
                    KeyValue(try row.decode(column: "key", as: String.self), try row.decode(column: "text", as: String.self)))
            case 2:
                runs[runId]?.tags.append(
                    KeyValue(try row.decode(column: "key", as: String.self), try row.decode(column: "text", as: String.self)))
            case 3:
                outputs.append((runId, try row.decode(column: "position", as: Int64.self), LoggedModelOutput(
                    modelId: try row.decode(column: "key", as: String.self),
                    step: try row.decode(column: "step", as: Int64.self))))
            case 4:
                withInputs.insert(runId)
            default:
                usedModels.append((runId, try row.decode(column: "position", as: Int64.self),
                                   LoggedModelInput(modelId: try row.decode(column: "key", as: String.self))))
            }
        }
        for item in outputs.sorted(by: { $0.position < $1.position }) { runs[item.runId]?.modelOutputs.append(item.output) }
        for item in usedModels.sorted(by: { $0.position < $1.position }) { runs[item.runId]?.modelInputs.append(item.input) }
        if !withInputs.isEmpty {
            for (runId, inputs) in try await loadInputs(db, runIds: found.filter(withInputs.contains)) { runs[runId]?.inputs = inputs }
        }
        return found.compactMap { runs[$0] }
    }

    /// Runs completed per query by `loadRuns`.
    static let idsPerLoad = 1000

    /// The queries of `loadRuns`' union, each to be followed by the condition on run ids. `seq` is the
    /// storage order, in which MLflow lists params, tags and latest metrics (`DatabaseKind.storageOrder`).
    static func loadParts(modelInputs: Bool, kind: DatabaseKind) -> [String] {
        let seq = kind.storageOrder
        var parts = [
            "SELECT 0 AS part, run_id, key, CAST(NULL AS TEXT) AS text, value AS number, timestamp AS position, step, "
                + "is_nan AS flag, \(seq) AS seq FROM latest_metrics WHERE ",
            "SELECT 1, run_id, key, value, NULL, NULL, NULL, NULL, \(seq) FROM params WHERE ",
            "SELECT 2, run_id, key, value, NULL, NULL, NULL, NULL, \(seq) FROM tags WHERE ",
            "SELECT 3, run_id, model_id, NULL, NULL, position, step, NULL, \(seq) FROM run_model_outputs WHERE ",
            "SELECT 4, run_id, NULL, NULL, NULL, NULL, NULL, NULL, \(seq) FROM run_inputs WHERE ",
        ]
        if modelInputs {
            parts.append("SELECT 5, run_id, model_id, NULL, NULL, position, NULL, NULL, \(seq) FROM run_model_inputs WHERE ")
        }
        return parts
    }

    package static func metric(from row: any SQLRow) throws -> Metric {
        let isNaN = try row.decode(column: "is_nan", as: Bool.self)
        return Metric(
            key: try row.decode(column: "key", as: String.self),
            value: isNaN ? .nan : try row.decode(column: "value", as: Double.self),
            timestamp: try row.decode(column: "timestamp", as: Int64.self),
            step: try row.decode(column: "step", as: Int64.self))
    }
}
