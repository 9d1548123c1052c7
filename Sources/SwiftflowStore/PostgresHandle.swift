import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit

/// SQLKit's view of one PostgreSQL connection, as `PostgresConnection.sql()` gives it, except for the rows.
///
/// PostgresKit decodes each value through `PostgresDataTranslation`: a dynamic cast to
/// `PostgresDecodable`, a coding path built as a string, and the column looked up by name. A page
/// of 1,000 runs is ~20,000 values, and that was 40% of the server's time on PostgreSQL. These rows
/// decode the common types with postgres-nio's own decoders (the ones PostgresKit's fast path ends
/// in).
struct PostgresHandle: DriverHandle {
    let connection: PostgresConnection
    let base: any SQLDatabase

    init(_ connection: PostgresConnection) {
        self.connection = connection
        self.base = connection.sql(queryLogLevel: nil)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        connection.whileOpen { base.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            // As PostgresKit encodes: nil is NULL, PostgresEncodable values encode themselves.
            if (bind as Any?) == nil {
                bindings.appendNull()
            } else if let value = bind as? any PostgresThrowingDynamicTypeEncodable {
                try bindings.append(value, context: .default)
            } else {
                // Anything else takes PostgresKit's Encodable path.
                return try await connection.whileOpen { base.execute(sql: query, onRow) }.get()
            }
        }
        try await connection.run(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) { row in
            onRow(PostgresValueRow(row: row.makeRandomAccess()))
        }
    }
}

extension PostgresConnection {
    /// Runs `query`, handing each row to `onRow` (on the connection's event loop).
    func run(
        _ query: PostgresQuery, logger: Logger, _ onRow: @escaping @Sendable (PostgresRow) -> Void = { _ in }
    ) async throws {
        _ = try await whileOpen { self.query(query, logger: logger, onRow) }.get()
    }

    /// Starts `send` (which writes a query into the channel) on the event loop, unless the connection has closed.
    ///
    /// postgres-nio writes a query into the channel without a write promise. Once the channel has closed
    /// and dropped its handlers, such a write is lost and the query's future never completes: a ROLLBACK
    /// after PostgreSQL went away hung its request, and kept its pooled connection, for good. On the event
    /// loop, a channel that is still active still has its handler, which runs or fails the query.
    func whileOpen<T: Sendable>(_ send: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        eventLoop.flatSubmit {
            guard !self.isClosed else {
                return self.eventLoop.makeFailedFuture(PostgresConnectionClosed())
            }
            return send()
        }
    }
}

/// The connection closed before a query could be sent (see `PostgresConnection.whileOpen`).
struct PostgresConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection to PostgreSQL closed" }
}

/// A row whose `String`, `Int64`, `Int`, `Double` and `Bool` columns (optional or not) are decoded
/// by postgres-nio directly. (PostgreSQL's numeric type is not among them: the store's queries
/// return none.)
struct PostgresValueRow: SQLRow {
    let row: PostgresRandomAccessRow

    var allColumns: [String] { row.map(\.columnName) }

    func contains(column: String) -> Bool { row.contains(column) }

    func decodeNil(column: String) throws -> Bool { !row.contains(column) || row[column].bytes == nil }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard row.contains(column) else {
            throw DecodingError.valueNotFound(D.self, .init(codingPath: [], debugDescription: "No column named \(column)"))
        }
        let cell = row[column]
        switch ObjectIdentifier(D.self) {
        case ColumnTypes.string: return unsafeBitCast(try cell.decode(String.self), to: D.self)
        case ColumnTypes.optionalString: return unsafeBitCast(try cell.decode(String?.self), to: D.self)
        case ColumnTypes.int64: return unsafeBitCast(try cell.decode(Int64.self), to: D.self)
        case ColumnTypes.optionalInt64: return unsafeBitCast(try cell.decode(Int64?.self), to: D.self)
        case ColumnTypes.int: return unsafeBitCast(try cell.decode(Int.self), to: D.self)
        case ColumnTypes.optionalInt: return unsafeBitCast(try cell.decode(Int?.self), to: D.self)
        case ColumnTypes.double: return unsafeBitCast(try cell.decode(Double.self), to: D.self)
        case ColumnTypes.optionalDouble: return unsafeBitCast(try cell.decode(Double?.self), to: D.self)
        case ColumnTypes.bool: return unsafeBitCast(try cell.decode(Bool.self), to: D.self)
        case ColumnTypes.optionalBool: return unsafeBitCast(try cell.decode(Bool?.self), to: D.self)
        default:
            // The store reads nothing else; a type without a PostgreSQL decoding is a programming error
            // that the store tests on PostgreSQL would show.
            guard let decodable = D.self as? any PostgresDecodable.Type else {
                throw DecodingError.typeMismatch(
                    D.self, .init(codingPath: [], debugDescription: "\(D.self) cannot be read from column \(column)"))
            }
            return try Self.decode(cell, as: decodable) as! D
        }
    }

    private static func decode<T: PostgresDecodable>(_ cell: PostgresCell, as _: T.Type) throws -> T {
        try cell.decode(T.self, context: .default)
    }

}
