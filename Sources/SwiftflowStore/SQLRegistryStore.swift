import SQLKit
import SwiftflowCore

/// The SQL implementation of `RegistryStore`, for SQLite and PostgreSQL alike.
///
/// It shares the tracking store's executor and schema (migration `0002-registry`): registered models
/// carry a surrogate `model_id`, so renaming a model is one UPDATE and versions, tags and aliases
/// follow without ON UPDATE CASCADE. Version numbers come from the model's `last_version` counter, so
/// a deleted version's number is never given again, as in MLflow (which keeps deleted rows for that).
public final class SQLRegistryStore: RegistryStore {
    package let executor: any DatabaseExecutor

    /// A store over `executor`, whose database must be migrated (`SQLTrackingStore.prepare()` applies
    /// every migration, the registry's included).
    package init(executor: any DatabaseExecutor) {
        self.executor = executor
    }

    /// A registry store over the same database as `trackingStore`.
    public convenience init(sharing trackingStore: SQLTrackingStore) {
        self.init(executor: trackingStore.executor)
    }

    // MARK: - Looking up

    /// A registered model's row: its key and its own columns, without tags, aliases or versions.
    struct ModelRow: Sendable {
        var id: Int64
        var model: RegisteredModel
    }

    static let modelColumns = "m.model_id, m.name, m.creation_time, m.last_updated_time, m.description, m.user_id"

    static func modelRow(_ row: any SQLRow) throws -> ModelRow {
        let row = columns(row)
        return ModelRow(
            id: try row.int64("model_id"),
            model: RegisteredModel(
                name: try row.text("name"),
                creationTimestamp: try row.int64("creation_time"),
                lastUpdatedTimestamp: try row.optionalInt64("last_updated_time"),
                userId: try row.optionalText("user_id"),
                description: try row.optionalText("description")))
    }

    /// The model named `name`, or `RESOURCE_DOES_NOT_EXIST`.
    func requireModel(_ db: any SQLDatabase, name: String) async throws -> ModelRow {
        let rows = try await db.raw(
            "SELECT \(unsafeRaw: Self.modelColumns) FROM registered_models m WHERE m.name = \(bind: name)"
        ).all()
        guard let row = rows.first else { throw SwiftflowError.notFound("Registered Model with name=\(name) not found") }
        return try Self.modelRow(row)
    }

    /// The key of version `version` of model `name`, or `RESOURCE_DOES_NOT_EXIST`.
    func requireVersion(_ db: any SQLDatabase, name: String, version: Int64) async throws -> Int64 {
        let rows = try await db.raw("""
            SELECT v.model_id FROM model_versions v JOIN registered_models m ON m.model_id = v.model_id
            WHERE m.name = \(bind: name) AND v.version = \(bind: version)
            """).all()
        guard let row = rows.first else {
            throw SwiftflowError.notFound("Model Version (name=\(name), version=\(version)) not found")
        }
        return try row.decode(column: "model_id", as: Int64.self)
    }

    // MARK: - Loading versions

    static let versionColumns = """
        m.name, v.model_id, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id,
        v.current_stage, v.source, v.run_id, v.run_link, v.status, v.status_message
        """

    /// A version row (from a query selecting `versionColumns`) and its model's key.
    static func versionRow(_ row: any SQLRow) throws -> (modelId: Int64, version: ModelVersion) {
        let row = columns(row)
        let version = ModelVersion(
            name: try row.text("name"),
            version: try row.int64("version"),
            creationTimestamp: try row.int64("creation_time"),
            lastUpdatedTimestamp: try row.optionalInt64("last_updated_time"),
            userId: try row.optionalText("user_id"),
            currentStage: ModelVersionStage(rawValue: try row.text("current_stage")) ?? .none,
            description: try row.optionalText("description"),
            source: try row.optionalText("source"),
            runId: try row.optionalText("run_id"),
            status: ModelVersionStatus(rawValue: try row.text("status")) ?? .ready,
            statusMessage: try row.optionalText("status_message"),
            runLink: try row.optionalText("run_link"))
        return (try row.int64("model_id"), version)
    }

    /// Runs `query` (which selects `versionColumns`) and returns its versions in order, with their tags
    /// and, if asked, the aliases pointing at each: one query per table, whatever the number of rows.
    func loadVersions(_ db: any SQLDatabase, _ query: SQLQuery, aliases: Bool) async throws -> [ModelVersion] {
        try await loadVersionRows(db, query, aliases: aliases).map(\.version)
    }

    /// `loadVersions`, keeping each version's model key.
    func loadVersionRows(
        _ db: any SQLDatabase, _ query: SQLQuery, aliases: Bool
    ) async throws -> [(modelId: Int64, version: ModelVersion)] {
        let rows = try await db.all(query).map(Self.versionRow)
        guard !rows.isEmpty else { return [] }
        let modelIds = Array(Set(rows.map(\.modelId)))
        let numbers = Array(Set(rows.map(\.version.version)))
        struct Key: Hashable { var model: Int64, version: Int64 }

        var tagQuery = SQLQuery("SELECT model_id, version, key, value FROM model_version_tags WHERE model_id IN ")
        tagQuery.bindList(modelIds)
        tagQuery += " AND version IN "
        tagQuery.bindList(numbers)
        // MLflow lists a version's tags in storage order (`DatabaseKind.storageOrder`).
        tagQuery += " ORDER BY model_id, version, \(db.kind.storageOrder)"
        var tags: [Key: [ModelVersionTag]] = [:]
        for row in try await db.all(tagQuery) {
            let row = columns(row)
            tags[Key(model: try row.int64("model_id"), version: try row.int64("version")), default: []].append(
                KeyValue(try row.text("key"), try row.text("value")))
        }
        var aliasNames: [Key: [String]] = [:]
        if aliases {
            for (modelId, list) in try await loadAliases(db, modelIds: modelIds) {
                for alias in list { aliasNames[Key(model: modelId, version: alias.version), default: []].append(alias.alias) }
            }
        }
        return rows.map { modelId, version in
            var version = version
            let key = Key(model: modelId, version: version.version)
            version.tags = tags[key] ?? []
            version.aliases = aliasNames[key] ?? []
            return (modelId, version)
        }
    }

    /// One version, with tags and aliases.
    func loadVersion(_ db: any SQLDatabase, modelId: Int64, version: Int64) async throws -> ModelVersion {
        var query = SQLQuery("SELECT \(Self.versionColumns) FROM model_versions v JOIN registered_models m ")
        query += "ON m.model_id = v.model_id WHERE v.model_id = "
        query.bind(modelId)
        query += " AND v.version = "
        query.bind(version)
        guard let loaded = try await loadVersions(db, query, aliases: true).first else {
            throw SwiftflowError(.internalError, "Model version \(version) vanished inside its transaction.")
        }
        return loaded
    }

    func loadAliases(_ db: any SQLDatabase, modelIds: [Int64]) async throws -> [Int64: [RegisteredModelAlias]] {
        guard !modelIds.isEmpty else { return [:] }
        var query = SQLQuery("SELECT model_id, alias, version FROM registered_model_aliases WHERE model_id IN ")
        query.bindList(modelIds)
        query += " ORDER BY model_id, alias"
        var result: [Int64: [RegisteredModelAlias]] = [:]
        for row in try await db.all(query) {
            let row = columns(row)
            result[try row.int64("model_id"), default: []].append(
                RegisteredModelAlias(alias: try row.text("alias"), version: try row.int64("version")))
        }
        return result
    }

    /// How a model's latest versions are listed: MLflow's `get` lists stages in the order their first
    /// version appeared, its search (a window function) by stage name.
    enum LatestOrder { case firstVersion, stageName }

    /// The newest version in each stage of each model, without aliases, in `order`.
    func latestVersions(
        _ db: any SQLDatabase, modelIds: [Int64], order: LatestOrder = .firstVersion
    ) async throws -> [Int64: [ModelVersion]] {
        guard !modelIds.isEmpty else { return [:] }
        var groups = SQLQuery("""
            SELECT model_id, MAX(version) AS latest, MIN(version) AS earliest FROM model_versions
            WHERE model_id IN
            """)
        groups.bindList(modelIds)
        groups += " GROUP BY model_id, current_stage"
        var wanted: [(modelId: Int64, latest: Int64, earliest: Int64)] = []
        for row in try await db.all(groups) {
            let row = columns(row)
            wanted.append((try row.int64("model_id"), try row.int64("latest"), try row.int64("earliest")))
        }
        guard !wanted.isEmpty else { return [:] }
        var query = SQLQuery("SELECT \(Self.versionColumns) FROM model_versions v JOIN registered_models m ")
        query += "ON m.model_id = v.model_id WHERE v.model_id IN "
        query.bindList(Array(Set(wanted.map(\.modelId))))
        query += " AND v.version IN "
        query.bindList(Array(Set(wanted.map(\.latest))))
        // The IN lists may admit versions that are latest only for another model; keep the wanted pairs.
        var byModel: [Int64: [Int64: ModelVersion]] = [:]
        for (modelId, version) in try await loadVersionRows(db, query, aliases: false) {
            byModel[modelId, default: [:]][version.version] = version
        }
        var result: [Int64: [ModelVersion]] = [:]
        for group in wanted.sorted(by: { ($0.modelId, $0.earliest) < ($1.modelId, $1.earliest) }) {
            if let version = byModel[group.modelId]?[group.latest] { result[group.modelId, default: []].append(version) }
        }
        if order == .stageName {
            for (modelId, versions) in result {
                result[modelId] = versions.sorted { $0.currentStage.rawValue < $1.currentStage.rawValue }
            }
        }
        return result
    }

    // MARK: - Loading models

    /// Completes model rows with their tags, aliases and latest versions: one query per table.
    func loadModels(
        _ db: any SQLDatabase, _ rows: [ModelRow], latestOrder: LatestOrder = .firstVersion
    ) async throws -> [RegisteredModel] {
        guard !rows.isEmpty else { return [] }
        let ids = rows.map(\.id)
        var tagQuery = SQLQuery("SELECT model_id, key, value FROM registered_model_tags WHERE model_id IN ")
        tagQuery.bindList(ids)
        tagQuery += " ORDER BY model_id, \(db.kind.storageOrder)"
        var tags: [Int64: [RegisteredModelTag]] = [:]
        for row in try await db.all(tagQuery) {
            let row = columns(row)
            tags[try row.int64("model_id"), default: []].append(KeyValue(try row.text("key"), try row.text("value")))
        }
        let aliases = try await loadAliases(db, modelIds: ids)
        let latest = try await latestVersions(db, modelIds: ids, order: latestOrder)
        return rows.map { row in
            var model = row.model
            model.tags = tags[row.id] ?? []
            model.aliases = aliases[row.id] ?? []
            model.latestVersions = latest[row.id] ?? []
            return model
        }
    }

    func loadModel(_ db: any SQLDatabase, _ row: ModelRow) async throws -> RegisteredModel {
        try await loadModels(db, [row])[0]
    }

    // MARK: - Writing tags

    /// Inserts or overwrites tags in one statement.
    func upsertTags(
        _ db: any SQLDatabase, table: String, owner: [any Encodable & Sendable], ownerColumns: String,
        tags: [KeyValue]
    ) async throws {
        guard !tags.isEmpty else { return }
        var query = SQLQuery("INSERT INTO \(table) (\(ownerColumns), key, value) VALUES ")
        for (index, tag) in tags.enumerated() {
            if index > 0 { query += ", " }
            query.bindList(owner + [tag.key, tag.value])
        }
        query += " ON CONFLICT (\(ownerColumns), key) DO UPDATE SET value = excluded.value"
        try await db.run(query)
    }
}
