import SQLKit
import SwiftflowCore

extension SQLRegistryStore {
    /// Searches in two steps, as the tracking store does: the page of models under filter and order,
    /// then the tags, aliases and latest versions of those models only, one query per table.
    public func searchRegisteredModels(
        filter: SearchFilter, maxResults: Int, orderBy: [OrderByClause], pageToken: String?, visibility: Visibility
    ) async throws -> Page<RegisteredModel> {
        if maxResults > Limits.maxRegisteredModelsSearchResults {
            throw SwiftflowError.invalidParameter(
                "Invalid value for request parameter max_results. It must be at most "
                    + "\(Limits.maxRegisteredModelsSearchResults), but got value \(maxResults)")
        }
        let offset = try PageToken.decodeOffset(pageToken)
        var query = SQLQuery("SELECT \(Self.modelColumns) FROM registered_models m WHERE 1 = 1")
        let prompts = filter.queriesPrompts
        for comparison in filter.comparisons {
            if !prompts, comparison.entity == .tag, comparison.key == RegistryTags.isPrompt { continue }
            query += " AND "
            switch comparison.entity {
            case .attribute where comparison.key == "name":
                try SearchCompiler.compare("m.name", comparison, kind: executor.kind, into: &query)
            case .tag:
                try SearchCompiler.keyValueCondition(
                    table: "registered_model_tags", owner: "x.model_id = m.model_id", comparison, kind: executor.kind, into: &query)
            default:
                throw SwiftflowError.invalidParameter("Invalid attribute name: \(comparison.key)")
            }
        }
        SearchCompiler.visibilityCondition("m.name", visibility, values: { $0.sorted() }, into: &query)
        if !prompts {
            query += " AND NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.model_id = m.model_id AND p.key = "
            query.bind(RegistryTags.isPrompt)
            query += " AND p.value = 'true')"
        }
        var terms: [String] = []
        for clause in orderBy {
            let column = clause.key == "name" ? "m.name" : "m.last_updated_time"
            terms.append("\(column) \(clause.ascending ? "ASC" : "DESC")")
        }
        if !orderBy.contains(where: { $0.key == "name" }) { terms.append("m.name ASC") }
        query += " ORDER BY \(terms.joined(separator: ", ")) LIMIT "
        query.bind(maxResults + 1)
        query += " OFFSET "
        query.bind(offset)
        let finalQuery = query
        return try await executor.read { db in
            var rows = try await db.all(finalQuery).map(Self.modelRow)
            var token: String?
            if rows.count > maxResults {
                rows.removeLast(rows.count - maxResults)
                token = PageToken.encode(offset: offset + maxResults)
            }
            return Page(items: try await self.loadModels(db, rows, latestOrder: .stageName), nextPageToken: token)
        }
    }

    /// Versions come back with their tags but without aliases, as MLflow's search returns them.
    public func searchModelVersions(
        filter: SearchFilter, maxResults: Int, orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<ModelVersion> {
        if maxResults < 1 {
            throw SwiftflowError.invalidParameter(
                "Invalid value for max_results. It must be a positive integer, but got \(maxResults)")
        }
        if maxResults > Limits.maxModelVersionsSearchResults {
            throw SwiftflowError.invalidParameter(
                "Invalid value for request parameter max_results. It must be at most "
                    + "\(Limits.maxModelVersionsSearchResults), but got value \(maxResults)")
        }
        let offset = try PageToken.decodeOffset(pageToken)
        let columns: [String: String] = [
            "name": "m.name", "run_id": "v.run_id", "source_path": "v.source", "version_number": "v.version",
            "creation_timestamp": "v.creation_time", "last_updated_timestamp": "v.last_updated_time",
        ]
        let effective = orderBy.isEmpty
            ? [OrderByClause(entity: .attribute, key: "last_updated_timestamp", ascending: false),
               OrderByClause(entity: .attribute, key: "name", ascending: true),
               OrderByClause(entity: .attribute, key: "version_number", ascending: false)]
            : orderBy
        var terms: [String] = []
        for clause in effective {
            guard let column = columns[clause.key] else {
                throw SwiftflowError.invalidParameter("Invalid order by key '\(clause.key)' specified.")
            }
            terms.append("\(column) \(clause.ascending ? "ASC" : "DESC")")
        }
        if !effective.contains(where: { $0.key == "name" }) { terms.append("m.name ASC") }
        if !effective.contains(where: { $0.key == "version_number" }) { terms.append("v.version DESC") }
        let order = terms.joined(separator: ", ")
        let prompts = filter.queriesPrompts
        let comparisons = filter.comparisons.filter {
            prompts || !($0.entity == .tag && $0.key == RegistryTags.isPrompt)
        }
        let join = executor.kind.orderedJoin
        return try await executor.read { db in
            // The page's keys are chosen first, sorting only the order-by columns; whole rows are then
            // read for the page alone. Sorting every matching row in full cost most of a 1,000-row page.
            var query = SQLQuery("WITH k AS (SELECT v.model_id AS k_model, v.version AS k_version FROM ")
            // As in the run search: start from a selective tag filter's rows rather than probing the
            // tag index once per version.
            let driver = try await Self.tagDriver(db, comparisons)
            if driver != nil {
                query += "model_version_tags d \(join) model_versions v ON v.model_id = d.model_id AND v.version = d.version "
                query += "JOIN registered_models m ON m.model_id = v.model_id"
            } else if comparisons.contains(where: { $0.entity == .attribute && $0.key != "name" }) {
                // A filter on a version column, which may have an index: the planner chooses.
                query += "model_versions v JOIN registered_models m ON m.model_id = v.model_id"
            } else if try await Self.readsInOrder(db, comparisons, effective, wanted: offset + maxResults + 1) {
                query += "model_versions v \(join) registered_models m ON m.model_id = v.model_id"
            } else {
                // Start from the models: a name filter is then tested once per model, not per version.
                query += "registered_models m \(join) model_versions v ON v.model_id = m.model_id"
            }
            query += " WHERE 1 = 1"
            for (index, comparison) in comparisons.enumerated() {
                query += " AND "
                switch comparison.entity {
                case .attribute:
                    guard let column = columns[comparison.key] else {
                        throw SwiftflowError.invalidParameter("Invalid attribute name: \(comparison.key)")
                    }
                    try SearchCompiler.compare(column, comparison, kind: executor.kind, into: &query)
                case .tag where index == driver:
                    try SearchCompiler.keyValuePredicate(alias: "d", metric: false, comparison, kind: executor.kind, into: &query)
                case .tag:
                    try SearchCompiler.keyValueCondition(
                        table: "model_version_tags", owner: "x.model_id = v.model_id AND x.version = v.version",
                        comparison, kind: executor.kind, into: &query)
                default:
                    throw SwiftflowError.invalidParameter("Invalid token type: \(comparison.entity.rawValue)")
                }
            }
            if !prompts {
                // One uncorrelated set of prompt models, tested once per model when models come first.
                query += " AND m.model_id NOT IN (SELECT p.model_id FROM model_version_tags p WHERE p.key = "
                query.bind(RegistryTags.isPrompt)
                query += " AND p.value = 'true')"
            }
            query += " ORDER BY \(order) LIMIT "
            query.bind(maxResults + 1)
            query += " OFFSET "
            query.bind(offset)
            query += ") SELECT \(Self.versionColumns) FROM k \(join) model_versions v "
            query += "ON v.model_id = k.k_model AND v.version = k.k_version "
            query += "JOIN registered_models m ON m.model_id = v.model_id ORDER BY \(order)"
            var versions = try await self.loadVersions(db, query, aliases: false)
            var token: String?
            if versions.count > maxResults {
                versions.removeLast(versions.count - maxResults)
                token = PageToken.encode(offset: offset + maxResults)
            }
            return Page(items: versions, nextPageToken: token)
        }
    }

    /// Whether a version search filtered on names (and tags) at most should read versions in the
    /// order of an index on its first order-by column, stopping at the page's end, rather than read
    /// every version of each matching model and sort them. Reading in order pays when the name filters
    /// keep most models: about `wanted × models / matching` versions are read, against
    /// `versions × matching / models`.
    static func readsInOrder(
        _ db: any SQLDatabase, _ comparisons: [SearchComparison], _ order: [OrderByClause], wanted: Int
    ) async throws -> Bool {
        guard let first = order.first, first.key == "version_number" || first.key == "last_updated_timestamp" else {
            return false
        }
        let models = try await SearchCompiler.count(db, SQLQuery("SELECT count(*) AS n FROM registered_models"))
        var matchingQuery = SQLQuery("SELECT count(*) AS n FROM registered_models m WHERE 1 = 1")
        for comparison in comparisons where comparison.entity == .attribute {
            matchingQuery += " AND "
            try SearchCompiler.compare("m.name", comparison, kind: db.kind, into: &matchingQuery)
        }
        let matching = try await SearchCompiler.count(db, matchingQuery)
        guard matching > 0 else { return false }
        let versions = try await SearchCompiler.count(db, SQLQuery("SELECT count(*) AS n FROM model_versions"))
        return Double(wanted) * Double(models) / Double(matching) < Double(versions) * Double(matching) / Double(models)
    }

    /// The index of the tag comparison whose rows should drive a version search, if it matches under
    /// half of all versions.
    static func tagDriver(_ db: any SQLDatabase, _ comparisons: [SearchComparison]) async throws -> Int? {
        guard db.kind.searchCountsMatches else { return nil }
        let candidates = comparisons.indices.filter { comparisons[$0].entity == .tag && comparisons[$0].op != .isNull }
        guard !candidates.isEmpty else { return nil }
        let total = try await SearchCompiler.count(db, SQLQuery("SELECT count(*) AS n FROM model_versions"))
        return try await SearchCompiler.selectiveDriver(
            db, comparisons, candidates: candidates, total: total) { _ in "model_version_tags" }
    }
}
