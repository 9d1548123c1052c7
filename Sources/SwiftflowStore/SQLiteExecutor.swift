import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
import SwiftflowCore

/// The embedded backend: one SQLite file in WAL mode, one writer connection, a few readers.
///
/// SQLite serialises writers anyway; giving the single writer connection to one task at a time
/// (through `AsyncLock`) keeps writers from spinning on the busy handler. Readers run in parallel
/// with the writer, as WAL allows.
package final class SQLiteExecutor: DatabaseExecutor {
    package let kind = DatabaseKind.sqlite
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let readerLocks: [AsyncLock]
    private let nextReader = Atomic<Int>(0)
    private let writeLock = AsyncLock()
    private let threadPool: NIOThreadPool
    private let logger: Logger

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], threadPool: NIOThreadPool, logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.readerLocks = readers.map { _ in AsyncLock() }
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Opens (creating if needed) the database at `path` (`:memory:` is not supported: readers
    /// would each see their own database).
    /// - Throws: `INTERNAL_ERROR` if the file cannot be opened.
    package static func open(path: String, readers readerCount: Int = 2, logger: Logger) async throws -> SQLiteExecutor {
        let threadPool = NIOThreadPool(numberOfThreads: readerCount + 1)
        threadPool.start()
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            let writer = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
            // WAL survives a killed process with every committed transaction; NORMAL skips the fsync
            // per commit (durability against power loss is then up to the last checkpoint).
            try await configure(writer, pragmas: [
                "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 10000", "PRAGMA case_sensitive_like = ON",
            ])
            var readers: [SQLiteConnection] = []
            for _ in 0..<max(1, readerCount) {
                let reader = try await SQLiteConnection.open(
                    storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
                // A search touches the (key, value) indexes and the runs of whole experiments: with
                // SQLite's default 2 MiB cache those pages were read from the OS again on every call.
                // The cache grows only as pages are used, so an idle server stays small.
                try await configure(reader, pragmas: [
                    "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 10000", "PRAGMA case_sensitive_like = ON",
                    "PRAGMA cache_size = -32768",
                ])
                readers.append(reader)
            }
            return SQLiteExecutor(writer: writer, readers: readers, threadPool: threadPool, logger: logger)
        } catch {
            try? await threadPool.shutdownGracefully()
            throw SwiftflowError(.internalError, "Cannot open the SQLite database at \(path)", cause: error)
        }
    }

    private static func configure(_ connection: SQLiteConnection, pragmas: [String]) async throws {
        for pragma in pragmas {
            try await connection.query(pragma, []) { _ in }
        }
    }

    package func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count
        let lock = readerLocks[index]
        await lock.lock()
        defer { lock.unlock() }
        return try await body(SQLiteHandle(readers[index]))
    }

    /// Raw SQLite rows for the hottest reads (metric history): the statement is plain SQL with `?`
    /// placeholders, and rows skip SQLKit's per-value decoding.
    package func readRawRows(_ sql: String, _ binds: [SQLiteData]) async throws -> [SQLiteRow] {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count
        let lock = readerLocks[index]
        await lock.lock()
        defer { lock.unlock() }
        let collector = RowCollector()
        try await readers[index].query(sql, binds) { row in collector.rows.withLock { $0.append(row) } }
        return collector.rows.withLock { $0 }
    }

    /// Runs raw SQL (as `readRawRows`) and hands each row to `body` as SQLite produces it, keeping
    /// none: for passes over more rows than should be held at once (sampling a long metric history).
    package func forEachRawRow(
        _ sql: String, _ binds: [SQLiteData], _ body: @escaping @Sendable (SQLiteRow) -> Void
    ) async throws {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count
        let lock = readerLocks[index]
        await lock.lock()
        defer { lock.unlock() }
        try await readers[index].query(sql, binds, body)
    }

    package func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await writeLock.lock()
        defer { writeLock.unlock() }
        let database = SQLiteHandle(writer)
        try await writer.query("BEGIN IMMEDIATE", []) { _ in }
        do {
            let result = try await body(database)
            try await writer.query("COMMIT", []) { _ in }
            return result
        } catch {
            do {
                try await writer.query("ROLLBACK", []) { _ in }
            } catch {
                logger.error("rollback failed: \(error)")
            }
            throw error
        }
    }

    package func writeStatement<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await writeLock.lock()
        defer { writeLock.unlock() }
        return try await body(SQLiteHandle(writer))
    }

    package func isUniqueViolation(_ error: any Error) -> Bool {
        guard let error = error as? SQLiteError else { return false }
        switch error.reason {
        case .constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed: return true
        default: return false
        }
    }

    package func isForeignKeyViolation(_ error: any Error) -> Bool {
        (error as? SQLiteError)?.reason == .constraintForeignKeyFailed
    }

    package func errorMessage(_ error: any Error) -> String {
        String(describing: error)
    }

    package func shutdown() async {
        await writeLock.lock()
        for connection in readers + [writer] {
            try? await connection.close()
        }
        try? await threadPool.shutdownGracefully()
    }
}

/// Gathers rows delivered one by one on the thread pool.
private final class RowCollector: Sendable {
    let rows = Mutex<[SQLiteRow]>([])
}
