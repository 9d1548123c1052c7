import SQLKit
import SwiftflowCore

extension SQLTrackingStore {
    /// Searches in two steps: the page of run ids under filter and order, then the details of those
    /// runs only, one query per table.
    public func searchRuns(
        experimentIds: [String], filter: SearchFilter, viewType: ViewType, maxResults: Int,
        orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<Run> {
        let offset = try PageToken.decodeOffset(pageToken)
        guard !experimentIds.isEmpty else { return Page(items: [], nextPageToken: nil) }
        let numericIds = try experimentIds.map { try experimentIdValue($0) }
        var query = SQLQuery("SELECT r.run_id FROM runs r")
        let order = try SearchCompiler.runOrder(orderBy, into: &query)
        query += " WHERE r.experiment_id IN "
        query.bindList(numericIds)
        query += " AND r.lifecycle_stage IN "
        query.bindList(viewType.stages.map(\.rawValue))
        for comparison in filter.comparisons {
            query += " AND "
            try SearchCompiler.runCondition(comparison, into: &query)
        }
        query += " ORDER BY \(order) LIMIT "
        query.bind(maxResults + 1)
        query += " OFFSET "
        query.bind(offset)
        let finalQuery = query
        return try await executor.read { db in
            var ids = try await db.all(finalQuery).map { try $0.decode(column: "run_id", as: String.self) }
            var token: String?
            if ids.count > maxResults {
                ids.removeLast(ids.count - maxResults)
                token = PageToken.encode(offset: offset + maxResults)
            }
            return Page(items: try await self.loadRuns(db, ids: ids, modelInputs: false), nextPageToken: token)
        }
    }
}
