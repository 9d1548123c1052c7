import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import SwiftflowCore

/// The server backend: a pool of PostgreSQL connections (postgres-nio's `PostgresClient`).
///
/// Reads take any pooled connection; a write is one transaction (`BEGIN … COMMIT`, or `ROLLBACK` when
/// its body throws) on one leased connection. PostgreSQL serialises conflicting writers itself, so
/// unlike SQLite there is no writer lock: several replicas can share one database.
package final class PostgresExecutor: DatabaseExecutor {
    package let kind = DatabaseKind.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger

    /// Starts a pool for `configuration` (see `PostgresURL`); connections open on demand.
    /// - Parameters:
    ///   - configuration: where to connect and how; `options.maximumConnections` is the pool size.
    ///   - logger: where the driver logs.
    package init(configuration: PostgresClient.Configuration, logger: Logger) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        let (started, signal) = AsyncStream<Void>.makeStream()
        self.started = started
        self.runTask = Task {
            signal.finish()
            await client.run()
        }
    }

    /// Finishes once the pool's task runs: a lease before that only waits, but the driver warns.
    private let started: AsyncStream<Void>

    /// Opens a pool for a `postgresql://` URI and checks that the server answers.
    /// - Throws: `INVALID_PARAMETER_VALUE` for a malformed URI; `INTERNAL_ERROR` if the server cannot be reached.
    package static func open(uri: String, poolSize: Int = 10, logger: Logger) async throws -> PostgresExecutor {
        let configuration = try PostgresURL.configuration(uri, poolSize: poolSize)
        let executor = PostgresExecutor(configuration: configuration, logger: logger)
        for await _ in executor.started {}
        await Task.yield()
        do {
            _ = try await executor.read { db in try await db.raw("SELECT 1 AS one").all() }
        } catch {
            await executor.shutdown()
            throw SwiftflowError(
                .internalError, "Cannot connect to PostgreSQL at \(PostgresURL.redacted(uri)): \(message(of: error))",
                cause: error)
        }
        return executor
    }

    package func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await Self.translatingErrors {
            try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: nil))
            }
        }
    }

    package func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await Self.translatingErrors { try await transaction(body) }
    }

    private func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let result = try await body(connection.sql(queryLogLevel: nil))
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                do {
                    try await connection.query("ROLLBACK", logger: logger)
                } catch {
                    logger.error("rollback failed: \(Self.message(of: error))")
                }
                throw error
            }
        }
    }

    package func writeStatement<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await read(body)
    }

    package func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PostgresServerError)?.sqlState == PostgresError.Code.uniqueViolation.raw
    }

    package func errorMessage(_ error: any Error) -> String {
        Self.message(of: error)
    }

    /// The driver's errors hide the server's message from `description` (it may hold data); the
    /// server's SQLSTATE and primary message are what stores and logs need, so errors the server
    /// sent are rethrown as `PostgresServerError`.
    private static func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError {
            guard let info = error.serverInfo, let state = info[.sqlState] else { throw error }
            throw PostgresServerError(sqlState: state, message: info[.message] ?? "", underlying: error)
        }
    }

    /// The server's message for a PSQLError (whose description hides it on purpose), else the description.
    static func message(of error: any Error) -> String {
        if let error = error as? PostgresServerError { return error.message }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return String(describing: error)
    }

    package func shutdown() async {
        runTask.cancel()
        await runTask.value
    }
}

/// An error PostgreSQL answered with: its SQLSTATE and primary message.
package struct PostgresServerError: Error, CustomStringConvertible {
    package let sqlState: String
    package let message: String
    package let underlying: PSQLError

    package var description: String { "PostgreSQL error \(sqlState): \(message)" }
}
