import SQLKit

/// Builds a statement piece by piece with bound values, for queries whose shape depends on input
/// (filters, multi-row inserts). Values are always bound, never spliced into the text.
package struct SQLQuery: Sendable {
    package private(set) var string: SQLQueryString

    package init(_ text: String = "") {
        string = SQLQueryString(text)
    }

    package mutating func sql(_ text: String) {
        string.appendLiteral(text)
    }

    package mutating func bind(_ value: any Encodable & Sendable) {
        string.appendInterpolation(bind: value)
    }

    /// Appends `(?, ?, ...)` for the values.
    package mutating func bindList(_ values: [any Encodable & Sendable]) {
        sql("(")
        string.appendInterpolation(binds: values)
        sql(")")
    }

    /// Appends another piece, text and binds in order.
    package mutating func append(_ other: SQLQuery) {
        string += other.string
    }

    package static func += (lhs: inout SQLQuery, rhs: String) { lhs.sql(rhs) }
}

extension SQLDatabase {
    package func all(_ query: SQLQuery) async throws -> [any SQLRow] {
        try await raw(query.string).all()
    }

    package func run(_ query: SQLQuery) async throws {
        try await raw(query.string).run()
    }
}
