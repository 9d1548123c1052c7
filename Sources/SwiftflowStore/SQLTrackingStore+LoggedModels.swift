import SQLKit
import SwiftflowCore

extension SQLTrackingStore {
    // MARK: - Logged models

    public func createLoggedModel(
        experimentId: String, name: String?, modelType: String?, sourceRunId: String?,
        params: [LoggedModelParameter], tags: [LoggedModelTag]
    ) async throws -> LoggedModel {
        try Validation.validateLoggedModelName(name)
        try Self.requireUniqueKeys(params, table: "logged_model_params")
        try Self.requireUniqueKeys(tags, table: "logged_model_tags")
        return try await executor.write { db in
            let experiment = try await self.requireExperiment(db, id: experimentId)
            if experiment.lifecycleStage != .active {
                throw SwiftflowError.invalidParameter(
                    "The experiment \(experiment.experimentId) must be in the 'active' state. "
                        + "Current state is \(experiment.lifecycleStage.rawValue).")
            }
            let modelId = LoggedModel.newId()
            let now = Timestamp.nowMillis()
            let model = LoggedModel(
                modelId: modelId, experimentId: experiment.experimentId, name: name ?? RunNames.generate(),
                artifactLocation: Self.join(Self.join(Self.join(experiment.artifactLocation, "models"), modelId), "artifacts"),
                creationTimestamp: now, lastUpdatedTimestamp: now, status: .pending, modelType: modelType,
                sourceRunId: sourceRunId, tags: tags.sorted { $0.key < $1.key },
                params: params.sorted { $0.key < $1.key })
            try await db.raw("""
                INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms,
                    last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id)
                VALUES (\(bind: modelId), \(bind: try self.experimentIdValue(experiment.experimentId)), \(bind: model.name),
                    \(bind: model.artifactLocation), \(bind: now), \(bind: now), \(bind: model.status.rawValue), 'active',
                    \(bind: modelType), \(bind: sourceRunId))
                """).run()
            try await Self.insertKeyValues(db, table: "logged_model_params", modelId: modelId, params)
            try await Self.insertKeyValues(db, table: "logged_model_tags", modelId: modelId, tags)
            return model
        }
    }

    public func getLoggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel {
        try await executor.read { db in
            guard let model = try await self.loadLoggedModels(db, ids: [id]).first,
                  allowDeleted || model.lifecycleStage != .deleted else {
                throw Self.loggedModelNotFound(id)
            }
            return model
        }
    }

    public func finalizeLoggedModel(id: String, status: LoggedModelStatus) async throws -> LoggedModel {
        try await executor.write { db in
            try await self.requireLoggedModel(db, id: id)
            try await db.raw("""
                UPDATE logged_models SET status = \(bind: status.rawValue),
                    last_updated_timestamp_ms = \(bind: Timestamp.nowMillis())
                WHERE model_id = \(bind: id)
                """).run()
            guard let model = try await self.loadLoggedModels(db, ids: [id]).first else { throw Self.loggedModelNotFound(id) }
            return model
        }
    }

    public func deleteLoggedModel(id: String) async throws {
        try await executor.write { db in
            try await self.requireLoggedModel(db, id: id)
            try await db.raw("""
                UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = \(bind: Timestamp.nowMillis())
                WHERE model_id = \(bind: id)
                """).run()
        }
    }

    public func setLoggedModelTags(id: String, tags: [LoggedModelTag]) async throws {
        let tags = Self.lastWins(tags)
        try await executor.write { db in
            try await self.requireLoggedModel(db, id: id)
            try await Self.upsertLoggedModelTags(db, modelId: id, tags)
        }
    }

    public func deleteLoggedModelTag(id: String, key: String) async throws {
        try await executor.write { db in
            try await self.requireLoggedModel(db, id: id)
            let found = try await db.raw(
                "SELECT key FROM logged_model_tags WHERE model_id = \(bind: id) AND key = \(bind: key)"
            ).all()
            if found.isEmpty {
                throw SwiftflowError.notFound(
                    "No tag with key \(PythonRepr.string(key)) found for model with ID \(PythonRepr.string(id)).")
            }
            try await db.raw("DELETE FROM logged_model_tags WHERE model_id = \(bind: id) AND key = \(bind: key)").run()
        }
    }

    public func logLoggedModelParams(id: String, params: [LoggedModelParameter]) async throws {
        try Self.requireUniqueKeys(params, table: "logged_model_params")
        try await executor.write { db in
            try await self.requireLoggedModel(db, id: id)
            guard !params.isEmpty else { return }
            var existing = SQLQuery("SELECT key FROM logged_model_params WHERE model_id = ")
            existing.bind(id)
            existing += " AND key IN "
            existing.bindList(params.map(\.key))
            if let row = try await db.all(existing).first {
                throw Self.duplicateKey(table: "logged_model_params", key: try row.decode(column: "key", as: String.self))
            }
            try await Self.insertKeyValues(db, table: "logged_model_params", modelId: id, params)
        }
    }

    public func recordModelVersion(modelId: String, name: String, version: Int64) async throws {
        try await executor.write { db in
            try await self.requireLoggedModel(db, id: modelId)
            let rows = try await db.raw("""
                SELECT value FROM logged_model_tags
                WHERE model_id = \(bind: modelId) AND key = \(bind: LoggedModelTags.modelVersions)
                """).all()
            var entries: [JSONValue] = []
            if let text = try rows.first?.decode(column: "value", as: String.self),
               case .array(let existing)? = try? JSONParser.parse(text) {
                entries = existing
            }
            let entry = JSONValue.object(JSONObject([("name", .string(name)), ("version", .number(String(version)))]))
            if !entries.contains(entry) { entries.append(entry) }
            let value = Self.pythonJSON(.array(entries))
            try await Self.upsertLoggedModelTags(db, modelId: modelId, [LoggedModelTag(LoggedModelTags.modelVersions, value)])
        }
    }

    // MARK: - Search

    /// Selects the page of model ids under filter and order, then loads those models only.
    public func searchLoggedModels(_ search: LoggedModelSearch) async throws -> Page<LoggedModel> {
        let experimentIds = try search.experimentIds.map { try experimentIdValue($0) }
        var query = SQLQuery("SELECT lm.model_id FROM logged_models lm")
        let order = LoggedModelSearchCompiler.order(search.orderBy, into: &query)
        query += " WHERE lm.lifecycle_stage != 'deleted' AND lm.experiment_id IN "
        query.bindList(experimentIds)
        LoggedModelSearchCompiler.conditions(search, kind: executor.kind, into: &query)
        query += " ORDER BY \(order) LIMIT "
        query.bind(search.maxResults + 1)
        query += " OFFSET "
        query.bind(search.offset)
        let finalQuery = query
        return try await executor.read { db in
            var ids = try await db.all(finalQuery).map { try $0.decode(column: "model_id", as: String.self) }
            var token: String?
            if ids.count > search.maxResults {
                ids.removeLast(ids.count - search.maxResults)
                token = search.pageToken(offset: search.offset + search.maxResults)
            }
            return Page(items: try await self.loadLoggedModels(db, ids: ids), nextPageToken: token)
        }
    }

    // MARK: - Runs and logged models

    public func logOutputs(runId: String, models: [LoggedModelOutput]) async throws {
        try await executor.write { db in
            try await self.requireActiveRun(db, runId: runId)
            guard !models.isEmpty else { return }
            var seen = Set<String>()
            for model in models where !seen.insert(model.modelId).inserted {
                throw Self.duplicateOutput(runId: runId, modelId: model.modelId)
            }
            var existing = SQLQuery("SELECT model_id FROM run_model_outputs WHERE run_id = ")
            existing.bind(runId)
            existing += " AND model_id IN "
            existing.bindList(models.map(\.modelId))
            if let row = try await db.all(existing).first {
                throw Self.duplicateOutput(runId: runId, modelId: try row.decode(column: "model_id", as: String.self))
            }
            var position = try await Self.nextPosition(db, table: "run_model_outputs", runId: runId)
            var insert = SQLQuery("INSERT INTO run_model_outputs (run_id, model_id, step, position) VALUES ")
            for (index, model) in models.enumerated() {
                if index > 0 { insert += ", " }
                insert.bindList([runId, model.modelId, model.step, position])
                position += 1
            }
            try await db.run(insert)
        }
    }

    /// Links models to a run as inputs; a model linked before keeps its place (MLflow merges them).
    func insertModelInputs(_ db: any SQLDatabase, runId: String, models: [LoggedModelInput]) async throws {
        guard !models.isEmpty else { return }
        var position = try await Self.nextPosition(db, table: "run_model_inputs", runId: runId)
        var query = SQLQuery("INSERT INTO run_model_inputs (run_id, model_id, position) VALUES ")
        for (index, model) in models.enumerated() {
            if index > 0 { query += ", " }
            query.bindList([runId, model.modelId, position])
            position += 1
        }
        query += " ON CONFLICT (run_id, model_id) DO NOTHING"
        try await db.run(query)
    }

    // MARK: - Metrics of logged models

    /// The points of a batch that name a logged model, once each (as MLflow dedupes equal points).
    /// - Throws: `BAD_REQUEST` when two points share key, timestamp, step and model but not value or dataset.
    static func modelMetrics(_ metrics: [Metric]) throws(SwiftflowError) -> [Metric] {
        var kept: [Metric] = []
        var byIdentity: [String: Metric] = [:]
        for metric in metrics {
            guard let modelId = metric.link?.modelId else { continue }
            let identity = "\(modelId)\u{0}\(metric.key)\u{0}\(metric.timestamp)\u{0}\(metric.step)"
            if let earlier = byIdentity[identity] {
                if Self.sameModelPoint(earlier, metric) { continue }
                throw conflictingModelMetric(metric, modelId: modelId)
            }
            byIdentity[identity] = metric
            kept.append(metric)
        }
        return kept
    }

    private static func sameModelPoint(_ lhs: Metric, _ rhs: Metric) -> Bool {
        storedModelValue(lhs.value) == storedModelValue(rhs.value)
            && lhs.link?.datasetName == rhs.link?.datasetName && lhs.link?.datasetDigest == rhs.link?.datasetDigest
    }

    /// MLflow keeps a logged model's NaN as 0 (infinities were clamped before).
    private static func storedModelValue(_ value: Double) -> Double { value.isNaN ? 0 : value }

    /// Records points on the logged models they name, in the request's transaction: every model must
    /// exist; a point already recorded is skipped if equal and refused if not.
    func insertModelMetrics(_ db: any SQLDatabase, runId: String, metrics: [Metric]) async throws {
        guard !metrics.isEmpty else { return }
        let modelIds = Array(Set(metrics.compactMap { $0.link?.modelId }))
        var known = SQLQuery("SELECT model_id FROM logged_models WHERE model_id IN ")
        known.bindList(modelIds)
        let found = Set(try await db.all(known).map { try $0.decode(column: "model_id", as: String.self) })
        if let missing = modelIds.sorted().first(where: { !found.contains($0) }) {
            throw SwiftflowError(.badRequest, "Logged model with ID '\(missing)' not found.")
        }
        var writer = JSONWriter(style: .compact, reserve: metrics.count * 120)
        writer.beginArray()
        for metric in metrics {
            writer.beginArray()
            writer.string(metric.link?.modelId ?? "")
            writer.string(metric.key)
            writer.int(metric.timestamp)
            writer.int(metric.step)
            writer.double(Self.storedModelValue(metric.value))
            if let name = metric.link?.datasetName { writer.string(name) } else { writer.null() }
            if let digest = metric.link?.datasetDigest { writer.string(digest) } else { writer.null() }
            writer.endArray()
        }
        writer.endArray()
        let points = String(decoding: writer.bytes, as: UTF8.self)
        let kind = db.kind
        let elements = kind.jsonArrayElements(alias: "p")
        func element(_ index: Int, _ type: JSONElementType) -> String { kind.jsonElement("p.value", index, as: type) }
        let (modelId, key, timestamp, step) = (element(0, .text), element(1, .text), element(2, .bigint), element(3, .bigint))
        let (value, datasetName, datasetDigest) = (element(4, .double), element(5, .text), element(6, .text))
        let differs = [
            kind.isDistinct("m.value", "(\(value))"), kind.isDistinct("m.dataset_name", "(\(datasetName))"),
            kind.isDistinct("m.dataset_digest", "(\(datasetDigest))"),
        ].joined(separator: " OR ")
        let conflicts = try await db.raw("""
            SELECT \(unsafeRaw: modelId) AS model_id, \(unsafeRaw: key) AS key, \(unsafeRaw: timestamp) AS timestamp,
                \(unsafeRaw: step) AS step
            FROM \(unsafeRaw: elements.prefix)\(bind: points)\(unsafeRaw: elements.suffix)
            JOIN logged_model_metrics m ON m.model_id = \(unsafeRaw: modelId) AND m.key = \(unsafeRaw: key)
                AND m.timestamp = \(unsafeRaw: timestamp) AND m.step = \(unsafeRaw: step) AND m.run_id = \(bind: runId)
            WHERE \(unsafeRaw: differs)
            LIMIT 1
            """).all()
        if let row = conflicts.first {
            let metric = Metric(
                key: try row.decode(column: "key", as: String.self), value: 0,
                timestamp: try row.decode(column: "timestamp", as: Int64.self),
                step: try row.decode(column: "step", as: Int64.self))
            throw Self.conflictingModelMetric(metric, modelId: try row.decode(column: "model_id", as: String.self))
        }
        try await db.raw("""
            INSERT INTO logged_model_metrics (model_id, key, timestamp, step, value, run_id, dataset_name, dataset_digest)
            SELECT \(unsafeRaw: modelId), \(unsafeRaw: key), \(unsafeRaw: timestamp), \(unsafeRaw: step),
                \(unsafeRaw: value), \(bind: runId), \(unsafeRaw: datasetName), \(unsafeRaw: datasetDigest)
            FROM \(unsafeRaw: elements.prefix)\(bind: points)\(unsafeRaw: elements.suffix) WHERE true
            ON CONFLICT DO NOTHING
            """).run()
    }

    private static func conflictingModelMetric(_ metric: Metric, modelId: String) -> SwiftflowError {
        SwiftflowError(
            .badRequest,
            "Metric '\(metric.key)' at timestamp \(metric.timestamp) and step \(metric.step) was already logged for "
                + "logged model '\(modelId)' by this run with a different value or dataset.")
    }

    // MARK: - Loading

    /// Loads whole models for `ids`, in that order (deleted ones included): one query per table.
    func loadLoggedModels(_ db: any SQLDatabase, ids: [String]) async throws -> [LoggedModel] {
        guard !ids.isEmpty else { return [] }
        var query = SQLQuery("""
            SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms,
                status, lifecycle_stage, model_type, source_run_id, status_message
            FROM logged_models WHERE model_id IN
            """)
        query.bindList(ids)
        var models: [String: LoggedModel] = [:]
        for row in try await db.all(query) {
            let model = LoggedModel(
                modelId: try row.decode(column: "model_id", as: String.self),
                experimentId: String(try row.decode(column: "experiment_id", as: Int64.self)),
                name: try row.decode(column: "name", as: String.self),
                artifactLocation: try row.decode(column: "artifact_location", as: String.self),
                creationTimestamp: try row.decode(column: "creation_timestamp_ms", as: Int64.self),
                lastUpdatedTimestamp: try row.decode(column: "last_updated_timestamp_ms", as: Int64.self),
                status: LoggedModelStatus(rawValue: try row.decode(column: "status", as: Int64.self)) ?? .unspecified,
                lifecycleStage: LifecycleStage(rawValue: try row.decode(column: "lifecycle_stage", as: String.self)) ?? .active,
                modelType: try row.decode(column: "model_type", as: String?.self),
                sourceRunId: try row.decode(column: "source_run_id", as: String?.self),
                statusMessage: try row.decode(column: "status_message", as: String?.self))
            models[model.modelId] = model
        }
        let found = ids.filter { models[$0] != nil }
        guard !found.isEmpty else { return [] }
        for (table, keyPath) in [("logged_model_params", \LoggedModel.params), ("logged_model_tags", \LoggedModel.tags)]
            as [(String, WritableKeyPath<LoggedModel, [KeyValue]>)] {
            var rows = SQLQuery("SELECT model_id, key, value FROM \(table) WHERE model_id IN ")
            rows.bindList(found)
            rows += " ORDER BY model_id, key"
            for row in try await db.all(rows) {
                models[try row.decode(column: "model_id", as: String.self)]?[keyPath: keyPath].append(
                    KeyValue(try row.decode(column: "key", as: String.self), try row.decode(column: "value", as: String.self)))
            }
        }
        var metrics = SQLQuery("""
            SELECT model_id, key, value, timestamp, step, run_id, dataset_name, dataset_digest
            FROM logged_model_metrics WHERE model_id IN
            """)
        metrics.bindList(found)
        metrics += " ORDER BY seq"
        for row in try await db.all(metrics) {
            let modelId = try row.decode(column: "model_id", as: String.self)
            let link = MetricLink(
                modelId: modelId, datasetName: try row.decode(column: "dataset_name", as: String?.self),
                datasetDigest: try row.decode(column: "dataset_digest", as: String?.self),
                runId: try row.decode(column: "run_id", as: String.self))
            models[modelId]?.metrics.append(Metric(
                key: try row.decode(column: "key", as: String.self), value: try row.decode(column: "value", as: Double.self),
                timestamp: try row.decode(column: "timestamp", as: Int64.self),
                step: try row.decode(column: "step", as: Int64.self), link: link))
        }
        return found.compactMap { models[$0] }
    }

    // MARK: - Helpers

    /// Throws `RESOURCE_DOES_NOT_EXIST` unless the model exists (deleted or not, as MLflow's writes accept).
    func requireLoggedModel(_ db: any SQLDatabase, id: String) async throws {
        let rows = try await db.raw("SELECT model_id FROM logged_models WHERE model_id = \(bind: id)").all()
        if rows.isEmpty { throw Self.loggedModelNotFound(id) }
    }

    static func loggedModelNotFound(_ id: String) -> SwiftflowError {
        .notFound("Logged model with ID '\(id)' not found.")
    }

    private static func insertKeyValues(
        _ db: any SQLDatabase, table: String, modelId: String, _ items: [KeyValue]
    ) async throws {
        guard !items.isEmpty else { return }
        var query = SQLQuery("INSERT INTO \(table) (model_id, key, value) VALUES ")
        for (index, item) in items.enumerated() {
            if index > 0 { query += ", " }
            query.bindList([modelId, item.key, item.value])
        }
        try await db.run(query)
    }

    private static func upsertLoggedModelTags(_ db: any SQLDatabase, modelId: String, _ tags: [LoggedModelTag]) async throws {
        guard !tags.isEmpty else { return }
        var query = SQLQuery("INSERT INTO logged_model_tags (model_id, key, value) VALUES ")
        for (index, tag) in tags.enumerated() {
            if index > 0 { query += ", " }
            query.bindList([modelId, tag.key, tag.value])
        }
        query += " ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
        try await db.run(query)
    }

    /// MLflow inserts params and tags of a new model (and new params) as rows: a key given twice breaks
    /// the table's uniqueness, which its server answers with `BAD_REQUEST`.
    private static func requireUniqueKeys(_ items: [KeyValue], table: String) throws(SwiftflowError) {
        var seen = Set<String>()
        for item in items where !seen.insert(item.key).inserted {
            throw duplicateKey(table: table, key: item.key)
        }
    }

    private static func duplicateKey(table: String, key: String) -> SwiftflowError {
        let noun = table == "logged_model_params" ? "param" : "tag"
        return SwiftflowError(
            .badRequest, "UNIQUE constraint failed: \(table): the logged model already has a \(noun) with key '\(key)'.")
    }

    private static func duplicateOutput(runId: String, modelId: String) -> SwiftflowError {
        SwiftflowError(
            .badRequest, "UNIQUE constraint failed: the run '\(runId)' already has the logged model '\(modelId)' as an output.")
    }

    private static func nextPosition(_ db: any SQLDatabase, table: String, runId: String) async throws -> Int64 {
        let rows = try await db.raw(
            "SELECT COALESCE(MAX(position), -1) + 1 AS next FROM \(unsafeRaw: table) WHERE run_id = \(bind: runId)"
        ).all()
        return try rows.first?.decode(column: "next", as: Int64.self) ?? 0
    }

    /// Python's `json.dumps` of a list of `{"name", "version"}` dicts: `", "` and `": "` separators.
    private static func pythonJSON(_ value: JSONValue) -> String {
        String(decoding: JSONWriter.encode(style: .line) { $0.value(value) }, as: UTF8.self)
    }
}
