/// One `order_by` item of `runs/search` or `experiments/search`, e.g. `metrics.acc DESC`.
public struct OrderByClause: Sendable, Equatable {
    public var entity: SearchEntity
    /// A metric/param/tag key with quotes removed, or a canonical attribute name (`created` is `start_time`).
    public var key: String
    public var ascending: Bool

    public init(entity: SearchEntity, key: String, ascending: Bool = true) {
        self.entity = entity
        self.key = key
        self.ascending = ascending
    }
}

extension OrderByClause {
    /// Parses `runs/search` order-by items such as `metrics.m2 DESC`, `` params.`a b` ASC `` or `start_time`.
    ///
    /// Each item is `<entity>.<key>` or a bare attribute, optionally followed by `ASC` or `DESC`
    /// (case-insensitive; ascending by default). Entities are metrics, params and tags; attributes are
    /// `run_id`, `run_name`, `status`, `user_id`, `artifact_uri`, `start_time` (alias `created`) and
    /// `end_time`. Datasets cannot be ordered by.
    ///
    /// - Throws: `SwiftflowError` with code `INVALID_PARAMETER_VALUE` for an item that does not parse or
    ///   names an unknown entity or attribute; `INTERNAL_ERROR` (as MLflow) when two items order by
    ///   the same field.
    public static func parseRunOrderBy(_ items: [String]) throws(SwiftflowError) -> [OrderByClause] {
        var clauses: [OrderByClause] = []
        for item in items {
            let (name, ascending) = try splitOrderItem(item)
            let (entity, key) = try SearchRules.runIdentifier(name, validAttributes: SearchRules.runOrderableAttributes)
            guard entity != .dataset else {
                throw .invalidParameter("Invalid identifier type 'dataset'")
            }
            let canonicalKey = entity == .attribute ? SearchRules.canonicalRunAttribute(key) : key
            let clause = OrderByClause(entity: entity, key: canonicalKey, ascending: ascending)
            // MLflow's SQL store reports this as an internal error; keep its code so clients see the same.
            if clauses.contains(where: { $0.entity == clause.entity && $0.key == clause.key }) {
                throw SwiftflowError(
                    .internalError, "`order_by` contains duplicate fields: \(SearchRules.pyList(items))"
                )
            }
            clauses.append(clause)
        }
        return clauses
    }

    /// Parses `experiments/search` order-by items: `name`, `experiment_id`, `creation_time` or
    /// `last_update_time` (bare or as `attribute.<key>`), optionally followed by `ASC` or `DESC`.
    ///
    /// - Throws: `SwiftflowError` with code `INVALID_PARAMETER_VALUE` for an item that does not parse,
    ///   an unknown attribute, or a tag (experiments cannot be ordered by tags).
    public static func parseExperimentOrderBy(_ items: [String]) throws(SwiftflowError) -> [OrderByClause] {
        var clauses: [OrderByClause] = []
        for item in items {
            let (name, ascending) = try splitOrderItem(item)
            let (entity, key) = try SearchRules.experimentIdentifier(
                name, validAttributes: SearchRules.experimentAttributes
            )
            guard entity == .attribute else {
                throw .invalidParameter("Invalid order_by entity: \(entity.rawValue)")
            }
            clauses.append(OrderByClause(entity: .attribute, key: key, ascending: ascending))
        }
        return clauses
    }

    /// Splits `name [ASC|DESC]` into the name's parts and the direction.
    ///
    /// Like MLflow, surrounding whitespace, a trailing `;` or anything beyond the direction makes the
    /// item unparsable.
    /// Shared by the run, experiment and registry order-by parsers.
    static func splitOrderItem(_ item: String) throws(SwiftflowError) -> (name: [NamePart], ascending: Bool) {
        let unparsable = SwiftflowError.invalidParameter("Invalid order_by clause '\(item)'. Could not be parsed.")
        guard let first = item.unicodeScalars.first, let last = item.unicodeScalars.last,
              !first.properties.isWhitespace, !last.properties.isWhitespace else { throw unparsable }
        let tokens = SearchSource(item).tokens
        guard let name = tokens.first?.nameParts, tokens.count <= 2 else { throw unparsable }
        guard tokens.count == 2 else { return (name, true) }
        guard case .identifier(let parts) = tokens[1].kind, parts.count == 1, parts[0].quote == .none else {
            throw unparsable
        }
        switch parts[0].text.lowercased() {
        case "asc": return (name, true)
        case "desc": return (name, false)
        default: throw .invalidParameter("Invalid ordering key in order_by clause '\(item)'.")
        }
    }
}
