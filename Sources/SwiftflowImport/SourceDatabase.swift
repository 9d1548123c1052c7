import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import SQLKit
import SQLiteNIO
import SwiftflowCore
import SwiftflowStore

/// A value read from an MLflow database, whatever driver read it.
enum SourceValue: Sendable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    var string: String? {
        switch self {
        case .text(let text): text
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .null: nil
        }
    }

    var int: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value): Int64(exactly: value.rounded()) ?? nil
        case .text(let text): Int64(text)
        case .null: nil
        }
    }

    var double: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        case .text(let text): Double(text)
        case .null: nil
        }
    }

    /// SQLite keeps booleans as 0 and 1; PostgreSQL's are read as 1 and 0 here too.
    var bool: Bool? { int.map { $0 != 0 } }
}

/// The SQL type a source column is read as (PostgreSQL's rows need it; SQLite's carry their own).
enum SourceType: Sendable {
    case text, int, double, bool
}

/// An MLflow database opened for reading only: nothing is ever written to it.
///
/// SQLite files are opened with `mode=ro`; PostgreSQL sessions are set read-only. Rows come back as
/// `SourceValue`s by position, so the readers above spell their columns once, in the SELECT.
final class SourceDatabase: Sendable {
    enum Connection: Sendable {
        case sqlite(SQLiteConnection, NIOThreadPool)
        case postgres(PostgresExecutor)
    }

    let connection: Connection
    let description: String

    private init(_ connection: Connection, description: String) {
        self.connection = connection
        self.description = description
    }

    var isSQLite: Bool { if case .sqlite = connection { true } else { false } }

    static func openSQLite(path: String, logger: Logger) async throws -> SourceDatabase {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SwiftflowError.invalidParameter("No MLflow database at \(path).")
        }
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        do {
            let escaped = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
            let connection = try await SQLiteConnection.open(
                storage: .file(path: "file:\(escaped)?mode=ro"), threadPool: pool, logger: logger,
                on: MultiThreadedEventLoopGroup.singleton.any())
            try await connection.query("PRAGMA query_only = ON", []) { _ in }
            return SourceDatabase(.sqlite(connection, pool), description: path)
        } catch {
            try? await pool.shutdownGracefully()
            throw SwiftflowError(.internalError, "Cannot open the MLflow database at \(path) for reading", cause: error)
        }
    }

    static func openPostgres(uri: String, logger: Logger) async throws -> SourceDatabase {
        let executor = try await PostgresExecutor.open(uri: uri, poolSize: 2, refreshesStatistics: false, logger: logger)
        return SourceDatabase(.postgres(executor), description: PostgresURL.redacted(uri))
    }

    func close() async {
        switch connection {
        case .sqlite(let connection, let pool):
            try? await connection.close()
            try? await pool.shutdownGracefully()
        case .postgres(let executor):
            await executor.shutdown()
        }
    }

    /// Runs `sql` (binds written `?`, numbered for PostgreSQL here) and returns its rows, each read
    /// as `types` by position.
    func rows(_ sql: String, _ binds: [SourceValue] = [], types: [SourceType]) async throws -> [[SourceValue]] {
        switch connection {
        case .sqlite(let connection, _):
            let data: [SQLiteData] = binds.map {
                switch $0 {
                case .null: .null
                case .int(let value): .integer(Int(value))
                case .double(let value): .float(value)
                case .text(let text): .text(text)
                }
            }
            let collected = NIOLockedRows()
            try await connection.query(sql, data) { row in
                let values = row.columns.map { column -> SourceValue in
                    switch column.data {
                    case .integer(let value): .int(Int64(value))
                    case .float(let value): .double(value)
                    case .text(let text): .text(text)
                    case .blob(let buffer): .text(String(buffer: buffer))
                    case .null: .null
                    }
                }
                collected.append(values)
            }
            return collected.rows
        case .postgres(let executor):
            var numbered = ""
            var index = 0
            for character in sql {
                if character == "?" {
                    index += 1
                    numbered += "$\(index)"
                } else {
                    numbered.append(character)
                }
            }
            var bindings = PostgresBindings()
            for bind in binds {
                switch bind {
                case .null: bindings.appendNull()
                case .int(let value): bindings.append(value)
                case .double(let value): bindings.append(value)
                case .text(let text): bindings.append(text)
                }
            }
            let query = PostgresQuery(unsafeSQL: numbered, binds: bindings)
            return try await executor.withConnection { connection in
                var out: [[SourceValue]] = []
                let rows = try await connection.query(query, logger: connection.logger)
                for try await row in rows {
                    var values: [SourceValue] = []
                    values.reserveCapacity(types.count)
                    for (cell, type) in zip(row, types) {
                        values.append(try Self.decode(cell, as: type))
                    }
                    out.append(values)
                }
                return out
            }
        }
    }

    private static func decode(_ cell: PostgresCell, as type: SourceType) throws -> SourceValue {
        if cell.bytes == nil { return .null }
        switch type {
        case .text: return .text(try cell.decode(String.self))
        case .int:
            if cell.dataType == .int4 { return .int(Int64(try cell.decode(Int32.self))) }
            if cell.dataType == .int2 { return .int(Int64(try cell.decode(Int16.self))) }
            return .int(try cell.decode(Int64.self))
        case .double:
            if cell.dataType == .float4 { return .double(Double(try cell.decode(Float.self))) }
            return .double(try cell.decode(Double.self))
        case .bool:
            if cell.dataType == .bool { return .int(try cell.decode(Bool.self) ? 1 : 0) }
            return .int(Int64(try cell.decode(Int32.self)))
        }
    }

    /// The tables of the database's own schema.
    func tables() async throws -> Set<String> {
        let sql = isSQLite
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        return Set(try await rows(sql, types: [.text]).compactMap { $0.first?.string })
    }

    /// The columns of `table`.
    func columns(_ table: String) async throws -> Set<String> {
        if isSQLite {
            return Set(try await rows("SELECT name FROM pragma_table_info(?)", [.text(table)], types: [.text])
                .compactMap { $0.first?.string })
        }
        return Set(try await rows("""
            SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?
            """, [.text(table)], types: [.text]).compactMap { $0.first?.string })
    }
}

/// Rows handed over from SQLite's thread, one at a time.
private final class NIOLockedRows: @unchecked Sendable {
    private let lock = NIOLock()
    private var storage: [[SourceValue]] = []
    func append(_ row: [SourceValue]) { lock.withLock { storage.append(row) } }
    var rows: [[SourceValue]] { lock.withLock { storage } }
}
