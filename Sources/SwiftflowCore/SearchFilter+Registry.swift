// The search language of `registered-models/search` and `model-versions/search`.
//
// The reference is MLflow 3.17.2: `SearchModelUtils` / `SearchModelVersionUtils` in
// `mlflow/utils/search_utils.py` plus the checks its SQL registry store adds. The grammar is the
// runs/experiments one (same lexer and parser); only the entities, keys and value rules differ.

extension SearchFilter {
    /// Parses a `registered-models/search` filter such as `name LIKE 'prod-%' AND tags.team = 'ml'`.
    ///
    /// The only attribute is `name` (=, !=, LIKE, ILIKE, IN, NOT IN); tags (`tag.`/`tags.`) take =, !=,
    /// LIKE and ILIKE. Comparators are case-insensitive. `nil`, empty or whitespace-only text gives an
    /// empty filter.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` for bad syntax, an unknown entity or attribute, a comparator
    ///   the key does not support, or a value of the wrong type.
    public static func parseRegisteredModelFilter(_ text: String?) throws(SwiftflowError) -> SearchFilter {
        try parseRegistry(text, rules: RegistrySearchRules.registeredModels)
    }

    /// Parses a `model-versions/search` filter such as `name = 'm' AND run_id IN ('a', 'b')`.
    ///
    /// Attributes: `name`, `run_id` (both also with IN / NOT IN), `source_path` (=, !=, LIKE, ILIKE) and
    /// `version_number` (numeric comparators, integer values). Tags take =, !=, LIKE and ILIKE.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` for bad syntax, an unknown entity or attribute, a comparator
    ///   the key does not support, or a value of the wrong type.
    public static func parseModelVersionFilter(_ text: String?) throws(SwiftflowError) -> SearchFilter {
        try parseRegistry(text, rules: RegistrySearchRules.modelVersions)
    }

    private static func parseRegistry(_ text: String?, rules: RegistrySearchRules) throws(SwiftflowError) -> SearchFilter {
        guard let text, text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            return SearchFilter()
        }
        var parser = FilterParser(source: SearchSource(text))
        var comparisons: [SearchComparison] = []
        for clause in try parser.parseClauses() {
            comparisons.append(try rules.comparison(clause))
        }
        return SearchFilter(comparisons: comparisons)
    }

    /// Whether the filter asks for prompts (`tags.mlflow.prompt.is_prompt = 'true'` or `!= 'false'`).
    /// Registry searches leave prompts out otherwise, and then ignore filters on that tag.
    public var queriesPrompts: Bool {
        for comparison in comparisons where comparison.entity == .tag && comparison.key == RegistryTags.isPrompt {
            guard case .string(let value) = comparison.value else { return false }
            return (comparison.op == .equal && value.lowercased() == "true")
                || (comparison.op == .notEqual && value.lowercased() == "false")
        }
        return false
    }
}

extension OrderByClause {
    /// Parses `registered-models/search` order-by items: `name`, `timestamp` or `last_updated_timestamp`
    /// (both order by the last update), optionally followed by `ASC` or `DESC`.
    ///
    /// The clauses come back with key `name` or `last_updated_timestamp`.
    /// - Throws: `INVALID_PARAMETER_VALUE` for an unparsable item or unknown key; `INTERNAL_ERROR` (as
    ///   MLflow) when two items order by the same field.
    public static func parseRegisteredModelOrderBy(_ items: [String]) throws(SwiftflowError) -> [OrderByClause] {
        var clauses: [OrderByClause] = []
        for item in items {
            let (name, ascending) = try OrderByClause.splitOrderItem(item)
            let text = RegistrySearchRules.plainKey(name)
            let key: String
            switch text {
            case "name": key = "name"
            case "timestamp", "last_updated_timestamp": key = "last_updated_timestamp"
            default:
                throw .invalidParameter(
                    "Invalid order by key '\(text)' specified. Valid keys are '{'name', 'timestamp'}'")
            }
            if clauses.contains(where: { $0.key == key }) {
                throw SwiftflowError(.internalError, "`order_by` contains duplicate fields: \(SearchRules.pyList(items))")
            }
            clauses.append(OrderByClause(entity: .attribute, key: key, ascending: ascending))
        }
        return clauses
    }

    /// Parses `model-versions/search` order-by items: `name`, `version_number`, `creation_timestamp` or
    /// `last_updated_timestamp` (bare or as `attribute.<key>`), optionally followed by `ASC` or `DESC`.
    /// - Throws: `INVALID_PARAMETER_VALUE` for an unparsable item or unknown key; `INTERNAL_ERROR` (as
    ///   MLflow) when two items order by the same field.
    public static func parseModelVersionOrderBy(_ items: [String]) throws(SwiftflowError) -> [OrderByClause] {
        let valid = ["name", "version_number", "creation_timestamp", "last_updated_timestamp"]
        var clauses: [OrderByClause] = []
        for item in items {
            let (name, ascending) = try OrderByClause.splitOrderItem(item)
            // MLflow's store ignores the entity type here and looks at the key alone.
            let (_, key) = try SearchRules.experimentIdentifier(name, validAttributes: valid)
            guard valid.contains(key) else {
                throw .invalidParameter("Invalid order by key '\(key)' specified. Valid keys are \(SearchRules.pySet(valid))")
            }
            if clauses.contains(where: { $0.key == key }) {
                throw SwiftflowError(.internalError, "`order_by` contains duplicate fields: \(SearchRules.pyList(items))")
            }
            clauses.append(OrderByClause(entity: .attribute, key: key, ascending: ascending))
        }
        return clauses
    }
}

// MARK: - Rules

/// Per-search validation of identifiers, values and comparators for the registry searches.
struct RegistrySearchRules: Sendable {
    let attributes: [String]
    let numericAttributes: [String]
    let listKeys: [String]
    let stringComparators: [String]

    static let registeredModels = RegistrySearchRules(
        attributes: ["name"], numericAttributes: [], listKeys: ["name"],
        stringComparators: ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"])
    static let modelVersions = RegistrySearchRules(
        attributes: ["name", "version_number", "run_id", "source_path"],
        numericAttributes: ["version_number", "creation_timestamp", "last_updated_timestamp"],
        listKeys: ["name", "run_id"],
        stringComparators: ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"])

    static let tagComparators = ["=", "!=", "LIKE", "ILIKE"]
    static let numericComparators = ["=", "!=", "<", "<=", ">", ">="]

    func comparison(_ clause: RawClause) throws(SwiftflowError) -> SearchComparison {
        let (entity, key) = try SearchRules.experimentIdentifier(clause.name, validAttributes: attributes)
        if clause.comparator == "IS NULL" || clause.comparator == "IS NOT NULL" {
            throw .invalidParameter("Invalid comparison clause. Expected 3 tokens found 2")
        }
        switch entity {
        case .tag:
            guard let text = try Self.quotedString(clause.operand) else {
                throw .invalidParameter(
                    "Expected a quoted string value for tag (e.g. 'my-value'). Got value \(clause.operandText)")
            }
            guard Self.tagComparators.contains(clause.comparator), let op = ComparisonOperator(rawValue: clause.comparator) else {
                throw .invalidParameter("Invalid comparator for tag: \(clause.comparator)")
            }
            return SearchComparison(entity: .tag, key: key, op: op, value: .string(text))
        default:
            return try attributeComparison(clause, key: key)
        }
    }

    private func attributeComparison(_ clause: RawClause, key: String) throws(SwiftflowError) -> SearchComparison {
        let value: SearchValue
        if let text = try Self.quotedString(clause.operand) {
            value = .string(text)
        } else if case .list(let text, let items) = clause.operand {
            guard listKeys.contains(key) else {
                throw .invalidParameter(
                    "Only \(SearchRules.pyList(listKeys.sorted())) attributes support comparison with a list of quoted "
                        + "string values.")
            }
            value = .list(try SearchRules.stringList(text: text, items: items))
        } else if case .token(let token) = clause.operand, token.kind == .integer || token.kind == .float,
                  !numericAttributes.isEmpty {
            guard numericAttributes.contains(key) else {
                throw .invalidParameter(
                    "Only the '\(SearchRules.pySet(numericAttributes))' attributes support comparison with numeric values.")
            }
            guard token.kind == .integer, let number = Double(token.text) else {
                throw .invalidParameter("Invalid value for numeric attribute '\(key)': \(token.text)")
            }
            value = .number(number)
        } else {
            throw .invalidParameter(
                "Expected a quoted string value or a list of quoted string values for attributes. Got value "
                    + clause.operandText)
        }
        if numericAttributes.contains(key) {
            guard Self.numericComparators.contains(clause.comparator),
                  let op = ComparisonOperator(rawValue: clause.comparator) else {
                throw .invalidParameter("Invalid comparator for attribute \(key): \(clause.comparator)")
            }
            switch value {
            case .number: return SearchComparison(entity: .attribute, key: key, op: op, value: value)
            case .string(let text):
                // The SQL store applies int() to the value.
                guard let number = SearchRules.pythonInt(text) else {
                    throw .invalidParameter("Invalid value for numeric attribute '\(key)': '\(text)'")
                }
                return SearchComparison(entity: .attribute, key: key, op: op, value: .number(Double(number)))
            case .list:
                throw .invalidParameter("Invalid value for numeric attribute '\(key)': \(clause.operandText)")
            }
        }
        var isList = false
        if case .list = value { isList = true }
        let listOp = clause.comparator == "IN" || clause.comparator == "NOT IN"
        guard stringComparators.contains(clause.comparator), isList == listOp,
              !listOp || listKeys.contains(key), let op = ComparisonOperator(rawValue: clause.comparator) else {
            throw .invalidParameter("Invalid comparator for attribute: \(clause.comparator)")
        }
        return SearchComparison(entity: .attribute, key: key, op: op, value: value)
    }

    /// A single- or double-quoted operand without its quotes; nil for numbers and lists.
    /// - Throws: `INVALID_PARAMETER_VALUE` for a bare word, which MLflow reads as an unquoted string.
    static func quotedString(_ operand: RawClause.Operand) throws(SwiftflowError) -> String? {
        guard case .token(let token) = operand else { return nil }
        switch token.kind {
        case .string(let content):
            return content
        case .identifier where token.keyword == nil:
            guard let content = SearchRules.stripQuotes(token.text) else {
                throw .invalidParameter(
                    "Parameter value is either not quoted or unidentified quote types used for string value "
                        + "\(token.text). Use either single or double quotes.")
            }
            return content
        default:
            return nil
        }
    }

    // MARK: Order by

    /// The name as shlex reads it after MLflow turns backticks into double quotes.
    static func plainKey(_ name: [NamePart]) -> String {
        name.map { part in
            part.quote == .none ? part.text : SearchRules.trimBackticks(SearchRules.stripQuotes(part.text) ?? part.text)
        }.joined(separator: ".")
    }
}
