import Foundation
import SQLKit
import SwiftflowCore
import SwiftflowStore

/// Writes imported records into our tables, keeping every id.
///
/// Every insert is `ON CONFLICT DO NOTHING` and a run is written whole in one transaction with all
/// it holds, so a second import, or one after a kill, adds exactly what is missing and never
/// changes a row already there.
struct ImportTarget: Sendable {
    let executor: any DatabaseExecutor
    var kind: DatabaseKind { executor.kind }

    // MARK: - Bulk rows

    /// Inserts `rows` (each `columns.count` values) into `table` in one statement per chunk: the rows
    /// travel as one JSON array bind, as the store's own metric batches do.
    /// - Parameter condition: an extra SQL condition on the row, written over `p.value`.
    static func insert(
        _ db: any SQLDatabase, into table: String, _ columns: [(name: String, type: JSONElementType)],
        rows: [[JSONCell]], condition: String? = nil, conflict: String = "ON CONFLICT DO NOTHING", chunk: Int = 50_000
    ) async throws {
        guard !rows.isEmpty else { return }
        let kind = db.kind
        let elements = kind.jsonArrayElements(alias: "p")
        let selected = columns.enumerated().map { kind.jsonElement("p.value", $0.offset, as: $0.element.type) }
        let names = columns.map(\.name).joined(separator: ", ")
        let whereClause = condition.map { "WHERE \($0)" } ?? "WHERE true"
        var start = 0
        while start < rows.count {
            let end = min(start + chunk, rows.count)
            var writer = JSONWriter(style: .compact, reserve: (end - start) * 24 * columns.count)
            writer.beginArray()
            for row in rows[start..<end] {
                writer.beginArray()
                for cell in row { cell.write(to: &writer) }
                writer.endArray()
            }
            writer.endArray()
            let json = String(decoding: writer.bytes, as: UTF8.self)
            try await db.raw("""
                INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: names))
                SELECT \(unsafeRaw: selected.joined(separator: ", "))
                FROM \(unsafeRaw: elements.prefix)\(bind: json)\(unsafeRaw: elements.suffix) \(unsafeRaw: whereClause)
                \(unsafeRaw: conflict)
                """).run()
            start = end
        }
    }

    /// `column` of a bulk row as the SQL value of `type`, for conditions.
    func element(_ index: Int, _ type: JSONElementType) -> String { kind.jsonElement("p.value", index, as: type) }

    // MARK: - Reading what is there

    struct ExistingExperiment {
        var name: String
        var creationTime: Int64
        var pristineDefault: Bool
    }

    func experiments() async throws -> [Int64: ExistingExperiment] {
        try await executor.read { db in
            var result: [Int64: ExistingExperiment] = [:]
            for row in try await db.raw("SELECT experiment_id, name, creation_time FROM experiments").all() {
                result[try row.decode(column: "experiment_id", as: Int64.self)] = ExistingExperiment(
                    name: try row.decode(column: "name", as: String.self),
                    creationTime: try row.decode(column: "creation_time", as: Int64.self), pristineDefault: false)
            }
            if result[0] != nil {
                let used = try await db.raw("""
                    SELECT (SELECT COUNT(*) FROM runs WHERE experiment_id = 0)
                        + (SELECT COUNT(*) FROM experiment_tags WHERE experiment_id = 0)
                        + (SELECT COUNT(*) FROM logged_models WHERE experiment_id = 0) AS used
                    """).all()
                result[0]?.pristineDefault = try used.first?.decode(column: "used", as: Int64.self) == 0
            }
            return result
        }
    }

    /// Registered models by name, with their creation times.
    func registeredModels() async throws -> [String: Int64] {
        try await executor.read { db in
            var result: [String: Int64] = [:]
            for row in try await db.raw("SELECT name, creation_time FROM registered_models").all() {
                result[try row.decode(column: "name", as: String.self)] = try row.decode(column: "creation_time", as: Int64.self)
            }
            return result
        }
    }

    // MARK: - Writing

    /// Writes new experiments with their tags; `replaceDefault` overwrites the target's untouched
    /// experiment 0 with the source's.
    func write(experiments: [ExperimentRecord], replaceDefault: ExperimentRecord?) async throws {
        try await executor.write { db in
            if let source = replaceDefault {
                try await db.raw("""
                    UPDATE experiments SET name = \(bind: source.name), artifact_location = \(bind: source.artifactLocation),
                        lifecycle_stage = \(bind: source.lifecycleStage), creation_time = \(bind: source.creationTime),
                        last_update_time = \(bind: source.lastUpdateTime)
                    WHERE experiment_id = 0
                    """).run()
            }
            try await Self.insert(db, into: "experiments", [
                ("experiment_id", .bigint), ("name", .text), ("artifact_location", .text), ("lifecycle_stage", .text),
                ("creation_time", .bigint), ("last_update_time", .bigint),
            ], rows: experiments.map {
                [.int($0.id), .text($0.name), .text($0.artifactLocation), .text($0.lifecycleStage), .int($0.creationTime),
                 .int($0.lastUpdateTime)]
            })
            let tagged = experiments + (replaceDefault.map { [$0] } ?? [])
            try await Self.insert(db, into: "experiment_tags", [("experiment_id", .bigint), ("key", .text), ("value", .text)],
                                  rows: tagged.flatMap { experiment in
                                      experiment.tags.map { [.int(experiment.id), .text($0.key), .text($0.value)] }
                                  })
        }
    }

    /// Writes datasets and returns, for each source dataset id, the id the target holds it under
    /// (another id when the target already had the same dataset).
    func write(datasets: [DatasetRecord]) async throws -> [String: String] {
        guard !datasets.isEmpty else { return [:] }
        return try await executor.write { db in
            try await Self.insert(db, into: "datasets", [
                ("dataset_id", .text), ("experiment_id", .bigint), ("name", .text), ("digest", .text),
                ("source_type", .text), ("source", .text), ("schema", .text), ("profile", .text),
            ], rows: datasets.map {
                [.text($0.id), .int($0.experimentId), .text($0.name), .text($0.digest), .text($0.sourceType),
                 .text($0.source), .optionalText($0.schema), .optionalText($0.profile)]
            })
            var byKey: [String: String] = [:]
            for row in try await db.raw("SELECT dataset_id, experiment_id, name, digest FROM datasets").all() {
                let key = "\(try row.decode(column: "experiment_id", as: Int64.self))\u{0}"
                    + "\(try row.decode(column: "name", as: String.self))\u{0}\(try row.decode(column: "digest", as: String.self))"
                byKey[key] = try row.decode(column: "dataset_id", as: String.self)
            }
            var mapping: [String: String] = [:]
            for dataset in datasets {
                mapping[dataset.id] = byKey["\(dataset.experimentId)\u{0}\(dataset.name)\u{0}\(dataset.digest)"] ?? dataset.id
            }
            return mapping
        }
    }

    /// Writes the runs not yet in the target, each with everything logged to it, in one transaction.
    /// - Returns: how many runs were new, and how many metric points they carried.
    func write(runs: [RunRecord], datasetIds: [String: String]) async throws -> (runs: Int, points: Int) {
        guard !runs.isEmpty else { return (0, 0) }
        return try await executor.write { db in
            var query = SQLQuery("SELECT run_id FROM runs WHERE ")
            db.kind.appendIsAny("run_id", runs.map(\.id), to: &query)
            let existing = Set(try await db.all(query).map { try $0.decode(column: "run_id", as: String.self) })
            let new = runs.filter { !existing.contains($0.id) }
            guard !new.isEmpty else { return (0, 0) }
            // Written active so that the metric trigger takes their points; deleted ones are marked below.
            try await Self.insert(db, into: "runs", [
                ("run_id", .text), ("experiment_id", .bigint), ("name", .text), ("user_id", .text), ("status", .text),
                ("start_time", .bigint), ("end_time", .bigint), ("lifecycle_stage", .text), ("artifact_uri", .text),
                ("deleted_time", .bigint),
            ], rows: new.map {
                [.text($0.id), .int($0.experimentId), .text($0.name), .text($0.userId), .text($0.status), .int($0.startTime),
                 .optionalInt($0.endTime), .text("active"), .text($0.artifactUri), .optionalInt($0.deletedTime)]
            })
            let keyValue: [(name: String, type: JSONElementType)] = [("run_id", .text), ("key", .text), ("value", .text)]
            try await Self.insert(db, into: "params", keyValue, rows: new.flatMap { run in
                run.params.map { [.text(run.id), .text($0.key), .text($0.value)] }
            })
            try await Self.insert(db, into: "tags", keyValue, rows: new.flatMap { run in
                run.tags.map { [.text(run.id), .text($0.key), .text($0.value)] }
            })
            let pointColumns: [(name: String, type: JSONElementType)] = [
                ("run_id", .text), ("key", .text), ("timestamp", .bigint), ("step", .bigint), ("value", .double),
                ("is_nan", .boolean),
            ]
            func pointRows(_ keyPath: (RunRecord) -> [MetricPoint]) -> [[JSONCell]] {
                new.flatMap { run in
                    keyPath(run).map {
                        [.text(run.id), .text($0.key), .int($0.timestamp), .int($0.step), .double($0.value), .bool($0.isNaN)]
                    }
                }
            }
            let points = pointRows(\.metrics)
            // SQLite runs row triggers per point; a bulk load skips them for the length of this
            // transaction (which holds the only writer, so no other write misses them) and writes the
            // latest values itself, by the triggers' rule. PostgreSQL's trigger runs once per statement.
            if db.kind == .sqlite {
                try await db.raw("DROP TRIGGER metrics_update_latest").run()
                try await db.raw("DROP TRIGGER metrics_require_active_run").run()
            }
            try await Self.insert(db, into: "metrics", pointColumns, rows: points)
            if db.kind == .sqlite {
                for statement in Schema.metricTriggers(.sqlite) { try await db.raw(SQLQueryString(statement)).run() }
            }
            // MLflow's own latest values where it kept them, so that what MLflow showed is what we show.
            try await Self.insert(
                db, into: "latest_metrics", pointColumns, rows: pointRows { Self.latest($0) },
                conflict: """
                    ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp,
                        step = excluded.step, is_nan = excluded.is_nan
                    """)
            var inputs: [[JSONCell]] = []
            var inputTags: [[JSONCell]] = []
            var modelInputs: [[JSONCell]] = []
            var modelOutputs: [[JSONCell]] = []
            for run in new {
                var seen = Set<String>()
                for input in run.inputs {
                    let datasetId = datasetIds[input.datasetId] ?? input.datasetId
                    guard seen.insert(datasetId).inserted else { continue }
                    inputs.append([.text(run.id), .text(datasetId), .int(Int64(seen.count - 1))])
                    for tag in input.tags { inputTags.append([.text(run.id), .text(datasetId), .text(tag.key), .text(tag.value)]) }
                }
                for (position, modelId) in run.modelInputs.enumerated() {
                    modelInputs.append([.text(run.id), .text(modelId), .int(Int64(position))])
                }
                for (position, output) in run.modelOutputs.enumerated() {
                    modelOutputs.append([.text(run.id), .text(output.modelId), .int(output.step), .int(Int64(position))])
                }
            }
            // A dataset the source lost (MLflow does not enforce the link) is left out rather than failing the batch.
            try await Self.insert(db, into: "run_inputs", [("run_id", .text), ("dataset_id", .text), ("position", .bigint)],
                                  rows: inputs, condition: "EXISTS (SELECT 1 FROM datasets d WHERE d.dataset_id = \(element(1, .text)))")
            try await Self.insert(db, into: "run_input_tags", [("run_id", .text), ("dataset_id", .text), ("key", .text), ("value", .text)],
                                  rows: inputTags,
                                  condition: "EXISTS (SELECT 1 FROM run_inputs i WHERE i.run_id = \(element(0, .text)) AND i.dataset_id = \(element(1, .text)))")
            try await Self.insert(db, into: "run_model_inputs", [("run_id", .text), ("model_id", .text), ("position", .bigint)],
                                  rows: modelInputs)
            try await Self.insert(db, into: "run_model_outputs",
                                  [("run_id", .text), ("model_id", .text), ("step", .bigint), ("position", .bigint)], rows: modelOutputs)
            let notActive = new.filter { $0.lifecycleStage != "active" }
            for stage in Set(notActive.map(\.lifecycleStage)) {
                var update = SQLQuery("UPDATE runs SET lifecycle_stage = ")
                update.bind(stage)
                update += " WHERE "
                db.kind.appendIsAny("run_id", notActive.filter { $0.lifecycleStage == stage }.map(\.id), to: &update)
                try await db.run(update)
            }
            return (new.count, points.count)
        }
    }

    /// The run's latest value per key: MLflow's `latest_metrics` rows, and for keys without one the
    /// newest point by the store's rule (larger step, then later timestamp, then larger stored value).
    /// In MLflow's order: its rows' order, then keys in the order first logged.
    static func latest(_ run: RunRecord) -> [MetricPoint] {
        var latest: [String: MetricPoint] = [:]
        var firstLogged: [String] = []
        for point in run.metrics {
            guard let current = latest[point.key] else {
                latest[point.key] = point
                firstLogged.append(point.key)
                continue
            }
            if (point.step, point.timestamp, point.value) > (current.step, current.timestamp, current.value) {
                latest[point.key] = point
            }
        }
        let kept = run.latestMetrics ?? []
        let keptKeys = Set(kept.map(\.key))
        return kept + firstLogged.filter { !keptKeys.contains($0) }.compactMap { latest[$0] }
    }

    /// Writes the logged models not yet in the target.
    /// - Returns: how many were new.
    func write(loggedModels models: [LoggedModelRecord]) async throws -> Int {
        guard !models.isEmpty else { return 0 }
        return try await executor.write { db in
            var query = SQLQuery("SELECT model_id FROM logged_models WHERE ")
            db.kind.appendIsAny("model_id", models.map(\.id), to: &query)
            let existing = Set(try await db.all(query).map { try $0.decode(column: "model_id", as: String.self) })
            let new = models.filter { !existing.contains($0.id) }
            guard !new.isEmpty else { return 0 }
            try await Self.insert(db, into: "logged_models", [
                ("model_id", .text), ("experiment_id", .bigint), ("name", .text), ("artifact_location", .text),
                ("creation_timestamp_ms", .bigint), ("last_updated_timestamp_ms", .bigint), ("status", .bigint),
                ("lifecycle_stage", .text), ("model_type", .text), ("source_run_id", .text), ("status_message", .text),
            ], rows: new.map {
                [.text($0.id), .int($0.experimentId), .text($0.name), .text($0.artifactLocation), .int($0.creationTime),
                 .int($0.lastUpdatedTime), .int($0.status), .text($0.lifecycleStage), .optionalText($0.modelType),
                 .optionalText($0.sourceRunId), .optionalText($0.statusMessage)]
            })
            let keyValue: [(name: String, type: JSONElementType)] = [("model_id", .text), ("key", .text), ("value", .text)]
            try await Self.insert(db, into: "logged_model_params", keyValue, rows: new.flatMap { model in
                model.params.map { [.text(model.id), .text($0.key), .text($0.value)] }
            })
            try await Self.insert(db, into: "logged_model_tags", keyValue, rows: new.flatMap { model in
                model.tags.map { [.text(model.id), .text($0.key), .text($0.value)] }
            })
            // One statement keeps the source's order in `seq`; points of runs not imported are left out.
            try await Self.insert(db, into: "logged_model_metrics", [
                ("model_id", .text), ("key", .text), ("timestamp", .bigint), ("step", .bigint), ("value", .double),
                ("run_id", .text), ("dataset_name", .text), ("dataset_digest", .text),
            ], rows: new.flatMap { model in
                model.metrics.map {
                    [.text(model.id), .text($0.key), .int($0.timestamp), .int($0.step), .double($0.value), .text($0.runId),
                     .optionalText($0.datasetName), .optionalText($0.datasetDigest)]
                }
            }, condition: "EXISTS (SELECT 1 FROM runs r WHERE r.run_id = \(element(5, .text)))", chunk: .max)
            return new.count
        }
    }

    /// Writes one registered model with its versions, tags and aliases; parts already there stay.
    /// - Returns: how many versions were new.
    func write(registeredModel model: RegisteredModelRecord) async throws -> Int {
        try await executor.write { db in
            try await db.raw("""
                INSERT INTO registered_models (name, creation_time, last_updated_time, description, user_id, last_version)
                VALUES (\(bind: model.name), \(bind: model.creationTime), \(bind: model.lastUpdatedTime),
                        \(bind: model.description), NULL, \(bind: model.lastVersion))
                ON CONFLICT (name) DO NOTHING
                """).run()
            let rows = try await db.raw("SELECT model_id FROM registered_models WHERE name = \(bind: model.name)").all()
            guard let modelId = try rows.first?.decode(column: "model_id", as: Int64.self) else {
                throw SwiftflowError(.internalError, "The registered model '\(model.name)' was not written.")
            }
            try await db.raw("""
                UPDATE registered_models SET last_version = \(bind: model.lastVersion)
                WHERE model_id = \(bind: modelId) AND last_version < \(bind: model.lastVersion)
                """).run()
            try await Self.insert(db, into: "registered_model_tags", [("model_id", .bigint), ("key", .text), ("value", .text)],
                                  rows: model.tags.map { [.int(modelId), .text($0.key), .text($0.value)] })
            func versionCount() async throws -> Int64 {
                try await db.raw("SELECT COUNT(*) AS n FROM model_versions WHERE model_id = \(bind: modelId)").all()
                    .first?.decode(column: "n", as: Int64.self) ?? 0
            }
            let before = try await versionCount()
            try await Self.insert(db, into: "model_versions", [
                ("model_id", .bigint), ("version", .bigint), ("creation_time", .bigint), ("last_updated_time", .bigint),
                ("description", .text), ("user_id", .text), ("current_stage", .text), ("source", .text),
                ("storage_location", .text), ("run_id", .text), ("run_link", .text), ("status", .text),
                ("status_message", .text),
            ], rows: model.versions.map {
                [.int(modelId), .int($0.version), .int($0.creationTime), .int($0.lastUpdatedTime), .optionalText($0.description),
                 .optionalText($0.userId), .text($0.currentStage), .optionalText($0.source), .optionalText($0.storageLocation),
                 .optionalText($0.runId), .optionalText($0.runLink), .text($0.status), .optionalText($0.statusMessage)]
            })
            try await Self.insert(
                db, into: "model_version_tags", [("model_id", .bigint), ("version", .bigint), ("key", .text), ("value", .text)],
                rows: model.versions.flatMap { version in
                    version.tags.map { [.int(modelId), .int(version.version), .text($0.key), .text($0.value)] }
                })
            try await Self.insert(db, into: "registered_model_aliases", [("model_id", .bigint), ("alias", .text), ("version", .bigint)],
                                  rows: model.aliases.map { [.int(modelId), .text($0.alias), .int($0.version)] })
            return Int(try await versionCount() - before)
        }
    }
}

/// One value of a bulk row.
enum JSONCell: Sendable {
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null

    static func optionalText(_ value: String?) -> JSONCell { value.map { .text($0) } ?? .null }
    static func optionalInt(_ value: Int64?) -> JSONCell { value.map { .int($0) } ?? .null }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .text(let text): writer.string(text)
        case .int(let value): writer.int(value)
        // As MLflow's SQL store keeps them: NaN arrives as 0 with its flag, infinities as the largest doubles.
        case .double(let value):
            if value.isNaN { writer.int(0) }
            else if value.isInfinite { writer.double(value > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude) }
            else { writer.double(value) }
        case .bool(let value): writer.int(value ? 1 : 0)
        case .null: writer.null()
        }
    }
}
