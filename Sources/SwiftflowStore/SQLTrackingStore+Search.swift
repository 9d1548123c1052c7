import SQLKit
import SwiftflowCore

extension SQLTrackingStore {
    /// Searches in two steps: the page of run ids under filter and order, then the details of those
    /// runs only, one query per table.
    ///
    /// Page tokens carry the sort key of the page's last row, so the next page starts right after it
    /// even when runs were created or deleted in between (an offset would repeat or skip runs).
    public func searchRuns(
        experimentIds: [String], filter: SearchFilter, viewType: ViewType, maxResults: Int,
        orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<Run> {
        let position = try PageToken.decodePosition(pageToken)
        guard !experimentIds.isEmpty else { return Page(items: [], nextPageToken: nil) }
        let numericIds = try experimentIds.map { try experimentIdValue($0) }
        let stages = viewType.stages.map(\.rawValue)
        return try await executor.read { db in
            let driver = try await Self.chooseDriver(db, filter: filter, experimentIds: numericIds, stages: stages)
            var joins = SQLQuery()
            let terms = try SearchCompiler.runOrder(orderBy, into: &joins)
            var query = SQLQuery("SELECT \(Self.runInfoColumns(alias: "r"))")
            for (index, term) in terms.enumerated() { query += ", \(term.sql) AS k\(index)" }
            if let driver {
                // Start from the rows of the most selective filter.
                let table = SearchCompiler.runTable(filter.comparisons[driver].entity)!
                query += " FROM \(table) d \(self.executor.kind.orderedJoin) runs r ON r.run_id = d.run_id"
            } else {
                query += " FROM runs r"
            }
            query.append(joins)
            query += " WHERE r.experiment_id IN "
            query.bindList(numericIds)
            query += " AND r.lifecycle_stage IN "
            query.bindList(stages)
            for (index, comparison) in filter.comparisons.enumerated() {
                query += " AND "
                if index == driver {
                    try SearchCompiler.keyValuePredicate(
                        alias: "d", metric: comparison.entity == .metric, comparison, kind: executor.kind, into: &query)
                } else {
                    try SearchCompiler.runCondition(comparison, kind: executor.kind, into: &query)
                }
            }
            let after = position.after.flatMap { SearchCompiler.matches($0, terms) ? $0 : nil }
            if let after {
                query += " AND "
                SearchCompiler.after(after, terms: terms, kind: self.executor.kind, into: &query)
            }
            query += " ORDER BY \(SearchCompiler.orderBy(terms)) LIMIT "
            query.bind(maxResults + 1)
            if after == nil {
                query += " OFFSET "
                query.bind(position.offset)
            }
            var rows = try await db.all(query)
            var token: String?
            if rows.count > maxResults {
                rows.removeLast(rows.count - maxResults)
                let sortKey = try Self.sortKey(of: rows[rows.count - 1], terms: terms)
                token = PageToken.encode(offset: position.offset + maxResults, after: sortKey)
            }
            let infos = try rows.map(Self.runInfo(from:))
            return Page(items: try await self.loadRuns(db, infos: infos, modelInputs: false), nextPageToken: token)
        }
    }

    public func searchDatasets(experimentIds: [String]) async throws -> [DatasetSummary] {
        var query = SQLQuery("""
            SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value AS context FROM datasets d
            JOIN run_inputs ri ON ri.dataset_id = d.dataset_id
            LEFT JOIN run_input_tags t ON t.run_id = ri.run_id AND t.dataset_id = ri.dataset_id AND t.key = 
            """)
        query.bind(MLflowTags.datasetContext)
        query += " WHERE d.experiment_id IN "
        query.bindList(try experimentIds.map { try experimentIdValue($0) })
        query += " ORDER BY d.experiment_id, d.name, d.digest, t.value LIMIT 1000"
        let finalQuery = query
        return try await executor.read { db in
            try await db.all(finalQuery).map { row in
                DatasetSummary(
                    experimentId: String(try row.decode(column: "experiment_id", as: Int64.self)),
                    name: try row.decode(column: "name", as: String.self),
                    digest: try row.decode(column: "digest", as: String.self),
                    context: try row.decode(column: "context", as: String?.self))
            }
        }
    }

    /// The index of the filter whose matching rows should drive the search, or nil to scan the
    /// experiments' runs: the most selective metric/param/tag filter, if it matches under half the runs
    /// in scope.
    static func chooseDriver(
        _ db: any SQLDatabase, filter: SearchFilter, experimentIds: [Int64], stages: [String]
    ) async throws -> Int? {
        guard db.kind.searchCountsMatches else { return nil }
        let comparisons = filter.comparisons
        let candidates = comparisons.indices.filter {
            SearchCompiler.runTable(comparisons[$0].entity) != nil && comparisons[$0].op != .isNull
        }
        guard !candidates.isEmpty else { return nil }
        var scope = SQLQuery("SELECT count(*) AS n FROM (SELECT 1 FROM runs r WHERE r.experiment_id IN ")
        scope.bindList(experimentIds)
        scope += " AND r.lifecycle_stage IN "
        scope.bindList(stages)
        scope += " LIMIT 200000) AS capped"
        return try await SearchCompiler.selectiveDriver(
            db, comparisons, candidates: candidates, total: try await SearchCompiler.count(db, scope)
        ) { SearchCompiler.runTable($0.entity)! }
    }

    /// The `k0`, `k1`, ... columns of a search row: its sort key.
    static func sortKey(of row: any SQLRow, terms: [SearchCompiler.OrderTerm]) throws -> [SortKeyValue] {
        try terms.indices.map { index in
            let column = "k\(index)"
            if try row.decodeNil(column: column) { return .null }
            switch terms[index].kind {
            case .integer: return .integer(try row.decode(column: column, as: Int64.self))
            case .real: return .real(try row.decode(column: column, as: Double.self))
            case .text: return .text(try row.decode(column: column, as: String.self))
            }
        }
    }
}
