import SwiftflowCore

/// Compiles a `LoggedModelSearch` to SQL over `logged_models lm`, binding every value.
///
/// Metric, param and tag conditions are `EXISTS` subqueries on tables indexed by model (or by
/// `(key, value)`); a metric order joins each model's latest value of that metric, once.
package enum LoggedModelSearchCompiler {
    static func column(_ attribute: LoggedModelAttribute) -> String {
        "lm.\(attribute.rawValue)"
    }

    /// Appends ` AND <condition>` for every comparison and for the `datasets` clause.
    package static func conditions(_ search: LoggedModelSearch, kind: DatabaseKind, into query: inout SQLQuery) {
        var hasMetricCondition = false
        for comparison in search.comparisons {
            query += " AND "
            switch comparison.subject {
            case .attribute(let attribute):
                compare(column(attribute), numeric: attribute.isNumeric, comparison, kind: kind, into: &query)
            case .metric(let key):
                hasMetricCondition = true
                query += "EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = lm.model_id AND x.key = "
                query.bind(key)
                query += " AND "
                compare("x.value", numeric: true, comparison, kind: kind, into: &query)
                datasetCondition(search.datasets, into: &query)
                query += ")"
            case .param(let key), .tag(let key):
                let table = if case .param = comparison.subject { "logged_model_params" } else { "logged_model_tags" }
                query += "EXISTS (SELECT 1 FROM \(table) x WHERE x.model_id = lm.model_id AND x.key = "
                query.bind(key)
                query += " AND "
                compare("x.value", numeric: false, comparison, kind: kind, into: &query)
                query += ")"
            }
        }
        // Datasets alone keep the models that have any metric on one of them.
        if !search.datasets.isEmpty && !hasMetricCondition {
            query += " AND EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = lm.model_id"
            datasetCondition(search.datasets, into: &query)
            query += ")"
        }
    }

    /// ` AND ((x.dataset_name = ? AND x.dataset_digest = ?) OR ...)`; an absent digest is `IS NULL`, as
    /// MLflow's server ends up asking.
    private static func datasetCondition(_ datasets: [LoggedModelDatasetFilter], into query: inout SQLQuery) {
        guard !datasets.isEmpty else { return }
        query += " AND ("
        for (index, dataset) in datasets.enumerated() {
            if index > 0 { query += " OR " }
            query += "(x.dataset_name = "
            query.bind(dataset.name)
            if let digest = dataset.digest {
                query += " AND x.dataset_digest = "
                query.bind(digest)
            } else {
                query += " AND x.dataset_digest IS NULL"
            }
            query += ")"
        }
        query += ")"
    }

    /// `column <op> value`, as SQLAlchemy writes MLflow's comparisons (ILIKE is `lower() LIKE lower()`).
    ///
    /// The language leaves values' types loose (`status = '1'`, `params.x > 5`). SQLite converts by the
    /// column's affinity; PostgreSQL refuses `bigint = text`, so there the value is given the column's
    /// type the way SQLite would convert it: numeric text becomes a number for a numeric column, a
    /// number becomes text for a text column, and other text is compared with the column as text.
    private static func compare(
        _ column: String, numeric: Bool, _ comparison: LoggedModelComparison, kind: DatabaseKind,
        into query: inout SQLQuery
    ) {
        let converts = kind == .postgres
        switch comparison.value {
        case .list(let values):
            if converts && numeric {
                let numbers = values.compactMap(Double.init)
                if numbers.count == values.count {
                    query += "\(column) \(comparison.op == .notIn ? "NOT IN" : "IN") "
                    query.bindList(numbers)
                    return
                }
                query += "CAST(\(column) AS TEXT) \(comparison.op == .notIn ? "NOT IN" : "IN") "
                query.bindList(values)
                return
            }
            query += "\(column) \(comparison.op == .notIn ? "NOT IN" : "IN") "
            query.bindList(values)
        case .number(let number):
            if converts && !numeric {
                query += "\(column) \(comparison.op.sql) "
                query.bind(number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number))
                return
            }
            query += "\(column) \(comparison.op.sql) "
            query.bind(number)
        case .string(let text):
            let castColumn = converts && numeric && Double(text) == nil ? "CAST(\(column) AS TEXT)" : column
            if comparison.op == .ilike {
                query += "lower(\(castColumn)) LIKE lower("
                query.bind(text)
                query += ")\(kind.likeEscape)"
            } else if converts && numeric, let number = Double(text), comparison.op != .like {
                query += "\(column) \(comparison.op.sql) "
                query.bind(number)
            } else {
                query += "\(converts && numeric ? "CAST(\(column) AS TEXT)" : column) \(comparison.op.sql) "
                query.bind(text)
                if comparison.op == .like { query += kind.likeEscape }
            }
        }
    }

    /// Joins (one per metric order) and the `ORDER BY` terms: absent values last in either direction,
    /// then newest first, then by id, as MLflow orders.
    package static func order(_ clauses: [LoggedModelOrder], into joins: inout SQLQuery) -> String {
        var terms: [String] = []
        var ordersCreation = false
        var ordersId = false
        for (index, clause) in clauses.enumerated() {
            let direction = clause.ascending ? "ASC" : "DESC"
            switch clause.field {
            case .attribute(let attribute):
                ordersCreation = ordersCreation || attribute == .creationTimestamp
                ordersId = ordersId || attribute == .modelId
                terms.append("CASE WHEN \(column(attribute)) IS NULL THEN 1 ELSE 0 END")
                terms.append("\(column(attribute)) \(direction)")
            case .metric(let key):
                // The model's latest point of the metric: newest timestamp, then step, then run id.
                let alias = "o\(index)"
                joins += " LEFT JOIN (SELECT model_id, value, ROW_NUMBER() OVER (PARTITION BY model_id "
                joins += "ORDER BY timestamp DESC, step DESC, run_id ASC) AS rank FROM logged_model_metrics WHERE key = "
                joins.bind(key)
                if let name = clause.datasetName {
                    joins += " AND dataset_name = "
                    joins.bind(name)
                }
                if let digest = clause.datasetDigest {
                    joins += " AND dataset_digest = "
                    joins.bind(digest)
                }
                joins += ") \(alias) ON \(alias).model_id = lm.model_id AND \(alias).rank = 1"
                terms.append("CASE WHEN \(alias).value IS NULL THEN 1 ELSE 0 END")
                terms.append("\(alias).value \(direction)")
            }
        }
        if !ordersCreation { terms.append("lm.creation_timestamp_ms DESC") }
        if !ordersId { terms.append("lm.model_id ASC") }
        return terms.joined(separator: ", ")
    }
}

extension LoggedModelAttribute {
    /// Whether the column holds numbers (BIGINT), for comparisons with text values.
    var isNumeric: Bool {
        switch self {
        case .experimentId, .creationTimestamp, .lastUpdatedTimestamp, .status: true
        default: false
        }
    }
}
