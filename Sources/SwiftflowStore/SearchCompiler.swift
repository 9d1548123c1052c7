import SwiftflowCore

/// Compiles parsed search filters and order-by clauses to SQL, binding every value.
///
/// Run filters on metrics, params and tags become `EXISTS` subqueries on indexed `(key, value)`
/// tables, so a search never joins every param × tag × metric of every run.
package enum SearchCompiler {
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

    static func compare(_ column: String, _ comparison: SearchComparison, into query: inout SQLQuery) throws(SwiftflowError) {
        switch (comparison.op, comparison.value) {
        case (.in, .list(let values)), (.notIn, .list(let values)):
            query += "\(column) \(comparison.op == .in ? "IN" : "NOT IN") "
            query.bindList(values)
        case (.ilike, .string(let text)):
            query += "LOWER(\(column)) LIKE LOWER("
            query.bind(text)
            query += ")"
        case (.like, .string(let text)):
            query += "\(column) LIKE "
            query.bind(text)
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

    static func sqlOperator(_ op: ComparisonOperator) throws(SwiftflowError) -> String {
        switch op {
        case .equal: "="
        case .notEqual: "!="
        case .less: "<"
        case .lessOrEqual: "<="
        case .greater: ">"
        case .greaterOrEqual: ">="
        case .like: "LIKE"
        default: throw .invalidParameter("Invalid comparator '\(op.rawValue)'.")
        }
    }

    /// `EXISTS (SELECT 1 FROM table WHERE owner AND key = ? AND value <op> ?)`, or its presence test.
    static func keyValueCondition(
        table: String, owner: String, extra: String = "", _ comparison: SearchComparison, into query: inout SQLQuery,
        orIf alternative: String? = nil
    ) throws(SwiftflowError) {
        switch comparison.op {
        case .isNull, .isNotNull:
            query += comparison.op == .isNull ? "NOT EXISTS" : "EXISTS"
            query += " (SELECT 1 FROM \(table) x WHERE \(owner) AND x.key = "
            query.bind(comparison.key)
            query += ")"
        default:
            query += "EXISTS (SELECT 1 FROM \(table) x WHERE \(owner)\(extra) AND x.key = "
            query.bind(comparison.key)
            query += alternative.map { " AND (\($0) OR " } ?? " AND ("
            try compare("x.value", comparison, into: &query)
            query += "))"
        }
    }

    package static func experimentCondition(_ comparison: SearchComparison, into query: inout SQLQuery) throws(SwiftflowError) {
        switch comparison.entity {
        case .attribute:
            guard let column = experimentColumns[comparison.key] else {
                throw .invalidParameter("Invalid attribute key '\(comparison.key)' specified.")
            }
            try compare(column, comparison, into: &query)
        case .tag:
            try keyValueCondition(table: "experiment_tags", owner: "x.experiment_id = e.experiment_id", comparison, into: &query)
        default:
            throw .invalidParameter("Invalid entity type '\(comparison.entity.rawValue)' for experiments.")
        }
    }

    package static func runCondition(_ comparison: SearchComparison, into query: inout SQLQuery) throws(SwiftflowError) {
        switch comparison.entity {
        case .attribute:
            guard let column = runColumns[comparison.key] else {
                throw .invalidParameter("Invalid attribute key '\(comparison.key)' specified.")
            }
            try compare(column, comparison, into: &query)
        case .metric:
            // A NaN (stored as 0 with is_nan) matches `!=` and no other comparison, as on MLflow's server.
            let nanRule = comparison.op == .notEqual ? "" : " AND x.is_nan = false"
            try keyValueCondition(
                table: "latest_metrics", owner: "x.run_id = r.run_id", extra: nanRule, comparison, into: &query,
                orIf: comparison.op == .notEqual ? "x.is_nan = true" : nil)
        case .param:
            try keyValueCondition(table: "params", owner: "x.run_id = r.run_id", comparison, into: &query)
        case .tag:
            try keyValueCondition(table: "tags", owner: "x.run_id = r.run_id", comparison, into: &query)
        case .dataset:
            query += "EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE ri.run_id = r.run_id AND "
            switch comparison.key {
            case "name": try compare("d.name", comparison, into: &query)
            case "digest": try compare("d.digest", comparison, into: &query)
            case "context":
                query += "EXISTS (SELECT 1 FROM run_input_tags t WHERE t.run_id = ri.run_id AND t.dataset_id = ri.dataset_id "
                query += "AND t.key = 'mlflow.data.context' AND "
                try compare("t.value", comparison, into: &query)
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

    /// Joins and `ORDER BY` terms for a run search. Present values sort first, then NaN, then absent
    /// ones, in either direction, as MLflow does; ties fall to start_time DESC, run_id ASC.
    package static func runOrder(_ clauses: [OrderByClause], into joins: inout SQLQuery) throws(SwiftflowError) -> String {
        var terms: [String] = []
        var seen = Set<String>()
        for (index, clause) in clauses.enumerated() {
            let direction = clause.ascending ? "ASC" : "DESC"
            seen.insert("\(clause.entity.rawValue).\(clause.key)")  // duplicates were refused by the parser
            switch clause.entity {
            case .attribute:
                guard let column = runColumns[clause.key] else {
                    throw .invalidParameter("Invalid attribute key '\(clause.key)' specified.")
                }
                terms.append("CASE WHEN \(column) IS NULL THEN 1 ELSE 0 END")
                terms.append("\(column) \(direction)")
            case .metric, .param, .tag:
                let table = clause.entity == .metric ? "latest_metrics" : (clause.entity == .param ? "params" : "tags")
                let alias = "o\(index)"
                joins += " LEFT JOIN \(table) \(alias) ON \(alias).run_id = r.run_id AND \(alias).key = "
                joins.bind(clause.key)
                if clause.entity == .metric {
                    terms.append("CASE WHEN \(alias).is_nan = true THEN 1 WHEN \(alias).value IS NULL THEN 2 ELSE 0 END")
                } else {
                    terms.append("CASE WHEN \(alias).value IS NULL THEN 1 ELSE 0 END")
                }
                terms.append("\(alias).value \(direction)")
            case .dataset:
                throw .invalidParameter("Invalid order_by entity: dataset")
            }
        }
        if !seen.contains("attribute.start_time") { terms.append("r.start_time DESC") }
        terms.append("r.run_id ASC")
        return terms.joined(separator: ", ")
    }
}
