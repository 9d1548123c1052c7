import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import SwiftflowCore
import Synchronization

/// The server backend: a pool of PostgreSQL connections (postgres-nio's `PostgresClient`).
///
/// Reads take any pooled connection; a write is one transaction (`BEGIN … COMMIT`, or `ROLLBACK` when
/// its body throws) on one leased connection. PostgreSQL serialises conflicting writers itself, so
/// unlike SQLite there is no writer lock: several replicas can share one database.
///
/// When the database cannot be reached, calls fail with `TEMPORARILY_UNAVAILABLE` (HTTP 503) instead
/// of waiting: a call that gets no connection within `leaseTimeout` gives up, and a connection lost
/// mid-call fails only that call. The pool reconnects by itself once the server is back.
package final class PostgresExecutor: DatabaseExecutor {
    package let kind = DatabaseKind.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    /// Refreshes planner statistics of tables that changed a lot (see `analyzeChangedTables`).
    private let statisticsTask = Mutex<Task<Void, Never>?>(nil)
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
    /// - Parameter refreshesStatistics: whether to ANALYZE tables that changed a lot; off for a
    ///   database that is only read (an MLflow database being imported).
    package static func open(
        uri: String, poolSize: Int = 10, refreshesStatistics: Bool = true, logger: Logger
    ) async throws -> PostgresExecutor {
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
        guard refreshesStatistics else { return executor }
        executor.statisticsTask.withLock { task in
            task = Task { [weak executor] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: statisticsInterval)
                    await executor?.analyzeChangedTables()
                }
            }
        }
        return executor
    }

    /// How long a call waits for a pooled connection. The pool queues calls while it cannot connect
    /// (for up to a minute), so without this a client would hang instead of hearing that the
    /// database is down.
    package static let leaseTimeout: Duration = .seconds(10)

    package func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withLease { connection in try await body(PostgresHandle(connection)) }
    }

    /// Runs `body` on a pooled connection of its own, for raw PostgresNIO queries (the importer's
    /// reads of an MLflow database, which know their column types).
    package func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withLease(body)
    }

    package func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withLease { connection in
            try await connection.run("BEGIN", logger: self.logger)
            do {
                let result = try await body(PostgresHandle(connection))
                try await connection.run("COMMIT", logger: self.logger)
                return result
            } catch {
                do {
                    try await connection.run("ROLLBACK", logger: self.logger)
                } catch {
                    // A lost connection has rolled back already.
                    let lost = Self.translated(error, leased: true) is SwiftflowError
                    self.logger.log(level: lost ? .debug : .error, "rollback failed: \(Self.message(of: error))")
                }
                throw error
            }
        }
    }

    /// Runs `body` on a pooled connection, racing the lease against `leaseTimeout`, and turns the
    /// driver's errors into the ones stores and clients need (see `translated`).
    private func withLease<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let leased = LeaseFlag()
        do {
            return try await withoutActuallyEscaping(body) { body in
                try await withThrowingTaskGroup(of: T?.self) { group in
                    group.addTask {
                        try await self.client.withConnection { connection in
                            leased.set()
                            return try await body(connection)
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: Self.leaseTimeout)
                        if leased.isSet { return nil }
                        throw Self.unavailable("no connection to PostgreSQL within \(Self.leaseTimeout)")
                    }
                    while let result = try await group.next() {
                        if let value = result {
                            group.cancelAll()
                            return value
                        }
                    }
                    throw CancellationError()
                }
            }
        } catch {
            throw Self.translated(error, leased: leased.isSet)
        }
    }

    /// A lost or refused connection becomes `TEMPORARILY_UNAVAILABLE`; an error the server sent becomes
    /// `PostgresServerError` (the driver's description hides the server's SQLSTATE and message).
    private static func translated(_ error: any Error, leased: Bool) -> any Error {
        if error is SwiftflowError { return error }
        if error is PostgresConnectionClosed { return unavailable(String(describing: error)) }
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let state = info[.sqlState] {
                let message = info[.message] ?? ""
                if isConnectionFailure(sqlState: state) { return unavailable(message) }
                return PostgresServerError(sqlState: state, message: message, underlying: error)
            }
            if connectionFailureCodes.contains(error.code) { return unavailable(message(of: error)) }
            return error
        }
        // Anything else before a connection was leased comes from the pool (circuit breaker, shutdown).
        return leased ? error : unavailable(String(describing: error))
    }

    private static let connectionFailureCodes: [PSQLError.Code] = [
        .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
    ]

    /// SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down, crashed, starting up) and
    /// 53300 (too many connections).
    private static func isConnectionFailure(sqlState: String) -> Bool {
        sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(sqlState)
    }

    private static func unavailable(_ reason: String) -> SwiftflowError {
        SwiftflowError(.temporarilyUnavailable, "The tracking database is unavailable (\(reason)). Retry later.")
    }

    package func writeStatement<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await read(body)
    }

    package func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PostgresServerError)?.sqlState == PostgresError.Code.uniqueViolation.raw
    }

    package func isForeignKeyViolation(_ error: any Error) -> Bool {
        (error as? PostgresServerError)?.sqlState == PostgresError.Code.foreignKeyViolation.raw
    }

    package func errorMessage(_ error: any Error) -> String {
        Self.message(of: error)
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

    /// How often `analyzeChangedTables` looks.
    static let statisticsInterval: Duration = .seconds(10)

    /// ANALYZEs the tables whose rows changed by more than a fifth (and 1,000) since their last
    /// statistics. Autovacuum does the same only once a minute by default, and until then a freshly
    /// filled table is planned as if empty: a run search over 10,000 new runs took 390 ms instead of 30.
    /// Replicas may both do it; ANALYZE is cheap at these sizes and harmless twice.
    func analyzeChangedTables() async {
        do {
            let tables = try await read { db in
                try await db.raw("""
                    SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()
                    AND n_mod_since_analyze > 1000 AND n_mod_since_analyze > n_live_tup / 5
                    """).all().map { try $0.decode(column: "relname", as: String.self) }
            }
            for table in tables {
                try await read { db in
                    try await db.raw("ANALYZE \(ident: table)").run()
                }
                logger.debug("analyzed \(table)")
            }
        } catch {
            logger.debug("refreshing table statistics failed: \(Self.message(of: error))")
        }
    }

    package func shutdown() async {
        statisticsTask.withLock { $0?.cancel() }
        runTask.cancel()
        await runTask.value
    }
}

/// Set once a call holds a connection; read by its lease timer.
private final class LeaseFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// An error PostgreSQL answered with: its SQLSTATE and primary message.
package struct PostgresServerError: Error, CustomStringConvertible {
    package let sqlState: String
    package let message: String
    package let underlying: PSQLError

    package var description: String { "PostgreSQL error \(sqlState): \(message)" }
}
