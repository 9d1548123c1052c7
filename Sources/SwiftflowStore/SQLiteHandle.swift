import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLKit's view of one SQLite connection, as `SQLiteConnection.sql()` gives it, except for the rows.
///
/// SQLiteKit decodes every column through `Decodable`: a protocol-conformance lookup and, for
/// optionals, a nested decoder per value. Profiles of the registry and run searches put that at a
/// quarter of the server's time. These rows read the common column types directly, with the same
/// conversions (`SQLiteDataConvertible`) and the same errors, and hand anything else to SQLiteKit's
/// decoder.
struct SQLiteHandle: DriverHandle {
    let connection: SQLiteConnection
    let base: any SQLDatabase

    init(_ connection: SQLiteConnection) {
        self.connection = connection
        self.base = connection.sql(queryLogLevel: nil)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let (sql, binds) = serialize(query)
        do {
            let encoder = SQLiteDataEncoder()
            return connection.query(sql, try binds.map { try encoder.encode($0) }) { onRow(SQLiteValueRow(row: $0)) }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        try await connection.query(sql, try binds.map { try encoder.encode($0) }) { onRow(SQLiteValueRow(row: $0)) }
    }
}

/// A database that is a driver's own SQLKit view (`base`) except for how it runs queries.
protocol DriverHandle: SQLDatabase {
    var base: any SQLDatabase { get }
}

extension DriverHandle {
    var eventLoop: any EventLoop { base.eventLoop }
    var logger: Logger { base.logger }
    var dialect: any SQLDialect { base.dialect }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var queryLogLevel: Logger.Level? { nil }
}

/// The column types both drivers' rows read directly. Metatypes are compared by identity, kept
/// once: spelling `String?.self` at the call site asks the runtime for Optional's metadata every time.
enum ColumnTypes {
    static let string = ObjectIdentifier(String.self)
    static let optionalString = ObjectIdentifier(String?.self)
    static let int64 = ObjectIdentifier(Int64.self)
    static let optionalInt64 = ObjectIdentifier(Int64?.self)
    static let int = ObjectIdentifier(Int.self)
    static let optionalInt = ObjectIdentifier(Int?.self)
    static let double = ObjectIdentifier(Double.self)
    static let optionalDouble = ObjectIdentifier(Double?.self)
    static let bool = ObjectIdentifier(Bool.self)
    static let optionalBool = ObjectIdentifier(Bool?.self)
}

/// A row whose `String`, `Int64`, `Int`, `Double` and `Bool` columns (optional or not) are read
/// without going through `Decodable`.
struct SQLiteValueRow: SQLRow {
    let row: SQLiteRow

    var allColumns: [String] { row.columns.map(\.name) }

    func contains(column: String) -> Bool { row.column(column) != nil }

    func decodeNil(column: String) throws -> Bool { (row.column(column) ?? .null) == .null }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let data = row.column(column) else {
            throw DecodingError.valueNotFound(
                D.self, .init(codingPath: [], debugDescription: "No column named \(column)"))
        }
        if let value = Self.direct(data, as: D.self) { return value }
        return try SQLiteDataDecoder().decode(D.self, from: data)
    }

    /// `data` as `D` when `D` is one of the common types and the value converts; nil otherwise (the
    /// decoder then produces the value or the error).
    @inline(__always)
    private static func direct<D>(_ data: SQLiteData, as _: D.Type) -> D? {
        switch ObjectIdentifier(D.self) {
        case ColumnTypes.string: return convert(data, String.self, D.self)
        case ColumnTypes.optionalString: return optional(data, String.self, D.self)
        case ColumnTypes.int64: return convert(data, Int64.self, D.self)
        case ColumnTypes.optionalInt64: return optional(data, Int64.self, D.self)
        case ColumnTypes.int: return convert(data, Int.self, D.self)
        case ColumnTypes.optionalInt: return optional(data, Int.self, D.self)
        case ColumnTypes.double: return convert(data, Double.self, D.self)
        case ColumnTypes.optionalDouble: return optional(data, Double.self, D.self)
        case ColumnTypes.bool: return convert(data, Bool.self, D.self)
        case ColumnTypes.optionalBool: return optional(data, Bool.self, D.self)
        default: return nil
        }
    }

    /// `T(sqliteData:)` as `D`, where the caller has checked that `D` is `T`.
    @inline(__always)
    private static func convert<T: SQLiteDataConvertible, D>(_ data: SQLiteData, _: T.Type, _: D.Type) -> D? {
        guard let value = T(sqliteData: data) else { return nil }
        return unsafeBitCast(value, to: D.self)
    }

    /// `T?` as `D`, where the caller has checked that `D` is `T?`: NULL is `nil`, as the decoder has it.
    @inline(__always)
    private static func optional<T: SQLiteDataConvertible, D>(_ data: SQLiteData, _: T.Type, _: D.Type) -> D? {
        if data == .null { return unsafeBitCast(T?.none, to: D.self) }
        guard let value = T(sqliteData: data) else { return nil }
        return unsafeBitCast(T?.some(value), to: D.self)
    }
}
