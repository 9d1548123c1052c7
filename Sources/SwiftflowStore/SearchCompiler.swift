import SQLKit
import SwiftflowCore

/// Compiles parsed search filters and order-by clauses to SQL, binding every value.
///
/// Run filters on metrics, params and tags become `EXISTS` subqueries on indexed `(key, value)`
/// tables, so a search never joins every param × tag × metric of every run.
package enum SearchCompiler {
    /// Restricts `column` to what `visibility` lets the caller read.
    /// - Parameter values: the visibility's keys as the column stores them.
    static func visibilityCondition<Value: Encodable & Sendable>(
        _ column: String, _ visibility: Visibility, values: (Set<String>) -> [Value], into query: inout SQLQuery
    ) {
        switch visibility {
        case .all:
            return
        case .allExcept(let hidden):
            let keys = values(hidden)
            guard !keys.isEmpty else { return }
            query += " AND \(column) NOT IN "
            query.bindList(keys)
        case .only(let shown):
            let keys = values(shown)
            guard !keys.isEmpty else {
                query += " AND 1 = 0"
                return
            }
            query += " AND \(column) IN "
            query.bindList(keys)
        }
    }

    /// Run attributes and the `runs` columns that hold them.
    static let runColumns: [String: String] = [
        "run_id": "r.run_id", "run_name": "r.name", "status": "r.status", "user_id": "r.user_id",
        "artifact_uri": "r.artifact_uri", "start_time": "r.start_time", "end_time": "r.end_time",
        "lifecycle_stage": "r.lifecycle_stage", "experiment_id": "r.experiment_id",
    ]
    static let experimentColumns: [String: String] = [
        "name": "e.name", "experiment_id": "e.experiment_id", "creation_time": "e.creation_time",
        "last_update_time": "e.last_update_time",
    ]

    // MARK: - Conditions

    static func compare(_ column: String, _ comparison: SearchComparison, kind: DatabaseKind, into query: inout SQLQuery) throws(SwiftflowError) {
        switch (comparison.op, comparison.value) {
        case (.in, .list(let values)), (.notIn, .list(let values)):
            query += "\(column) \(comparison.op == .in ? "IN" : "NOT IN") "
            query.bindList(values)
        case (.ilike, .string(let text)):
            query += "LOWER(\(column)) LIKE LOWER("
            query.bind(text)
            query += ")\(kind.likeEscape)"
        case (.like, .string(let text)):
            query += "\(column) LIKE "
            query.bind(text)
            query += kind.likeEscape
        case (let op, .string(let text)):
            query += "\(column) \(try sqlOperator(op)) "
            query.bind(text)
        case (let op, .number(let number)):
            query += "\(column) \(try sqlOperator(op)) "
            if number == number.rounded(), abs(number) < 9.2e18 {
                query.bind(Int64(number))
            } else {
                query.bind(number)
            }
        default:
            throw .invalidParameter("Invalid comparison '\(comparison.op.rawValue)' for '\(comparison.key)'.")
        }
    }

    /// The SQL of a comparator that takes one value; lists, `IS [NOT] NULL` and `ILIKE` are compiled apart.
    static func sqlOperator(_ op: ComparisonOperator) throws(SwiftflowError) -> String {
        switch op {
        case .in, .notIn, .isNull, .isNotNull, .ilike: throw .invalidParameter("Invalid comparator '\(op.rawValue)'.")
        default: op.sql
        }
    }

    /// `EXISTS (SELECT 1 FROM table x WHERE owner AND <predicate>)`, or `NOT EXISTS` for `IS NULL`.
    static func keyValueCondition(
        table: String, owner: String, metric: Bool = false, _ comparison: SearchComparison, kind: DatabaseKind, into query: inout SQLQuery
    ) throws(SwiftflowError) {
        query += comparison.op == .isNull ? "NOT EXISTS" : "EXISTS"
        query += " (SELECT 1 FROM \(table) x WHERE \(owner) AND "
        try keyValuePredicate(alias: "x", metric: metric, comparison, kind: kind, into: &query)
        query += ")"
    }

    /// `<alias>.key = ? AND (<alias>.value <op> ?)`: a row of a key-value table that satisfies the
    /// comparison (for `IS NULL` / `IS NOT NULL`, that has the key). A metric's NaN (stored as 0 with
    /// `is_nan`) matches `!=` and no other comparison, as on MLflow's server.
    static func keyValuePredicate(
        alias: String, metric: Bool, _ comparison: SearchComparison, kind: DatabaseKind, into query: inout SQLQuery
    ) throws(SwiftflowError) {
        query += "\(alias).key = "
        query.bind(comparison.key)
        switch comparison.op {
        case .isNull, .isNotNull:
            return
        case .notEqual where metric:
            query += " AND (\(alias).is_nan = true OR "
        case _ where metric:
            query += " AND \(alias).is_nan = false AND ("
        default:
            query += " AND ("
        }
        try compare("\(alias).value", comparison, kind: kind, into: &query)
        query += ")"
    }

    /// The candidate comparison whose key-value rows match fewest rows, if fewer than half of
    /// `total`, else nil. Each count goes through the table's `(key, value)` index and stops at the best
    /// so far, so a search pays little for it. SQLite's planner cannot make this choice without
    /// statistics, and keeps `EXISTS` subqueries correlated (one index probe per scanned row).
    package static func selectiveDriver(
        _ db: any SQLDatabase, _ comparisons: [SearchComparison], candidates: [Int], total: Int,
        table: (SearchComparison) -> String
    ) async throws -> Int? {
        var best = total / 2
        var driver: Int?
        for index in candidates where best > 0 {
            var query = SQLQuery("SELECT count(*) AS n FROM (SELECT 1 FROM \(table(comparisons[index])) x WHERE ")
            try keyValuePredicate(alias: "x", metric: false, comparisons[index], kind: db.kind, into: &query)
            query += " LIMIT "
            query.bind(best)
            query += ") AS capped"
            let matches = try await count(db, query)
            if matches < best {
                best = matches
                driver = index
            }
        }
        return driver
    }

    /// The `n` column of a `SELECT count(*) AS n` query.
    package static func count(_ db: any SQLDatabase, _ query: SQLQuery) async throws -> Int {
        try await db.all(query).first?.decode(column: "n", as: Int.self) ?? 0
    }

    /// The key-value table a run filter looks in, or nil for attributes and datasets.
    package static func runTable(_ entity: SearchEntity) -> String? {
        switch entity {
        case .metric: "latest_metrics"
        case .param: "params"
        case .tag: "tags"
        case .attribute, .dataset: nil
        }
    }

    package static func experimentCondition(_ comparison: SearchComparison, kind: DatabaseKind, into query: inout SQLQuery) throws(SwiftflowError) {
        switch comparison.entity {
        case .attribute:
            guard let column = experimentColumns[comparison.key] else {
                throw .invalidParameter("Invalid attribute key '\(comparison.key)' specified.")
            }
            try compare(column, comparison, kind: kind, into: &query)
        case .tag:
            try keyValueCondition(table: "experiment_tags", owner: "x.experiment_id = e.experiment_id", comparison, kind: kind, into: &query)
        default:
            throw .invalidParameter("Invalid entity type '\(comparison.entity.rawValue)' for experiments.")
        }
    }

    package static func runCondition(_ comparison: SearchComparison, kind: DatabaseKind, into query: inout SQLQuery) throws(SwiftflowError) {
        switch comparison.entity {
        case .attribute:
            guard let column = runColumns[comparison.key] else {
                throw .invalidParameter("Invalid attribute key '\(comparison.key)' specified.")
            }
            try compare(column, comparison, kind: kind, into: &query)
        case .metric, .param, .tag:
            let table = runTable(comparison.entity)!
            try keyValueCondition(
                table: table, owner: "x.run_id = r.run_id", metric: comparison.entity == .metric, comparison, kind: kind, into: &query)
        case .dataset:
            query += "EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE ri.run_id = r.run_id AND "
            switch comparison.key {
            case "name": try compare("d.name", comparison, kind: kind, into: &query)
            case "digest": try compare("d.digest", comparison, kind: kind, into: &query)
            case "context":
                query += "EXISTS (SELECT 1 FROM run_input_tags t WHERE t.run_id = ri.run_id AND t.dataset_id = ri.dataset_id "
                query += "AND t.key = "
                query.bind(MLflowTags.datasetContext)
                query += " AND "
                try compare("t.value", comparison, kind: kind, into: &query)
                query += ")"
            default:
                throw .invalidParameter("Invalid dataset key '\(comparison.key)' specified.")
            }
            query += ")"
        }
    }

    // MARK: - Ordering

    package static func experimentOrder(_ clauses: [OrderByClause]) throws(SwiftflowError) -> String {
        let effective = clauses.isEmpty
            ? [OrderByClause(entity: .attribute, key: "creation_time", ascending: false),
               OrderByClause(entity: .attribute, key: "experiment_id", ascending: true)]
            : clauses
        var parts: [String] = []
        for clause in effective {
            guard clause.entity == .attribute, let column = experimentColumns[clause.key] else {
                throw .invalidParameter("Invalid order_by entity: \(clause.entity.rawValue)")
            }
            parts.append("\(column) \(clause.ascending ? "ASC" : "DESC")")
        }
        if !effective.contains(where: { $0.key == "experiment_id" }) { parts.append("e.experiment_id DESC") }
        return parts.joined(separator: ", ")
    }

    /// One `ORDER BY` term of a run search and the kind of value it yields, so that a page token can
    /// carry the last row's value and the next page can start after it.
    package struct OrderTerm: Sendable {
        package enum Kind: Sendable { case integer, real, text }
        package var sql: String
        package var ascending: Bool
        package var kind: Kind
    }

    /// Run attributes that hold numbers (the others are text).
    static let numericRunAttributes: Set<String> = ["start_time", "end_time", "experiment_id"]

    /// Joins and `ORDER BY` terms for a run search. Present values sort first, then NaN, then absent
    /// ones, in either direction, as MLflow does; ties fall to start_time DESC, run_id ASC, so the order
    /// is total and a page can resume after a row.
    package static func runOrder(_ clauses: [OrderByClause], into joins: inout SQLQuery) throws(SwiftflowError) -> [OrderTerm] {
        var terms: [OrderTerm] = []
        var seen = Set<String>()
        for (index, clause) in clauses.enumerated() {
            seen.insert("\(clause.entity.rawValue).\(clause.key)")  // duplicates were refused by the parser
            switch clause.entity {
            case .attribute:
                guard let column = runColumns[clause.key] else {
                    throw .invalidParameter("Invalid attribute key '\(clause.key)' specified.")
                }
                terms.append(OrderTerm(sql: "CASE WHEN \(column) IS NULL THEN 1 ELSE 0 END", ascending: true, kind: .integer))
                let kind: OrderTerm.Kind = numericRunAttributes.contains(clause.key) ? .integer : .text
                terms.append(OrderTerm(sql: column, ascending: clause.ascending, kind: kind))
            case .metric, .param, .tag:
                let table = clause.entity == .metric ? "latest_metrics" : (clause.entity == .param ? "params" : "tags")
                let alias = "o\(index)"
                joins += " LEFT JOIN \(table) \(alias) ON \(alias).run_id = r.run_id AND \(alias).key = "
                joins.bind(clause.key)
                if clause.entity == .metric {
                    terms.append(OrderTerm(
                        sql: "CASE WHEN \(alias).is_nan = true THEN 1 WHEN \(alias).value IS NULL THEN 2 ELSE 0 END",
                        ascending: true, kind: .integer))
                    terms.append(OrderTerm(sql: "\(alias).value", ascending: clause.ascending, kind: .real))
                } else {
                    terms.append(OrderTerm(
                        sql: "CASE WHEN \(alias).value IS NULL THEN 1 ELSE 0 END", ascending: true, kind: .integer))
                    terms.append(OrderTerm(sql: "\(alias).value", ascending: clause.ascending, kind: .text))
                }
            case .dataset:
                throw .invalidParameter("Invalid order_by entity: dataset")
            }
        }
        if !seen.contains("attribute.start_time") {
            terms.append(OrderTerm(sql: "r.start_time", ascending: false, kind: .integer))
        }
        terms.append(OrderTerm(sql: "r.run_id", ascending: true, kind: .text))
        return terms
    }

    /// `ORDER BY` text for `terms`.
    package static func orderBy(_ terms: [OrderTerm]) -> String {
        terms.map { "\($0.sql) \($0.ascending ? "ASC" : "DESC")" }.joined(separator: ", ")
    }

    /// The rows strictly after `sortKey` in the order of `terms`:
    /// `t1 > v1 OR (t1 IS v1 AND t2 > v2) OR ...` (`<` for descending terms; `IS` is PostgreSQL's
    /// `IS NOT DISTINCT FROM`).
    ///
    /// A NULL value only occurs after a term that groups the NULLs, so a row with a NULL there ties on
    /// every earlier term only with other NULL rows, and `> NULL` is rightly false.
    package static func after(
        _ sortKey: [SortKeyValue], terms: [OrderTerm], kind: DatabaseKind, into query: inout SQLQuery
    ) {
        query += "("
        for index in terms.indices {
            if index > 0 { query += " OR " }
            query += "("
            for earlier in 0..<index {
                query += "\(terms[earlier].sql) \(kind.isNotDistinctOperator) "
                bind(sortKey[earlier], into: &query)
                query += " AND "
            }
            query += "\(terms[index].sql) \(terms[index].ascending ? ">" : "<") "
            bind(sortKey[index], into: &query)
            query += ")"
        }
        query += ")"
    }

    private static func bind(_ value: SortKeyValue, into query: inout SQLQuery) {
        switch value {
        case .null: query += "NULL"
        case .integer(let number): query.bind(number)
        case .real(let number): query.bind(number)
        case .text(let text): query.bind(text)
        }
    }

    /// Whether a token's sort key fits `terms` (same length, each value of the term's kind or NULL).
    package static func matches(_ sortKey: [SortKeyValue], _ terms: [OrderTerm]) -> Bool {
        guard sortKey.count == terms.count else { return false }
        return zip(sortKey, terms).allSatisfy { value, term in
            switch (value, term.kind) {
            case (.null, _), (.integer, .integer), (.integer, .real), (.real, .real), (.text, .text): true
            default: false
            }
        }
    }
}

extension ComparisonOperator {
    /// The SQL operator (`ILIKE` becomes `LIKE`: callers lower-case both sides).
    var sql: String {
        switch self {
        case .equal: "="
        case .notEqual: "!="
        case .less: "<"
        case .lessOrEqual: "<="
        case .greater: ">"
        case .greaterOrEqual: ">="
        case .like, .ilike: "LIKE"
        case .in: "IN"
        case .notIn: "NOT IN"
        case .isNull: "IS"
        case .isNotNull: "IS NOT"
        }
    }
}
