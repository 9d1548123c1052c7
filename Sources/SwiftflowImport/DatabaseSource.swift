import Logging
import SwiftflowCore

/// An MLflow database in MLflow's SQLAlchemy schema, at any migration head MLflow 2.x–3.x leaves:
/// columns and tables added over the years are read when present and given MLflow's defaults when not.
final class DatabaseSource: MLflowSource {
    let database: SourceDatabase
    let tables: Set<String>
    private let columns: [String: Set<String>]

    var description: String { database.description }

    private init(database: SourceDatabase, tables: Set<String>, columns: [String: Set<String>]) {
        self.database = database
        self.tables = tables
        self.columns = columns
    }

    static func open(_ database: SourceDatabase) async throws -> DatabaseSource {
        let tables = try await database.tables()
        for required in ["experiments", "runs", "params", "tags", "metrics"] where !tables.contains(required) {
            await database.close()
            throw SwiftflowError.invalidParameter(
                "\(database.description) is not an MLflow tracking database: it has no '\(required)' table.")
        }
        var columns: [String: Set<String>] = [:]
        for table in ["experiments", "runs", "inputs", "model_versions", "registered_models"] where tables.contains(table) {
            columns[table] = try await database.columns(table)
        }
        return DatabaseSource(database: database, tables: tables, columns: columns)
    }

    func close() async { await database.close() }

    /// The order MLflow lists tags, params and latest metrics in: the database's storage order, which
    /// the target's inserts keep.
    private var storageOrder: String { database.isSQLite ? "rowid" : "ctid" }

    private func has(_ table: String, _ column: String) -> Bool { columns[table]?.contains(column) ?? false }

    /// The column, or `fallback` (an SQL literal) in databases older than it.
    private func column(_ table: String, _ column: String, or fallback: String = "NULL") -> String {
        has(table, column) ? column : fallback
    }

    /// Experiments of MLflow's default workspace only (databases older than workspaces have only those).
    private var experimentScope: String {
        has("experiments", "workspace") ? "workspace = 'default'" : "1 = 1"
    }

    private var runScope: String {
        has("experiments", "workspace")
            ? "experiment_id IN (SELECT experiment_id FROM experiments WHERE workspace = 'default')" : "1 = 1"
    }

    private var modelScope: String {
        has("registered_models", "workspace") ? "workspace = 'default'" : "1 = 1"
    }

    func counts() async throws -> SourceCounts {
        var counts = SourceCounts()
        counts.experiments = try await count("SELECT COUNT(*) FROM experiments WHERE \(experimentScope)")
        counts.runs = try await count("SELECT COUNT(*) FROM runs WHERE \(runScope)")
        if tables.contains("logged_models") {
            counts.loggedModels = try await count("SELECT COUNT(*) FROM logged_models WHERE \(runScope)")
        }
        if tables.contains("registered_models") {
            counts.registeredModels = try await count("SELECT COUNT(*) FROM registered_models WHERE \(modelScope)")
        }
        return counts
    }

    private func count(_ sql: String) async throws -> Int {
        Int(try await database.rows(sql, types: [.int]).first?.first?.int ?? 0)
    }

    func experiments() async throws -> [ExperimentRecord] {
        let rows = try await database.rows("""
            SELECT experiment_id, name, artifact_location, lifecycle_stage,
                \(column("experiments", "creation_time")), \(column("experiments", "last_update_time"))
            FROM experiments WHERE \(experimentScope) ORDER BY experiment_id
            """, types: [.int, .text, .text, .text, .int, .int])
        var tags: [Int64: [KeyValue]] = [:]
        if tables.contains("experiment_tags") {
            for row in try await database.rows(
                "SELECT experiment_id, key, value FROM experiment_tags ORDER BY \(storageOrder)", types: [.int, .text, .text])
            {
                guard let id = row[0].int, let key = row[1].string else { continue }
                tags[id, default: []].append(KeyValue(key: key, value: row[2].string ?? ""))
            }
        }
        return rows.compactMap { row in
            guard let id = row[0].int, let name = row[1].string else { return nil }
            let created = row[4].int ?? 0
            return ExperimentRecord(
                id: id, name: name, artifactLocation: row[2].string ?? "",
                lifecycleStage: row[3].string ?? "active", creationTime: created,
                lastUpdateTime: row[5].int ?? created, tags: tags[id] ?? [])
        }
    }

    func runIds(after: String?, limit: Int) async throws -> [String] {
        try await database.rows("""
            SELECT run_uuid FROM runs WHERE run_uuid > ? AND \(runScope) ORDER BY run_uuid LIMIT ?
            """, [.text(after ?? ""), .int(Int64(limit))], types: [.text]).compactMap { $0[0].string }
    }

    /// `column IN (?, ?, …)` for `count` binds.
    private func inList(_ column: String, _ count: Int) -> String {
        "\(column) IN (" + Array(repeating: "?", count: count).joined(separator: ", ") + ")"
    }

    func runs(_ ids: [String]) async throws -> [RunRecord] {
        guard !ids.isEmpty else { return [] }
        let binds = ids.map { SourceValue.text($0) }
        let rows = try await database.rows("""
            SELECT run_uuid, experiment_id, \(column("runs", "name")), user_id, status, start_time, end_time,
                lifecycle_stage, artifact_uri, \(column("runs", "deleted_time"))
            FROM runs WHERE \(inList("run_uuid", ids.count)) ORDER BY run_uuid
            """, binds, types: [.text, .int, .text, .text, .text, .int, .int, .text, .text, .int])
        var runs: [RunRecord] = []
        var index: [String: Int] = [:]
        for row in rows {
            guard let id = row[0].string, let experimentId = row[1].int else { continue }
            index[id] = runs.count
            runs.append(RunRecord(
                id: id, experimentId: experimentId, name: row[2].string ?? "", userId: row[3].string ?? "",
                status: row[4].string ?? "RUNNING", startTime: row[5].int ?? 0, endTime: row[6].int,
                lifecycleStage: row[7].string ?? "active", artifactUri: row[8].string ?? "", deletedTime: row[9].int))
        }
        func each(_ sql: String, _ types: [SourceType], _ body: (inout RunRecord, [SourceValue]) -> Void) async throws {
            for row in try await database.rows(sql, binds, types: types) {
                guard let id = row[0].string, let at = index[id] else { continue }
                body(&runs[at], row)
            }
        }
        try await each("SELECT run_uuid, key, value FROM params WHERE \(inList("run_uuid", ids.count)) ORDER BY \(storageOrder)",
                       [.text, .text, .text]) { run, row in
            run.params.append(KeyValue(key: row[1].string ?? "", value: row[2].string ?? ""))
        }
        try await each("SELECT run_uuid, key, value FROM tags WHERE \(inList("run_uuid", ids.count)) ORDER BY \(storageOrder)",
                       [.text, .text, .text]) { run, row in
            run.tags.append(KeyValue(key: row[1].string ?? "", value: row[2].string ?? ""))
        }
        let metricColumns = "run_uuid, key, value, timestamp, step, is_nan"
        let metricTypes: [SourceType] = [.text, .text, .double, .int, .int, .bool]
        try await each("SELECT \(metricColumns) FROM metrics WHERE \(inList("run_uuid", ids.count))", metricTypes) { run, row in
            run.metrics.append(Self.point(row))
        }
        if tables.contains("latest_metrics") {
            for at in runs.indices { runs[at].latestMetrics = [] }
            try await each("SELECT \(metricColumns) FROM latest_metrics WHERE \(inList("run_uuid", ids.count)) ORDER BY \(storageOrder)",
                           metricTypes) { run, row in
                run.latestMetrics?.append(Self.point(row))
            }
        }
        // Older runs have no name column, or an empty one: MLflow shows the mlflow.runName tag.
        for at in runs.indices where runs[at].name.isEmpty {
            runs[at].name = runs[at].tags.first { $0.key == "mlflow.runName" }?.value ?? ""
        }
        if tables.contains("inputs") {
            try await readInputs(ids, binds, &runs, index)
        }
        return runs
    }

    private static func point(_ row: [SourceValue]) -> MetricPoint {
        let isNaN = row[5].bool ?? false
        return MetricPoint(
            key: row[1].string ?? "", value: isNaN ? 0 : (row[2].double ?? 0), timestamp: row[3].int ?? 0,
            step: row[4].int ?? 0, isNaN: isNaN)
    }

    private func readInputs(_ ids: [String], _ binds: [SourceValue], _ runs: inout [RunRecord], _ index: [String: Int]) async throws {
        let ordering = database.isSQLite ? " ORDER BY rowid" : ""
        let datasetRows = try await database.rows("""
            SELECT destination_id, input_uuid, source_id FROM inputs
            WHERE source_type = 'DATASET' AND destination_type = 'RUN' AND \(inList("destination_id", ids.count))\(ordering)
            """, binds, types: [.text, .text, .text])
        var inputOwner: [String: (run: Int, input: Int)] = [:]
        for row in datasetRows {
            guard let runId = row[0].string, let at = index[runId], let inputId = row[1].string,
                  let datasetId = row[2].string else { continue }
            inputOwner[inputId] = (at, runs[at].inputs.count)
            runs[at].inputs.append(RunInputRecord(datasetId: datasetId, tags: []))
        }
        if tables.contains("input_tags"), !inputOwner.isEmpty {
            let inputIds = Array(inputOwner.keys)
            for chunk in stride(from: 0, to: inputIds.count, by: 500).map({ Array(inputIds[$0..<min($0 + 500, inputIds.count)]) }) {
                for row in try await database.rows(
                    "SELECT input_uuid, name, value FROM input_tags WHERE \(inList("input_uuid", chunk.count))",
                    chunk.map { .text($0) }, types: [.text, .text, .text])
                {
                    guard let inputId = row[0].string, let owner = inputOwner[inputId] else { continue }
                    runs[owner.run].inputs[owner.input].tags.append(KeyValue(key: row[1].string ?? "", value: row[2].string ?? ""))
                }
            }
        }
        let step = has("inputs", "step") ? "step" : "0"
        let modelRows = try await database.rows("""
            SELECT source_id, destination_id, source_type, \(step) FROM inputs
            WHERE source_type IN ('RUN_INPUT', 'RUN_OUTPUT') AND \(inList("source_id", ids.count))\(ordering)
            """, binds, types: [.text, .text, .text, .int])
        for row in modelRows {
            guard let runId = row[0].string, let at = index[runId], let modelId = row[1].string else { continue }
            if row[2].string == "RUN_INPUT" {
                runs[at].modelInputs.append(modelId)
            } else {
                runs[at].modelOutputs.append(ModelOutputRecord(modelId: modelId, step: row[3].int ?? 0))
            }
        }
    }

    func datasets() async throws -> [DatasetRecord] {
        guard tables.contains("datasets") else { return [] }
        return try await database.rows("""
            SELECT dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema,
                dataset_profile
            FROM datasets WHERE \(runScope)
            """, types: [.text, .int, .text, .text, .text, .text, .text, .text]).compactMap { row in
            guard let id = row[0].string, let experimentId = row[1].int else { return nil }
            return DatasetRecord(
                id: id, experimentId: experimentId, name: row[2].string ?? "", digest: row[3].string ?? "",
                sourceType: row[4].string ?? "", source: row[5].string ?? "", schema: row[6].string, profile: row[7].string)
        }
    }

    func loggedModels() async throws -> [LoggedModelRecord] {
        guard tables.contains("logged_models") else { return [] }
        let rows = try await database.rows("""
            SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms,
                status, lifecycle_stage, model_type, source_run_id, status_message
            FROM logged_models WHERE \(runScope) ORDER BY creation_timestamp_ms, model_id
            """, types: [.text, .int, .text, .text, .int, .int, .int, .text, .text, .text, .text])
        var models: [LoggedModelRecord] = []
        var index: [String: Int] = [:]
        for row in rows {
            guard let id = row[0].string, let experimentId = row[1].int else { continue }
            index[id] = models.count
            let created = row[4].int ?? 0
            models.append(LoggedModelRecord(
                id: id, experimentId: experimentId, name: row[2].string ?? "", artifactLocation: row[3].string ?? "",
                creationTime: created, lastUpdatedTime: row[5].int ?? created, status: row[6].int ?? 0,
                lifecycleStage: row[7].string ?? "active", modelType: row[8].string, sourceRunId: row[9].string,
                statusMessage: row[10].string))
        }
        let ordering = database.isSQLite ? " ORDER BY rowid" : ""
        if tables.contains("logged_model_params") {
            for row in try await database.rows(
                "SELECT model_id, param_key, param_value FROM logged_model_params\(ordering)", types: [.text, .text, .text])
            {
                guard let id = row[0].string, let at = index[id] else { continue }
                models[at].params.append(KeyValue(key: row[1].string ?? "", value: row[2].string ?? ""))
            }
        }
        if tables.contains("logged_model_tags") {
            for row in try await database.rows(
                "SELECT model_id, tag_key, tag_value FROM logged_model_tags\(ordering)", types: [.text, .text, .text])
            {
                guard let id = row[0].string, let at = index[id] else { continue }
                models[at].tags.append(KeyValue(key: row[1].string ?? "", value: row[2].string ?? ""))
            }
        }
        if tables.contains("logged_model_metrics") {
            for row in try await database.rows("""
                SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name,
                    dataset_digest
                FROM logged_model_metrics\(ordering)
                """, types: [.text, .text, .double, .int, .int, .text, .text, .text])
            {
                guard let id = row[0].string, let at = index[id] else { continue }
                models[at].metrics.append(LoggedModelMetricRecord(
                    key: row[1].string ?? "", value: row[2].double ?? 0, timestamp: row[3].int ?? 0, step: row[4].int ?? 0,
                    runId: row[5].string ?? "", datasetName: row[6].string, datasetDigest: row[7].string))
            }
        }
        return models
    }

    func registeredModels() async throws -> [RegisteredModelRecord] {
        guard tables.contains("registered_models") else { return [] }
        let scope = modelScope
        let rows = try await database.rows("""
            SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE \(scope) ORDER BY name
            """, types: [.text, .int, .int, .text])
        var models: [RegisteredModelRecord] = []
        var index: [String: Int] = [:]
        for row in rows {
            guard let name = row[0].string else { continue }
            index[name] = models.count
            let created = row[1].int ?? 0
            models.append(RegisteredModelRecord(
                name: name, creationTime: created, lastUpdatedTime: row[2].int ?? created, description: row[3].string,
                lastVersion: 0))
        }
        if tables.contains("registered_model_tags") {
            for row in try await database.rows(
                "SELECT name, key, value FROM registered_model_tags WHERE \(scope) ORDER BY \(storageOrder)", types: [.text, .text, .text])
            {
                guard let name = row[0].string, let at = index[name] else { continue }
                models[at].tags.append(KeyValue(key: row[1].string ?? "", value: row[2].string ?? ""))
            }
        }
        if tables.contains("model_versions") {
            let rows = try await database.rows("""
                SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source,
                    \(column("model_versions", "storage_location")), run_id, run_link, status, status_message
                FROM model_versions WHERE \(scope) ORDER BY name, version
                """, types: [.text, .int, .int, .int, .text, .text, .text, .text, .text, .text, .text, .text, .text])
            for row in rows {
                guard let name = row[0].string, let at = index[name], let version = row[1].int else { continue }
                models[at].lastVersion = max(models[at].lastVersion, version)
                // MLflow keeps a deleted version's row, staged Deleted_Internal, only so its number stays taken.
                if row[6].string == "Deleted_Internal" { continue }
                let created = row[2].int ?? 0
                models[at].versions.append(ModelVersionRecord(
                    version: version, creationTime: created, lastUpdatedTime: row[3].int ?? created,
                    description: row[4].string, userId: row[5].string, currentStage: row[6].string ?? "None",
                    source: row[7].string, storageLocation: row[8].string, runId: row[9].string, runLink: row[10].string,
                    status: row[11].string ?? "READY", statusMessage: row[12].string))
            }
        }
        if tables.contains("model_version_tags") {
            for row in try await database.rows(
                "SELECT name, version, key, value FROM model_version_tags WHERE \(scope) ORDER BY \(storageOrder)", types: [.text, .int, .text, .text])
            {
                guard let name = row[0].string, let at = index[name], let version = row[1].int,
                      let versionAt = models[at].versions.firstIndex(where: { $0.version == version }) else { continue }
                models[at].versions[versionAt].tags.append(KeyValue(key: row[2].string ?? "", value: row[3].string ?? ""))
            }
        }
        if tables.contains("registered_model_aliases") {
            for row in try await database.rows(
                "SELECT name, alias, version FROM registered_model_aliases WHERE \(scope)", types: [.text, .text, .int])
            {
                guard let name = row[0].string, let at = index[name], let alias = row[1].string, let version = row[2].int,
                      models[at].versions.contains(where: { $0.version == version }) else { continue }
                models[at].aliases.append(AliasRecord(alias: alias, version: version))
            }
        }
        return models
    }

    /// MLflow features this store does not import, and where they live in MLflow's schema.
    static let unsupportedTables: [(table: String, what: String)] = [
        ("trace_info", "traces"),
        ("assessments", "trace assessments"),
        ("evaluation_datasets", "evaluation datasets"),
        ("webhooks", "webhooks"),
        ("scorers", "scorers"),
        ("issues", "issues"),
        ("jobs", "jobs"),
        ("secrets", "gateway secrets"),
        ("endpoints", "gateway endpoints"),
    ]

    func skipped() async throws -> [SkippedItem] {
        var skipped: [SkippedItem] = []
        for (table, what) in Self.unsupportedTables where tables.contains(table) {
            let count = try await count("SELECT COUNT(*) FROM \(table)")
            if count > 0 { skipped.append(SkippedItem(what: what, count: count, reason: "not supported by Swiftflow")) }
        }
        if has("experiments", "workspace") {
            let count = try await count("SELECT COUNT(*) FROM experiments WHERE NOT (\(experimentScope))")
            if count > 0 {
                skipped.append(SkippedItem(
                    what: "experiments outside the default workspace (with their runs)", count: count,
                    reason: "Swiftflow serves one workspace"))
            }
        }
        if has("registered_models", "workspace") {
            let count = try await count("SELECT COUNT(*) FROM registered_models WHERE NOT (\(modelScope))")
            if count > 0 {
                skipped.append(SkippedItem(
                    what: "registered models outside the default workspace", count: count,
                    reason: "Swiftflow serves one workspace"))
            }
        }
        if tables.contains("model_versions") {
            let count = try await count("SELECT COUNT(*) FROM model_versions WHERE current_stage = 'Deleted_Internal'")
            if count > 0 {
                skipped.append(SkippedItem(
                    what: "deleted model versions", count: count,
                    reason: "MLflow keeps only their numbers, which stay taken after the import"))
            }
        }
        return skipped
    }
}
