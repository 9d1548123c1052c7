import SQLKit
import SQLiteNIO
import SwiftflowCore

extension SQLTrackingStore {
    public func logBatch(runId: String, metrics: [Metric], params: [Param], tags: [RunTag]) async throws {
        try Validation.validateBatchLimits(metrics: metrics.count, params: params.count, tags: tags.count)
        var cleanMetrics: [Metric] = []
        cleanMetrics.reserveCapacity(metrics.count)
        for (index, metric) in metrics.enumerated() {
            try Validation.validateMetric(metric, path: metrics.count == 1 ? "" : "metrics[\(index)]")
            cleanMetrics.append(Self.clamped(metric))
        }
        let cleanParams = try params.enumerated().map { index, param in
            try Validation.validateParam(param, path: params.count == 1 ? "" : "params[\(index)]")
        }
        try Validation.validateParamKeysUnique(cleanParams)
        let cleanTags = Self.lastWins(try tags.enumerated().map { index, tag in
            try Validation.validateRunTag(tag, path: tags.count == 1 ? "" : "tags[\(index)]")
        })
        let batchMetrics = cleanMetrics
        let modelMetrics = try Self.modelMetrics(cleanMetrics)
        do {
            if cleanParams.isEmpty && cleanTags.isEmpty && modelMetrics.isEmpty {
                // The common case (log-metric, metric-only batches): one statement, no transaction.
                guard !batchMetrics.isEmpty else { return }
                try await metricCoalescer.write(runId: runId, metrics: batchMetrics)
                return
            }
            try await executor.write { db in
                try await self.requireActiveRun(db, runId: runId)
                try await self.insertParams(db, runId: runId, params: cleanParams)
                try await self.insertMetrics(db, runId: runId, metrics: batchMetrics)
                try await self.insertModelMetrics(db, runId: runId, metrics: modelMetrics)
                try await self.upsertTags(db, runId: runId, tags: cleanTags)
            }
        } catch let error
            where executor.errorMessage(error).contains(Schema.runNotActiveMarker) || executor.isForeignKeyViolation(error)
        {
            // The trigger (or, for an unknown run on PostgreSQL, the foreign key) refused the points: say why, as MLflow does.
            try await executor.read { db in try await self.requireActiveRun(db, runId: runId) }
            throw SwiftflowError(.internalError, "Run \(runId) changed state while logging.", cause: error)
        }
    }

    /// MLflow's SQL store keeps ±infinity as ±Double.greatestFiniteMagnitude.
    private static func clamped(_ metric: Metric) -> Metric {
        guard metric.value.isInfinite else { return metric }
        var copy = metric
        copy.value = metric.value > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude
        return copy
    }

    /// Params never change: re-logging the same value is fine, a new value is `INVALID_PARAMETER_VALUE`.
    private func insertParams(_ db: any SQLDatabase, runId: String, params: [Param]) async throws {
        guard !params.isEmpty else { return }
        let existing = try await storedParams(db, runId: runId, keys: params.map(\.key))
        var fresh: [Param] = []
        for param in params {
            if let old = existing[param.key] {
                try Self.requireUnchanged(param, old: old, runId: runId)
            } else {
                fresh.append(param)
            }
        }
        guard !fresh.isEmpty else { return }
        // A replica may log the same key between the read above and this insert (PostgreSQL; SQLite's
        // writer is alone): its row wins, and is then compared like any earlier one.
        var insert = SQLQuery("INSERT INTO params (run_id, key, value) VALUES ")
        for (index, param) in fresh.enumerated() {
            if index > 0 { insert += ", " }
            insert.bindList([runId, param.key, param.value])
        }
        insert += " ON CONFLICT (run_id, key) DO NOTHING RETURNING key"
        let inserted = Set(try await db.all(insert).map { try $0.decode(column: "key", as: String.self) })
        let raced = fresh.filter { !inserted.contains($0.key) }
        guard !raced.isEmpty else { return }
        let stored = try await storedParams(db, runId: runId, keys: raced.map(\.key))
        for param in raced {
            try Self.requireUnchanged(param, old: stored[param.key] ?? param.value, runId: runId)
        }
    }

    /// The values of the run's params among `keys`, by key.
    private func storedParams(_ db: any SQLDatabase, runId: String, keys: [String]) async throws -> [String: String] {
        var query = SQLQuery("SELECT key, value FROM params WHERE run_id = ")
        query.bind(runId)
        query += " AND key IN "
        query.bindList(keys)
        var values: [String: String] = [:]
        for row in try await db.all(query) {
            values[try row.decode(column: "key", as: String.self)] = try row.decode(column: "value", as: String.self)
        }
        return values
    }

    private static func requireUnchanged(_ param: Param, old: String, runId: String) throws(SwiftflowError) {
        guard old != param.value else { return }
        throw SwiftflowError.invalidParameter(
            "Changing param values is not allowed. Param with key='\(param.key)' was already logged with "
                + "value='\(old)' for run ID='\(runId)'. Attempted logging new value '\(param.value)'.")
    }

    /// Inserts the points in one statement: they travel as one JSON array bound to one parameter
    /// (no per-value binding cost), and the database's triggers keep `latest_metrics` current.
    private func insertMetrics(_ db: any SQLDatabase, runId: String, metrics: [Metric]) async throws {
        try await Self.insertMetrics(db, [(runId, metrics)])
    }

    /// The same for the points of several requests at once (group commit).
    static func insertMetrics(_ db: any SQLDatabase, _ items: [(runId: String, metrics: [Metric])]) async throws {
        var writer = JSONWriter(style: .compact, reserve: items.reduce(0) { $0 + $1.metrics.count } * 80)
        writer.beginArray()
        for item in items {
            for metric in item.metrics {
                let isNaN = metric.value.isNaN
                writer.beginArray()
                writer.string(item.runId)
                writer.string(metric.key)
                writer.int(metric.timestamp)
                writer.int(metric.step)
                writer.double(isNaN ? 0 : metric.value)
                writer.int(isNaN ? 1 : 0)
                writer.endArray()
            }
        }
        writer.endArray()
        let points = String(decoding: writer.bytes, as: UTF8.self)
        let kind = db.kind
        let elements = kind.jsonArrayElements(alias: "p")
        let columns = [JSONElementType.text, .text, .bigint, .bigint, .double, .boolean].enumerated()
            .map { kind.jsonElement("p.value", $0.offset, as: $0.element) }.joined(separator: ", ")
        try await db.raw("""
            INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan)
            SELECT \(unsafeRaw: columns)
            FROM \(unsafeRaw: elements.prefix)\(bind: points)\(unsafeRaw: elements.suffix) WHERE true
            ON CONFLICT DO NOTHING
            """).run()
    }

    public func logInputs(runId: String, inputs: [DatasetInput], models: [LoggedModelInput]) async throws {
        if inputs.count > Limits.maxDatasetsPerBatch {
            throw SwiftflowError.invalidParameter(
                "A batch logging request can contain at most \(Limits.maxDatasetsPerBatch) datasets. "
                    + "Got \(inputs.count) datasets. Please split up datasets across multiple requests and try again.")
        }
        for input in inputs { try Self.validate(input) }
        try await executor.write { db in
            try await self.requireActiveRun(db, runId: runId)
            let experimentRows = try await db.raw("SELECT experiment_id FROM runs WHERE run_id = \(bind: runId)").all()
            let experimentId = try experimentRows[0].decode(column: "experiment_id", as: Int64.self)
            let positionRows = try await db.raw(
                "SELECT COALESCE(MAX(position), -1) + 1 AS next FROM run_inputs WHERE run_id = \(bind: runId)"
            ).all()
            var position = try positionRows[0].decode(column: "next", as: Int64.self)
            for input in inputs {
                let dataset = input.dataset
                // Inserts that another server's transaction wins (same dataset, same link) do nothing here
                // instead of failing on the unique key; the winner's row is then read back.
                let datasetId: String
                let created = try await db.raw("""
                    INSERT INTO datasets (dataset_id, experiment_id, name, digest, source_type, source, schema, profile)
                    VALUES (\(bind: Self.newId()), \(bind: experimentId), \(bind: dataset.name), \(bind: dataset.digest),
                            \(bind: dataset.sourceType), \(bind: dataset.source), \(bind: dataset.schema), \(bind: dataset.profile))
                    ON CONFLICT (experiment_id, name, digest) DO NOTHING RETURNING dataset_id
                    """).all()
                if let row = created.first {
                    datasetId = try row.decode(column: "dataset_id", as: String.self)
                } else {
                    let found = try await db.raw("""
                        SELECT dataset_id FROM datasets WHERE experiment_id = \(bind: experimentId)
                        AND name = \(bind: dataset.name) AND digest = \(bind: dataset.digest)
                        """).all()
                    datasetId = try found[0].decode(column: "dataset_id", as: String.self)
                }
                let linked = try await db.raw("""
                    INSERT INTO run_inputs (run_id, dataset_id, position) VALUES (\(bind: runId), \(bind: datasetId), \(bind: position))
                    ON CONFLICT (run_id, dataset_id) DO NOTHING RETURNING run_id
                    """).all()
                if linked.isEmpty { continue }  // MLflow keeps the first link and its tags
                position += 1
                for tag in Self.lastWins(input.tags) {
                    try await db.raw("""
                        INSERT INTO run_input_tags (run_id, dataset_id, key, value)
                        VALUES (\(bind: runId), \(bind: datasetId), \(bind: tag.key), \(bind: tag.value))
                        """).run()
                }
            }
            try await self.insertModelInputs(db, runId: runId, models: models)
        }
    }

    private static func validate(_ input: DatasetInput) throws(SwiftflowError) {
        let dataset = input.dataset
        try Validation.validateLength(dataset.name, limit: Limits.maxDatasetNameSize, name: "dataset.name")
        try Validation.validateLength(dataset.digest, limit: Limits.maxDatasetDigestSize, name: "dataset.digest")
        try Validation.validateLength(dataset.source, limit: Limits.maxDatasetSourceSize, name: "dataset.source")
        try Validation.validateLength(dataset.schema ?? "", limit: Limits.maxDatasetSchemaSize, name: "dataset.schema")
        try Validation.validateLength(dataset.profile ?? "", limit: Limits.maxDatasetProfileSize, name: "dataset.profile")
        for tag in input.tags {
            try Validation.validateLength(tag.key, limit: Limits.maxInputTagKeySize, name: "input_tag.key")
            try Validation.validateLength(tag.value, limit: Limits.maxInputTagValueSize, name: "input_tag.value")
        }
    }

    /// Inputs of each run, in the order they were logged.
    package func loadInputs(_ db: any SQLDatabase, runIds: [String]) async throws -> [String: [DatasetInput]] {
        var query = SQLQuery("""
            SELECT ri.run_id, ri.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
            FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE ri.run_id IN
            """)
        query.bindList(runIds)
        query += " ORDER BY ri.run_id, ri.position"
        let rows = try await db.all(query)
        guard !rows.isEmpty else { return [:] }
        var tagQuery = SQLQuery("SELECT run_id, dataset_id, key, value FROM run_input_tags WHERE run_id IN ")
        tagQuery.bindList(runIds)
        var tags: [String: [KeyValue]] = [:]
        for row in try await db.all(tagQuery) {
            let link = try row.decode(column: "run_id", as: String.self) + "/" + row.decode(column: "dataset_id", as: String.self)
            tags[link, default: []].append(
                KeyValue(try row.decode(column: "key", as: String.self), try row.decode(column: "value", as: String.self)))
        }
        var result: [String: [DatasetInput]] = [:]
        for row in rows {
            let runId = try row.decode(column: "run_id", as: String.self)
            let datasetId = try row.decode(column: "dataset_id", as: String.self)
            let dataset = Dataset(
                name: try row.decode(column: "name", as: String.self),
                digest: try row.decode(column: "digest", as: String.self),
                sourceType: try row.decode(column: "source_type", as: String.self),
                source: try row.decode(column: "source", as: String.self),
                schema: try row.decode(column: "schema", as: String?.self),
                profile: try row.decode(column: "profile", as: String?.self))
            result[runId, default: []].append(DatasetInput(dataset: dataset, tags: tags[runId + "/" + datasetId] ?? []))
        }
        return result
    }

    public func metricHistory(runId: String, key: String, maxResults: Int?, pageToken: String?) async throws -> Page<Metric> {
        let offset = try PageToken.decodeOffset(pageToken)
        let limit = maxResults.map { $0 + 1 } ?? -1
        var metrics: [Metric]
        if let sqlite = executor as? SQLiteExecutor {
            // Raw SQL (named as such): histories are the largest answers, and SQLKit's decoding dominated them.
            let stage = try await sqlite.readRawRows("SELECT lifecycle_stage FROM runs WHERE run_id = ?", [.text(runId)])
            if stage.isEmpty { throw SwiftflowError.notFound("Run with id=\(runId) not found") }
            let rows = try await sqlite.readRawRows(
                "SELECT timestamp, step, value, is_nan FROM metrics WHERE run_id = ? AND key = ? "
                    + "ORDER BY timestamp, step, value LIMIT ? OFFSET ?",
                [.text(runId), .text(key), .integer(limit), .integer(offset)])
            metrics = []
            metrics.reserveCapacity(rows.count)
            for row in rows {
                let isNaN = (row.column("is_nan")?.integer ?? 0) != 0
                metrics.append(Metric(
                    key: key, value: isNaN ? .nan : row.column("value")?.double ?? 0,
                    timestamp: Int64(row.column("timestamp")?.integer ?? 0), step: Int64(row.column("step")?.integer ?? 0)))
            }
        } else {
            metrics = try await executor.read { db in
                _ = try await self.requireRunStage(db, runId: runId)
                var query = SQLQuery("SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_id = ")
                query.bind(runId)
                query += " AND key = "
                query.bind(key)
                query += " ORDER BY timestamp, step, value"
                if let maxResults {
                    query += " LIMIT "
                    query.bind(maxResults + 1)
                }
                if offset > 0 {
                    query += " OFFSET "
                    query.bind(offset)
                }
                return try await db.all(query).map(Self.metric(from:))
            }
        }
        var token: String?
        if let maxResults, metrics.count > maxResults {
            metrics.removeLast(metrics.count - maxResults)
            token = PageToken.encode(offset: offset + maxResults)
        }
        return Page(items: metrics, nextPageToken: token)
    }
}
