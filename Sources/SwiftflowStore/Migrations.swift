import SQLKit
import SwiftflowCore

/// One forward-only schema change, applied in its own transaction and recorded by id.
package struct Migration: Sendable {
    package let id: String
    package let statements: @Sendable (DatabaseKind) -> [String]
}

/// Applies migrations in the style of GRDB's `DatabaseMigrator`: string ids, forward only, one
/// transaction each, an applied-ids table; a database that knows ids this binary does not is
/// refused rather than touched.
package struct Migrator: Sendable {
    package let migrations: [Migration]
    /// The applied-ids table: each schema sharing a database (tracking, auth) keeps its own.
    package let table: String

    package init(migrations: [Migration], table: String = "swiftflow_migrations") {
        self.migrations = migrations
        self.table = table
    }

    /// Brings the schema up to date.
    /// - Returns: the ids applied by this call.
    /// - Throws: `INTERNAL_ERROR` if the database was written by a newer Swiftflow.
    @discardableResult
    package func migrate(_ executor: any DatabaseExecutor) async throws -> [String] {
        let kind = executor.kind
        let table = self.table
        try await executor.write { db in
            try await Self.lock(db, kind)
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS \(unsafeRaw: table) (id TEXT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)"
            ).run()
        }
        let applied = try await executor.read { db in try await Self.appliedIds(db, table) }
        let known = Set(migrations.map(\.id))
        let unknown = applied.filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw SwiftflowError(
                .internalError,
                "The database was written by a newer Swiftflow (unknown migrations: \(unknown.sorted().joined(separator: ", "))). "
                    + "Upgrade swiftflow to open it.")
        }
        let appliedSet = Set(applied)
        var done: [String] = []
        for migration in migrations where !appliedSet.contains(migration.id) {
            let ran = try await executor.write { db in
                // Another server starting at the same time may have applied it while this one waited.
                try await Self.lock(db, kind)
                if kind == .postgres, try await Self.appliedIds(db, table).contains(migration.id) { return false }
                for statement in migration.statements(kind) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw(
                    "INSERT INTO \(unsafeRaw: table) (id, applied_at) VALUES (\(bind: migration.id), \(bind: Timestamp.nowMillis()))"
                ).run()
                return true
            }
            if ran { done.append(migration.id) }
        }
        return done
    }

    /// Serialises migrating servers: SQLite's write transaction is exclusive already; on PostgreSQL a
    /// transaction-scoped advisory lock (released at COMMIT or ROLLBACK) keeps replicas that start
    /// together from racing on the same migration.
    private static func lock(_ db: any SQLDatabase, _ kind: DatabaseKind) async throws {
        guard kind == .postgres else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(\(unsafeRaw: String(advisoryLockKey)))").run()
    }

    private static func appliedIds(_ db: any SQLDatabase, _ table: String) async throws -> [String] {
        try await db.raw("SELECT id FROM \(unsafeRaw: table)").all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// The advisory lock's key: "swiftflw" in ASCII, so other applications sharing the database are
    /// unlikely to pick it.
    static let advisoryLockKey: Int64 = 0x7377_6966_7466_6C77
}
