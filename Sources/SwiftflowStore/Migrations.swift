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

    package init(migrations: [Migration]) { self.migrations = migrations }

    /// Brings the schema up to date.
    /// - Returns: the ids applied by this call.
    /// - Throws: `INTERNAL_ERROR` if the database was written by a newer Swiftflow.
    @discardableResult
    package func migrate(_ executor: any DatabaseExecutor) async throws -> [String] {
        try await executor.write { db in
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS swiftflow_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)"
            ).run()
        }
        let applied = try await executor.read { db in
            try await db.raw("SELECT id FROM swiftflow_migrations").all().map { try $0.decode(column: "id", as: String.self) }
        }
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
            try await executor.write { db in
                for statement in migration.statements(executor.kind) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw(
                    "INSERT INTO swiftflow_migrations (id, applied_at) VALUES (\(bind: migration.id), \(bind: Timestamp.nowMillis()))"
                ).run()
            }
            done.append(migration.id)
        }
        return done
    }
}
