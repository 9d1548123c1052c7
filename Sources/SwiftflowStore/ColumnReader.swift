import SQLKit
import SQLiteNIO

/// Typed reads of one row's columns, for the rows a search returns by the thousand.
///
/// Even with `SQLiteValueRow`, `SQLRow.decode(column:as:)` is a generic call that asks the runtime
/// for the metadata of `String?` and friends on every value. Readers cast the row once and then read
/// SQLite values directly; rows of other drivers go through `Decodable`.
package protocol ColumnReader {
    func text(_ column: String) throws -> String
    func optionalText(_ column: String) throws -> String?
    func int64(_ column: String) throws -> Int64
    func optionalInt64(_ column: String) throws -> Int64?
}

/// The reader for `row`.
package func columns(_ row: any SQLRow) -> any ColumnReader {
    if let row = row as? SQLiteValueRow { return SQLiteColumns(row: row.row) }
    return DecodingColumns(row: row)
}

private struct SQLiteColumns: ColumnReader {
    let row: SQLiteRow

    func text(_ column: String) throws -> String { try value(column) }
    func optionalText(_ column: String) throws -> String? { try optional(column) }
    func int64(_ column: String) throws -> Int64 { try value(column) }
    func optionalInt64(_ column: String) throws -> Int64? { try optional(column) }

    /// The column converted as SQLiteKit converts it; anything unusual goes to its decoder for the
    /// value or the error.
    private func value<T: SQLiteDataConvertible & Decodable>(_ column: String) throws -> T {
        if let data = row.column(column), let value = T(sqliteData: data) { return value }
        return try SQLiteValueRow(row: row).decode(column: column, as: T.self)
    }

    private func optional<T: SQLiteDataConvertible & Decodable>(_ column: String) throws -> T? {
        if let data = row.column(column) {
            if data == .null { return nil }
            if let value = T(sqliteData: data) { return value }
        }
        return try SQLiteValueRow(row: row).decode(column: column, as: T?.self)
    }
}

private struct DecodingColumns: ColumnReader {
    let row: any SQLRow

    func text(_ column: String) throws -> String { try row.decode(column: column, as: String.self) }
    func optionalText(_ column: String) throws -> String? { try row.decode(column: column, as: String?.self) }
    func int64(_ column: String) throws -> Int64 { try row.decode(column: column, as: Int64.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try row.decode(column: column, as: Int64?.self) }
}
