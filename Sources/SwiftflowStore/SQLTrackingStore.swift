import Foundation
import Logging
import SQLKit
import SwiftflowCore

/// The SQL implementation of `TrackingStore`, for SQLite and PostgreSQL alike.
///
/// Handlers see only the protocol; this type sees only `DatabaseExecutor`, so a backend is a
/// choice of executor.
public final class SQLTrackingStore: TrackingStore {
    package let executor: any DatabaseExecutor
    /// Where new experiments put their artifacts (`mlflow-artifacts:/` when the server proxies them).
    package let defaultArtifactRoot: String

    /// Group commit for metric-only writes.
    package let metricCoalescer: MetricCoalescer

    package init(executor: any DatabaseExecutor, defaultArtifactRoot: String) {
        self.executor = executor
        self.defaultArtifactRoot = defaultArtifactRoot
        self.metricCoalescer = MetricCoalescer(executor: executor) { db, items in
            try await SQLTrackingStore.insertMetrics(db, items)
        }
    }

    /// Opens the embedded store at `path`, migrating it and creating the Default experiment.
    public static func openSQLite(path: String, defaultArtifactRoot: String, logger: Logger) async throws -> SQLTrackingStore {
        let executor = try await SQLiteExecutor.open(path: path, logger: logger)
        return try await open(executor: executor, defaultArtifactRoot: defaultArtifactRoot)
    }

    /// Opens the store in the PostgreSQL database named by `uri` (`postgresql://…`, see `PostgresURL`),
    /// migrating it and creating the Default experiment.
    /// - Parameter poolSize: the most connections the store holds open at once.
    public static func openPostgres(
        uri: String, poolSize: Int = 10, defaultArtifactRoot: String, logger: Logger
    ) async throws -> SQLTrackingStore {
        let executor = try await PostgresExecutor.open(uri: uri, poolSize: poolSize, logger: logger)
        return try await open(executor: executor, defaultArtifactRoot: defaultArtifactRoot)
    }

    /// A store over `executor`, prepared; the executor is shut down if preparing fails.
    package static func open(executor: any DatabaseExecutor, defaultArtifactRoot: String) async throws -> SQLTrackingStore {
        let store = SQLTrackingStore(executor: executor, defaultArtifactRoot: defaultArtifactRoot)
        do {
            try await store.prepare()
        } catch {
            await executor.shutdown()
            throw error
        }
        return store
    }

    /// Brings the schema of the database named by `uri` up to date without opening a store
    /// (`swiftflow db upgrade`).
    /// - Returns: the ids of the migrations applied.
    public static func upgradePostgres(uri: String, logger: Logger) async throws -> [String] {
        try await migrate(try await PostgresExecutor.open(uri: uri, poolSize: 1, logger: logger))
    }

    /// The same for a SQLite file.
    public static func upgradeSQLite(path: String, logger: Logger) async throws -> [String] {
        try await migrate(try await SQLiteExecutor.open(path: path, logger: logger))
    }

    private static func migrate(_ executor: any DatabaseExecutor) async throws -> [String] {
        do {
            let applied = try await Migrator(migrations: Schema.migrations).migrate(executor)
            await executor.shutdown()
            return applied
        } catch {
            await executor.shutdown()
            throw error
        }
    }

    /// Applies migrations and makes sure experiment 0, "Default", exists.
    package func prepare() async throws {
        try await Migrator(migrations: Schema.migrations).migrate(executor)
        let root = defaultArtifactRoot
        try await executor.write { db in
            let rows = try await db.raw("SELECT experiment_id FROM experiments WHERE experiment_id = 0").all()
            guard rows.isEmpty else { return }
            let now = Timestamp.nowMillis()
            // Replicas starting together may both get here: the later one's insert does nothing.
            try await db.raw("""
                INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                VALUES (0, 'Default', \(bind: Self.join(root, "0")), 'active', \(bind: now), \(bind: now))
                ON CONFLICT DO NOTHING
                """).run()
        }
    }

    public func shutdown() async {
        await executor.shutdown()
    }

    // MARK: - Shared helpers

    /// Joins an artifact root and a child the way MLflow's `append_to_uri_path` does.
    package static func join(_ root: String, _ child: String) -> String {
        var base = root
        while base.hasSuffix("/") && !base.hasSuffix(":/") { base.removeLast() }
        if base.hasSuffix(":/") { base.removeLast() }
        return base + "/" + child
    }

    package static func newId() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    package func experimentIdValue(_ id: String) throws -> Int64 {
        try Validation.parseExperimentId(id)
    }

    /// Loads an experiment row, or throws `RESOURCE_DOES_NOT_EXIST`.
    package func requireExperiment(_ db: any SQLDatabase, id: String) async throws -> Experiment {
        let numeric = try experimentIdValue(id)
        let rows = try await db.raw("""
            SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time
            FROM experiments WHERE experiment_id = \(bind: numeric)
            """).all()
        guard let row = rows.first else { throw SwiftflowError.notFound("No Experiment with id=\(id) exists") }
        var experiment = try Self.experiment(from: row)
        experiment.tags = try await experimentTags(db, ids: [numeric])[numeric] ?? []
        return experiment
    }

    package static func experiment(from row: any SQLRow) throws -> Experiment {
        Experiment(
            experimentId: String(try row.decode(column: "experiment_id", as: Int64.self)),
            name: try row.decode(column: "name", as: String.self),
            artifactLocation: try row.decode(column: "artifact_location", as: String.self),
            lifecycleStage: LifecycleStage(rawValue: try row.decode(column: "lifecycle_stage", as: String.self)) ?? .active,
            creationTime: try row.decode(column: "creation_time", as: Int64.self),
            lastUpdateTime: try row.decode(column: "last_update_time", as: Int64.self))
    }

    package func experimentTags(_ db: any SQLDatabase, ids: [Int64]) async throws -> [Int64: [ExperimentTag]] {
        guard !ids.isEmpty else { return [:] }
        var query = SQLQuery("SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ")
        query.bindList(ids)
        // MLflow's order: storage order (`DatabaseKind.storageOrder`).
        query += " ORDER BY \(db.kind.storageOrder)"
        var tags: [Int64: [ExperimentTag]] = [:]
        for row in try await db.all(query) {
            let id = try row.decode(column: "experiment_id", as: Int64.self)
            tags[id, default: []].append(
                ExperimentTag(try row.decode(column: "key", as: String.self), try row.decode(column: "value", as: String.self)))
        }
        return tags
    }

    /// The run's lifecycle stage, or `RESOURCE_DOES_NOT_EXIST`.
    package func requireRunStage(_ db: any SQLDatabase, runId: String) async throws -> LifecycleStage {
        let rows = try await db.raw("SELECT lifecycle_stage FROM runs WHERE run_id = \(bind: runId)").all()
        guard let row = rows.first else { throw SwiftflowError.notFound("Run with id=\(runId) not found") }
        return LifecycleStage(rawValue: try row.decode(column: "lifecycle_stage", as: String.self)) ?? .active
    }

    /// Throws `INVALID_PARAMETER_VALUE` unless the run exists and is active.
    package func requireActiveRun(_ db: any SQLDatabase, runId: String) async throws {
        let stage = try await requireRunStage(db, runId: runId)
        if stage != .active {
            throw SwiftflowError.invalidParameter(
                "The run \(runId) must be in the 'active' state. Current state is \(stage.rawValue).")
        }
    }
}
