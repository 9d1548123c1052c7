// MLflow's search-filter language for `runs/search` and `experiments/search`.
//
// The reference is MLflow 3.17.2 (`mlflow/utils/search_utils.py` plus the extra checks its SQL store
// makes). MLflow lexes with sqlparse; this file has a small tokenizer and a recursive-descent parser
// that accept the same language and reject what MLflow rejects, with the same error codes.
//
// A filter is a list of comparisons joined by `AND` (case-insensitive); there is no `OR` and no
// parentheses. Each comparison is `<entity>.<key> <comparator> <value>`, where a bare `<key>` means
// an attribute.

// MARK: - Public model

/// What a comparison or an order-by clause looks at: the part before the dot in `metrics.m1`.
public enum SearchEntity: String, Sendable, Equatable {
    case metric, param, tag, attribute, dataset
}

/// A comparator of the search language; the raw value is its canonical upper-case spelling.
public enum ComparisonOperator: String, Sendable, Equatable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case like = "LIKE", ilike = "ILIKE", `in` = "IN", notIn = "NOT IN"
    /// Tags and params only (experiments: tags only): the key is absent.
    case isNull = "IS NULL"
    /// Tags and params only (experiments: tags only): the key is present.
    case isNotNull = "IS NOT NULL"
}

/// The right-hand side of a comparison.
public enum SearchValue: Sendable, Equatable {
    /// A quoted string, quotes removed. Escapes are kept as written, as MLflow does (`'it''s'` is `it''s`).
    case string(String)
    /// A metric value or a numeric attribute (`start_time`, `end_time`, `creation_time`, ...).
    case number(Double)
    /// The operand of `IN` / `NOT IN`.
    case list([String])
}

/// One comparison of a filter, validated and with its key in canonical form.
public struct SearchComparison: Sendable, Equatable {
    public var entity: SearchEntity
    /// The key as stored: a metric/param/tag key with quotes removed, or a canonical attribute name
    /// (`created` becomes `start_time`, `` `Run name` `` becomes `run_name`).
    public var key: String
    public var op: ComparisonOperator
    /// Numbers for metrics and numeric attributes, lists for `IN` / `NOT IN`, strings otherwise.
    /// For `IS NULL` / `IS NOT NULL` there is no operand and this is `.string("")`.
    public var value: SearchValue

    public init(entity: SearchEntity, key: String, op: ComparisonOperator, value: SearchValue) {
        self.entity = entity
        self.key = key
        self.op = op
        self.value = value
    }
}

/// A parsed search filter: every comparison must hold (MLflow has no `OR`).
public struct SearchFilter: Sendable, Equatable {
    public var comparisons: [SearchComparison]

    public init(comparisons: [SearchComparison] = []) {
        self.comparisons = comparisons
    }

    /// Parses a `runs/search` filter such as `metrics.acc > 0.9 AND params.model = 'cnn'`.
    ///
    /// Entities: `metric(s)`, `param(s)`/`parameter(s)`, `tag(s)`, `attribute(s)`/`attr`/`run`, `dataset(s)`;
    /// a bare key is an attribute. Run attributes are `run_id`, `run_name`, `status`, `user_id`,
    /// `artifact_uri` (strings) and `start_time`, `end_time` (numbers; `created` is `start_time`).
    /// `nil`, empty or whitespace-only text gives an empty filter.
    ///
    /// - Throws: `SwiftflowError` with code `INVALID_PARAMETER_VALUE` for bad syntax, an unknown entity
    ///   or attribute, a comparator the key does not support, or a value of the wrong type.
    public static func parseRunFilter(_ text: String?) throws(SwiftflowError) -> SearchFilter {
        try parse(text, resolve: SearchRules.runComparison)
    }

    /// Parses an `experiments/search` filter such as `name LIKE 'prod-%' AND tags.team = 'ml'`.
    ///
    /// Entities: `attribute` (or a bare key) and `tag`/`tags`. Attributes are `name`, `experiment_id`
    /// (strings; `experiment_id` also takes `IN` lists) and `creation_time`, `last_update_time`
    /// (integers). `nil`, empty or whitespace-only text gives an empty filter.
    ///
    /// - Throws: `SwiftflowError` with code `INVALID_PARAMETER_VALUE` for bad syntax, an unknown entity
    ///   or attribute, a comparator the key does not support, or a value of the wrong type.
    public static func parseExperimentFilter(_ text: String?) throws(SwiftflowError) -> SearchFilter {
        try parse(text, resolve: SearchRules.experimentComparison)
    }

    private static func parse(
        _ text: String?,
        resolve: (RawClause) throws(SwiftflowError) -> SearchComparison
    ) throws(SwiftflowError) -> SearchFilter {
        // MLflow rejects whitespace-only filters; Swiftflow treats them as "no filter" on purpose.
        guard let text, text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            return SearchFilter()
        }
        var parser = FilterParser(source: SearchSource(text))
        var comparisons: [SearchComparison] = []
        for clause in try parser.parseClauses() {
            do {
                comparisons.append(try resolve(clause))
            } catch {
                // MLflow's message first (clients match on it), then where the problem is.
                var located = error
                located.message += " (in the clause at character \(clause.position))"
                throw located
            }
        }
        return SearchFilter(comparisons: comparisons)
    }
}

// MARK: - Tokens

/// One part of a dotted name, as written (quotes included).
struct NamePart: Sendable, Equatable {
    enum Quote: Sendable, Equatable { case none, backtick, single, double }
    var text: String
    var quote: Quote
}

/// A lexical token of the search language.
struct SearchToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// A dotted name such as `metrics.m1`, `` tags.`my key` ``, `params."a b"` or `"run_name"`.
        case identifier([NamePart])
        /// A single-quoted literal; the payload is the text between the quotes, escapes untouched.
        case string(String)
        case integer
        case float
        /// A run of `<>=~!`; checked later so that `=!` gets a comparator error, not a syntax error.
        case comparison
        case openParen, closeParen, comma, semicolon
        case other
    }

    static let keywords: Set<String> = ["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "RLIKE"]

    var kind: Kind
    /// Scalar offsets into the source, for messages that quote the input.
    var range: Range<Int>
    var text: String

    /// The upper-cased keyword if this token is a bare SQL keyword, e.g. `and` -> `AND`.
    var keyword: String? {
        guard case .identifier(let parts) = kind, parts.count == 1, parts[0].quote == .none else { return nil }
        let upper = parts[0].text.uppercased()
        return Self.keywords.contains(upper) ? upper : nil
    }

    /// The token if it is a name (not a keyword), else `nil`.
    var nameParts: [NamePart]? {
        guard case .identifier(let parts) = kind, keyword == nil else { return nil }
        return parts
    }
}

/// Source text plus its tokens; slices of the text are used verbatim in error messages.
struct SearchSource: Sendable {
    let text: String
    let scalars: [Unicode.Scalar]
    let tokens: [SearchToken]

    init(_ text: String) {
        self.text = text
        self.scalars = Array(text.unicodeScalars)
        self.tokens = SearchLexer(scalars: scalars).tokenize()
    }

    func slice(_ range: Range<Int>) -> String {
        String(String.UnicodeScalarView(scalars[range]))
    }

    /// The parenthesised group opening at token `open`: its text with the parentheses, the tokens
    /// inside, and the index after the closing one; nil when it never closes.
    func group(openingAt open: Int) -> (text: String, items: [SearchToken], next: Int)? {
        var depth = 0
        for position in open..<tokens.count {
            switch tokens[position].kind {
            case .openParen: depth += 1
            case .closeParen: depth -= 1
            default: continue
            }
            if depth == 0 {
                let text = slice(tokens[open].range.lowerBound..<tokens[position].range.upperBound)
                return (text, Array(tokens[(open + 1)..<position]), position + 1)
            }
        }
        return nil
    }
}

// MARK: - Lexer

/// Splits search text into tokens following sqlparse's rules where MLflow depends on them.
struct SearchLexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    func tokenize() -> [SearchToken] {
        var lexer = self
        var tokens: [SearchToken] = []
        while let token = lexer.nextToken() {
            tokens.append(token)
        }
        return tokens
    }

    private func scalar(_ at: Int) -> Unicode.Scalar? {
        at < scalars.count ? scalars[at] : nil
    }

    private func make(_ kind: SearchToken.Kind, from start: Int) -> SearchToken {
        SearchToken(kind: kind, range: start..<index, text: String(String.UnicodeScalarView(scalars[start..<index])))
    }

    private mutating func nextToken() -> SearchToken? {
        while let current = scalar(index), current.properties.isWhitespace {
            index += 1
        }
        guard let current = scalar(index) else { return nil }
        let start = index
        switch current {
        case "'":
            guard let end = quotedEnd(from: index) else { break }
            index = end
            let content = String(String.UnicodeScalarView(scalars[(start + 1)..<(end - 1)]))
            return make(.string(content), from: start)
        case "`", "\"":
            guard let end = quotedEnd(from: index) else { break }
            index = end
            let quote: NamePart.Quote = current == "`" ? .backtick : .double
            return identifier(from: start, first: NamePart(text: slice(start..<end), quote: quote))
        case "(": index += 1; return make(.openParen, from: start)
        case ")": index += 1; return make(.closeParen, from: start)
        case ",": index += 1; return make(.comma, from: start)
        case ";": index += 1; return make(.semicolon, from: start)
        case "<", ">", "=", "~", "!":
            while let next = scalar(index), "<>=~!".unicodeScalars.contains(next) {
                index += 1
            }
            return make(.comparison, from: start)
        default:
            if let number = numberEnd(at: index) {
                index = number.end
                return make(number.isFloat ? .float : .integer, from: start)
            }
            if Self.isWordScalar(current) {
                index = wordEnd(from: index)
                return identifier(from: start, first: NamePart(text: slice(start..<index), quote: .none))
            }
        }
        // An unmatched quote or a stray character: a token of its own, rejected by the parser.
        index += 1
        return make(.other, from: start)
    }

    private func slice(_ range: Range<Int>) -> String {
        String(String.UnicodeScalarView(scalars[range]))
    }

    /// Continues a name over `.part` suffixes; parts after a dot may be words or quoted in any style.
    private mutating func identifier(from start: Int, first: NamePart) -> SearchToken {
        var parts = [first]
        while scalar(index) == ".", let next = scalar(index + 1) {
            let partStart = index + 1
            let end: Int
            let quote: NamePart.Quote
            switch next {
            case "`", "'", "\"":
                guard let quotedEnd = quotedEnd(from: partStart) else { return make(.identifier(parts), from: start) }
                end = quotedEnd
                quote = next == "`" ? .backtick : (next == "'" ? .single : .double)
            default:
                guard Self.isWordScalar(next) else { return make(.identifier(parts), from: start) }
                end = wordEnd(from: partStart)
                quote = .none
            }
            parts.append(NamePart(text: slice(partStart..<end), quote: quote))
            index = end
        }
        return make(.identifier(parts), from: start)
    }

    /// The end (exclusive) of a quoted run starting at `start`, or `nil` if it never closes.
    ///
    /// A doubled quote stays inside; in `'…'` and `"…"` so does a backslash-escaped quote, unless that
    /// leaves the literal unterminated (sqlparse's regex backtracks to the plain reading then).
    private func quotedEnd(from start: Int) -> Int? {
        let quote = scalars[start]
        for honourBackslash in quote == "`" ? [false] : [true, false] {
            var position = start + 1
            while let current = scalar(position) {
                if current == quote {
                    if scalar(position + 1) == quote {
                        position += 2
                        continue
                    }
                    return position + 1
                }
                if honourBackslash, current == "\\", scalar(position + 1) == quote {
                    position += 2
                    continue
                }
                position += 1
            }
        }
        return nil
    }

    private func wordEnd(from start: Int) -> Int {
        var position = start
        while let current = scalar(position), Self.isWordScalar(current) {
            position += 1
        }
        return position
    }

    private func digitsEnd(from start: Int) -> Int {
        var position = start
        while let current = scalar(position), ("0"..."9").contains(current) {
            position += 1
        }
        return position
    }

    private func isLetterOrUnderscore(_ position: Int) -> Bool {
        guard let current = scalar(position) else { return false }
        return current == "_" || current.properties.isAlphabetic
    }

    /// sqlparse's number rules, in its order: `-?\d+(\.\d+)?E-?\d+`, then `-?(\d+\.\d*|\.\d+)` and
    /// `-?\d+`, the last two only when no letter follows (`1a` is a word, not a number).
    private func numberEnd(at start: Int) -> (end: Int, isFloat: Bool)? {
        let body = scalar(start) == "-" ? start + 1 : start
        let intEnd = digitsEnd(from: body)
        let hasDigits = intEnd > body
        if hasDigits {
            var mantissaEnd = intEnd
            if scalar(intEnd) == ".", digitsEnd(from: intEnd + 1) > intEnd + 1 {
                mantissaEnd = digitsEnd(from: intEnd + 1)
            }
            if let marker = scalar(mantissaEnd), marker == "e" || marker == "E" {
                let exponent = scalar(mantissaEnd + 1) == "-" ? mantissaEnd + 2 : mantissaEnd + 1
                let exponentEnd = digitsEnd(from: exponent)
                if exponentEnd > exponent { return (exponentEnd, true) }
            }
        }
        if hasDigits, scalar(intEnd) == "." {
            let end = digitsEnd(from: intEnd + 1)
            if !isLetterOrUnderscore(end) { return (end, true) }
        } else if !hasDigits, scalar(body) == ".", digitsEnd(from: body + 1) > body + 1 {
            let end = digitsEnd(from: body + 1)
            if !isLetterOrUnderscore(end) { return (end, true) }
        }
        if hasDigits, !isLetterOrUnderscore(intEnd) { return (intEnd, false) }
        return nil
    }

    /// Python's `\w`: letters, digits and underscore, in any script.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }
}

// MARK: - Parser

/// A comparison as written, before its identifier and value are checked against the entity rules.
struct RawClause: Sendable {
    enum Operand: Sendable {
        case none
        case token(SearchToken)
        /// A parenthesised list: the text with its parentheses, and the tokens between them.
        case list(text: String, items: [SearchToken])
    }

    var name: [NamePart]
    /// Upper-cased comparator as written: `=`, `=!`, `LIKE`, `NOT LIKE`, `IN`, `IS NOT NULL`, ...
    var comparator: String
    /// The comparator with its original case (`like`, `in`); `NOT IN` and `IS [NOT] NULL` are always
    /// upper case, as sqlparse rebuilds them. The experiments rules are case-sensitive on it.
    var spelling: String
    var operand: Operand
    /// Where the clause starts in the filter, counting characters from 1.
    var position = 0

    var operandText: String {
        switch operand {
        case .none: ""
        case .token(let token): token.text
        case .list(let text, _): text
        }
    }
}

/// Recursive-descent parser for `clause (AND? clause)*`.
struct FilterParser {
    private let source: SearchSource
    private var index = 0

    init(source: SearchSource) {
        self.source = source
    }

    private var tokens: [SearchToken] { source.tokens }

    /// Parses every clause; `AND`s may repeat, lead or trail, as MLflow tolerates.
    mutating func parseClauses() throws(SwiftflowError) -> [RawClause] {
        if let semicolon = tokens.firstIndex(where: { $0.kind == .semicolon }), semicolon < tokens.count - 1 {
            throw .invalidParameter(
                "Search filter contained multiple expression '\(source.text)'. Provide AND-ed expression list."
            )
        }
        var clauses: [RawClause] = []
        while index < tokens.count {
            let token = tokens[index]
            if token.keyword == "AND" {
                index += 1
                continue
            }
            guard let name = token.nameParts else { throw invalidClause(index..<(index + 1)) }
            var clause = try parseClause(name: name)
            clause.position = token.range.lowerBound + 1
            clauses.append(clause)
        }
        return clauses
    }

    private func invalidClause(_ range: Range<Int>) -> SwiftflowError {
        let upper = min(range.upperBound, tokens.count)
        let quoted = tokens[range.lowerBound..<upper].map { "'\($0.text)'" }.joined(separator: ", ")
        let position = range.lowerBound < tokens.count ? tokens[range.lowerBound].range.lowerBound + 1 : source.scalars.count
        return .invalidParameter("Invalid clause(s) in filter string: \(quoted) (at character \(position))")
    }

    private func keyword(at position: Int) -> String? {
        position < tokens.count ? tokens[position].keyword : nil
    }

    private mutating func parseClause(name: [NamePart]) throws(SwiftflowError) -> RawClause {
        let start = index
        index += 1
        guard index < tokens.count else { throw invalidClause(start..<index) }
        let comparator: String
        var spelling: String?
        switch (tokens[index].kind, tokens[index].keyword) {
        case (.comparison, _):
            comparator = tokens[index].text
            index += 1
        case (_, "LIKE"?), (_, "ILIKE"?), (_, "RLIKE"?), (_, "IN"?):
            comparator = tokens[index].keyword ?? ""
            spelling = tokens[index].text
            index += 1
        case (_, "NOT"?):
            guard let next = keyword(at: index + 1), ["LIKE", "ILIKE", "RLIKE", "IN"].contains(next) else {
                throw invalidClause(start..<(index + 2))
            }
            comparator = "NOT \(next)"
            index += 2
        case (_, "IS"?):
            if keyword(at: index + 1) == "NULL" {
                index += 2
                return RawClause(name: name, comparator: "IS NULL", spelling: "IS NULL", operand: .none)
            }
            if keyword(at: index + 1) == "NOT", keyword(at: index + 2) == "NULL" {
                index += 3
                return RawClause(name: name, comparator: "IS NOT NULL", spelling: "IS NOT NULL", operand: .none)
            }
            throw invalidClause(start..<(index + 3))
        default:
            throw invalidClause(start..<(index + 1))
        }
        let operand = comparator.hasSuffix("IN")
            ? try parseList(clauseStart: start)
            : try parseScalar(clauseStart: start)
        return RawClause(name: name, comparator: comparator, spelling: spelling ?? comparator, operand: operand)
    }

    private mutating func parseScalar(clauseStart: Int) throws(SwiftflowError) -> RawClause.Operand {
        guard index < tokens.count else { throw invalidClause(clauseStart..<index) }
        switch tokens[index].kind {
        case .identifier, .string, .integer, .float:
            index += 1
            return .token(tokens[index - 1])
        default:
            throw invalidClause(clauseStart..<(index + 1))
        }
    }

    private mutating func parseList(clauseStart: Int) throws(SwiftflowError) -> RawClause.Operand {
        guard index < tokens.count, tokens[index].kind == .openParen else {
            throw invalidClause(clauseStart..<(index + 1))
        }
        guard let group = source.group(openingAt: index) else { throw invalidClause(clauseStart..<tokens.count) }
        index = group.next
        return .list(text: group.text, items: group.items)
    }
}

// MARK: - Entity rules

/// MLflow's per-entity validation of identifiers, values and comparators.
enum SearchRules {
    static let numericComparators = ["=", "!=", "<", "<=", ">", ">="]
    static let keyValueComparators = ["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"]
    static let stringAttributeComparators = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]
    static let datasetComparators = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]

    static let runSearchableAttributes = [
        "artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id",
        "created", "Created", "run name", "Run name", "Run Name",
    ]
    static let runOrderableAttributes = [
        "artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id", "created", "Created",
    ]
    static let runNumericAttributes: Set<String> = ["start_time", "end_time", "created", "Created"]
    static let datasetKeys = ["name", "digest", "context"]
    static let experimentAttributes = ["name", "experiment_id", "creation_time", "last_update_time"]
    static let experimentNumericAttributes: Set<String> = ["creation_time", "last_update_time"]

    /// MLflow's display names for entity types, used in messages.
    static func mlflowName(_ entity: SearchEntity) -> String {
        entity == .param ? "parameter" : entity.rawValue
    }

    /// Maps MLflow's attribute aliases to the real column: `created` is `start_time`, `Run name` is `run_name`.
    static func canonicalRunAttribute(_ key: String) -> String {
        switch key {
        case "created", "Created": "start_time"
        case "run name", "Run name", "Run Name": "run_name"
        default: key
        }
    }

    // MARK: Identifiers

    /// Splits `entity.key` (or a bare attribute key) for runs and checks both halves.
    static func runIdentifier(
        _ name: [NamePart], validAttributes: [String]
    ) throws(SwiftflowError) -> (entity: SearchEntity, key: String) {
        var entity = SearchEntity.attribute
        if name.count > 1 {
            let type = trimBackticks(name[0].text)
            switch type {
            case "metric", "metrics": entity = .metric
            case "parameter", "parameters", "param", "params": entity = .param
            case "tag", "tags": entity = .tag
            case "attribute", "attributes", "attr", "run": entity = .attribute
            case "dataset", "datasets": entity = .dataset
            default:
                throw .invalidParameter(
                    "Invalid entity type '\(type)'. "
                        + "Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"
                )
            }
        }
        let key = cleanKey(name)
        if entity == .attribute, !validAttributes.contains(key) {
            throw invalidAttributeKey(key, validAttributes)
        }
        if entity == .dataset, !datasetKeys.contains(key) {
            throw .invalidParameter(
                "Invalid dataset key '\(key)' specified. Valid keys are '\(pySet(datasetKeys))'"
            )
        }
        return (entity, key)
    }

    /// Splits `entity.key` (or a bare attribute key) for experiments, where only `attribute`, `tag` and
    /// `tags` are entity types (not `attributes`, and backticks are not removed from the type).
    static func experimentIdentifier(
        _ name: [NamePart], validAttributes: [String]
    ) throws(SwiftflowError) -> (entity: SearchEntity, key: String) {
        var entity = SearchEntity.attribute
        if name.count > 1 {
            switch name[0].text {
            case "attribute": entity = .attribute
            case "tag", "tags": entity = .tag
            default:
                throw .invalidParameter(
                    "Invalid entity type '\(name[0].text)'. Valid entity types are ('attribute', 'tag', 'tags')"
                )
            }
        }
        let key = cleanKey(name)
        if entity == .attribute, !validAttributes.contains(key) {
            throw invalidAttributeKey(key, validAttributes)
        }
        return (entity, key)
    }

    private static func invalidAttributeKey(_ key: String, _ valid: [String]) -> SwiftflowError {
        .invalidParameter("Invalid attribute key '\(key)' specified. Valid keys are '\(pySet(valid))'")
    }

    /// The text after the first dot (or the whole name), with one layer of quotes or backticks removed.
    private static func cleanKey(_ name: [NamePart]) -> String {
        let raw = name.count > 1 ? name.dropFirst().map(\.text).joined(separator: ".") : name[0].text
        return trimBackticks(stripQuotes(raw) ?? raw)
    }

    // MARK: Runs

    /// Validates one run clause the way MLflow does: identifier, then value type, then comparator.
    static func runComparison(_ clause: RawClause) throws(SwiftflowError) -> SearchComparison {
        let (entity, key) = try runIdentifier(clause.name, validAttributes: runSearchableAttributes)
        if let nullCheck = nullComparison(clause.comparator) {
            guard entity == .tag || entity == .param else {
                throw .invalidParameter(
                    "IS NULL / IS NOT NULL is only supported for tags and params, "
                        + "not for '\(mlflowName(entity))' '\(key)'"
                )
            }
            return SearchComparison(entity: entity, key: key, op: nullCheck, value: .string(""))
        }
        let value: SearchValue
        let allowed: [String]
        switch entity {
        case .metric:
            guard let number = number(clause.operand) else {
                throw .invalidParameter("Expected numeric value type for metric. Found \(clause.operandText)")
            }
            value = .number(number)
            allowed = numericComparators
        case .param, .tag:
            guard let string = try quotedString(clause.operand) else {
                throw .invalidParameter(
                    "Expected a quoted string value for \(mlflowName(entity)) (e.g. 'my-value'). "
                        + "Got value \(clause.operandText)"
                )
            }
            value = .string(string)
            allowed = keyValueComparators
        case .attribute where runNumericAttributes.contains(key):
            guard let number = number(clause.operand) else {
                throw .invalidParameter(
                    "Expected numeric value type for numeric attribute: \(key). Found \(clause.operandText)"
                )
            }
            value = .number(number)
            allowed = numericComparators
        case .attribute:
            value = try stringOrList(clause, listKeys: ["run_id"], key: key, noun: "attributes")
            allowed = stringAttributeComparators
        case .dataset:
            value = try stringOrList(clause, listKeys: datasetKeys, key: key, noun: "dataset attributes")
            allowed = datasetComparators
        }
        let op = try comparator(clause.comparator, allowed: allowed)
        let canonicalKey = entity == .attribute ? canonicalRunAttribute(key) : key
        return SearchComparison(entity: entity, key: canonicalKey, op: op, value: value)
    }

    // MARK: Experiments

    /// Validates one experiment clause, including the SQL store's extra checks on comparators and values.
    ///
    /// Unlike runs, MLflow does not upper-case these comparators: `name like 'x%'` is rejected.
    static func experimentComparison(_ clause: RawClause) throws(SwiftflowError) -> SearchComparison {
        let (entity, key) = try experimentIdentifier(clause.name, validAttributes: experimentAttributes)
        if let nullCheck = nullComparison(clause.comparator) {
            guard entity == .tag else {
                throw .invalidParameter("IS NULL / IS NOT NULL is only supported for tags, not for attribute '\(key)'")
            }
            return SearchComparison(entity: entity, key: key, op: nullCheck, value: .string(""))
        }
        switch entity {
        case .tag:
            guard let string = try quotedString(clause.operand) else {
                throw .invalidParameter(
                    "Expected a quoted string value for tag (e.g. 'my-value'). Got value \(clause.operandText)"
                )
            }
            guard let op = ComparisonOperator(rawValue: clause.spelling),
                  ["=", "!=", "LIKE", "ILIKE"].contains(op.rawValue) else {
                throw .invalidParameter("Invalid comparator for tag: \(clause.spelling)")
            }
            return SearchComparison(entity: .tag, key: key, op: op, value: .string(string))
        case _ where experimentNumericAttributes.contains(key):
            guard let number = number(clause.operand), case .token(let token) = clause.operand else {
                throw .invalidParameter(
                    "Expected numeric value type for numeric attribute: \(key). Found \(clause.operandText)"
                )
            }
            let op = try comparator(clause.comparator, allowed: numericComparators)
            // The columns are integers; MLflow's SQL store refuses fractional values.
            guard token.kind == .integer else {
                throw .invalidParameter("Invalid value for numeric attribute '\(key)': '\(token.text)'")
            }
            return SearchComparison(entity: .attribute, key: key, op: op, value: .number(number))
        case _ where key == "experiment_id":
            let value = try stringOrList(clause, listKeys: ["experiment_id"], key: key, noun: "attributes")
            guard let op = ComparisonOperator(rawValue: clause.spelling),
                  [.equal, .notEqual, .in, .notIn].contains(op) else {
                throw .invalidParameter("Invalid comparator for experiment_id: \(clause.spelling)")
            }
            return SearchComparison(entity: .attribute, key: key, op: op, value: try experimentIDs(value))
        default:
            let value = try stringOrList(clause, listKeys: ["experiment_id"], key: key, noun: "attributes")
            let op = try comparator(clause.spelling, allowed: stringAttributeComparators)
            return SearchComparison(entity: .attribute, key: key, op: op, value: value)
        }
    }

    /// Experiment IDs are integers in the store; normalise each to its decimal form.
    private static func experimentIDs(_ value: SearchValue) throws(SwiftflowError) -> SearchValue {
        func normalise(_ id: String) throws(SwiftflowError) -> String {
            guard let number = pythonInt(id) else {
                throw .invalidParameter("Invalid experiment ID '\(id)'. Experiment ID must be a valid integer.")
            }
            return String(number)
        }
        switch value {
        case .string(let id):
            return .string(try normalise(id))
        case .list(let ids):
            var normalised: [String] = []
            for id in ids {
                normalised.append(try normalise(id))
            }
            return .list(normalised)
        case .number:
            return value
        }
    }

    // MARK: Values and comparators

    private static func nullComparison(_ comparator: String) -> ComparisonOperator? {
        comparator == "IS NULL" || comparator == "IS NOT NULL" ? ComparisonOperator(rawValue: comparator) : nil
    }

    private static func comparator(_ text: String, allowed: [String]) throws(SwiftflowError) -> ComparisonOperator {
        guard allowed.contains(text), let op = ComparisonOperator(rawValue: text) else {
            throw .invalidParameter("Invalid comparator '\(text)' not one of '\(pySet(allowed))'")
        }
        return op
    }

    private static func number(_ operand: RawClause.Operand) -> Double? {
        guard case .token(let token) = operand, token.kind == .integer || token.kind == .float else { return nil }
        return Double(token.text)
    }

    /// A quoted operand with its quotes removed; `nil` for numbers and lists.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` for a bare word or backticked name, which MLflow treats as an
    ///   unquoted string.
    private static func quotedString(_ operand: RawClause.Operand) throws(SwiftflowError) -> String? {
        guard case .token(let token) = operand else { return nil }
        switch token.kind {
        case .string(let content):
            return content
        case .identifier where token.keyword == nil:
            guard let content = stripQuotes(token.text) else {
                throw .invalidParameter(
                    "Parameter value is either not quoted or unidentified quote types used for string value "
                        + "\(token.text). Use either single or double quotes."
                )
            }
            return content
        default:
            return nil
        }
    }

    /// A quoted string, or a list if `key` is one of `listKeys`.
    private static func stringOrList(
        _ clause: RawClause, listKeys: [String], key: String, noun: String
    ) throws(SwiftflowError) -> SearchValue {
        if let string = try quotedString(clause.operand) {
            return .string(string)
        }
        guard case .list(let text, let items) = clause.operand else {
            throw .invalidParameter("Expected a quoted string value for \(noun). Got value \(clause.operandText)")
        }
        guard listKeys.contains(key) else {
            if noun == "dataset attributes" {
                throw .invalidParameter(
                    "Only the dataset 'name', 'digest', and 'context' support comparison with a list of quoted "
                        + "string values."
                )
            }
            throw .invalidParameter(
                "Only \(pyList(listKeys)) attributes support comparison with a list of quoted string values."
            )
        }
        return .list(try stringList(text: text, items: items))
    }

    /// Reads `('a', "b", )` with Python literal semantics, as MLflow's `ast.literal_eval` does:
    /// adjacent literals concatenate and backslash escapes are decoded.
    static func stringList(text: String, items: [SearchToken]) throws(SwiftflowError) -> [String] {
        enum Item { case string(String), other }
        let prefix = "While parsing a list in the query,"
        let illFormed = SwiftflowError.invalidParameter(
            "\(prefix) expected a non-empty list of string values, but got ill-formed list."
        )
        var parsed: [Item] = []
        var pending: Item?
        for token in items {
            switch token.kind {
            case .string(let content):
                guard case .string(let head) = pending ?? .string("") else { throw illFormed }
                pending = .string(head + pythonUnescape(content, quote: "'"))
            case .identifier(let parts) where parts.count == 1 && parts[0].quote == .double:
                guard case .string(let head) = pending ?? .string("") else { throw illFormed }
                let body = String(parts[0].text.dropFirst().dropLast())
                pending = .string(head + pythonUnescape(body, quote: "\""))
            case .integer, .float:
                guard pending == nil else { throw illFormed }
                pending = .other
            case .comma:
                guard let item = pending else { throw illFormed }
                parsed.append(item)
                pending = nil
            default:
                throw illFormed
            }
        }
        if let pending { parsed.append(pending) }
        guard !parsed.isEmpty else {
            throw .invalidParameter("\(prefix) expected a non-empty list of string values, but got empty list")
        }
        var strings: [String] = []
        for item in parsed {
            guard case .string(let string) = item else {
                throw .invalidParameter(
                    "\(prefix) expected string value, punctuation, or whitespace, but got different type in list: "
                        + text
                )
            }
            strings.append(string)
        }
        return strings
    }

    // MARK: Text helpers

    /// Removes matching single or double quotes around `text`, or returns `nil` if it is not so quoted.
    static func stripQuotes(_ text: String) -> String? {
        for quote in ["'", "\""] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
            return String(text.dropFirst().dropLast())
        }
        return nil
    }

    static func trimBackticks(_ text: String) -> String {
        text.count >= 2 && text.hasPrefix("`") && text.hasSuffix("`") ? String(text.dropFirst().dropLast()) : text
    }

    /// Decodes a Python string literal body: doubled quotes are two adjacent literals, backslash escapes
    /// are interpreted and unknown escapes are kept verbatim.
    static func pythonUnescape(_ body: String, quote: Character) -> String {
        var result = ""
        var characters = body.makeIterator()
        while let character = characters.next() {
            if character == quote {
                _ = characters.next()  // the second quote of a doubled pair: '' closes and reopens
                continue
            }
            guard character == "\\", let escaped = characters.next() else {
                result.append(character)
                continue
            }
            switch escaped {
            case "n": result.append("\n")
            case "t": result.append("\t")
            case "r": result.append("\r")
            case "0": result.append("\0")
            case "\\", "'", "\"": result.append(escaped)
            default: result.append("\\\(escaped)")
            }
        }
        return result
    }

    /// Python `int(str)`: surrounding whitespace, an optional sign, digits with single underscores between.
    static func pythonInt(_ text: String) -> Int? {
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return nil }
        var body = Substring(String(scalars[start...end]))
        var sign = 1
        if let first = body.first, first == "+" || first == "-" {
            sign = first == "-" ? -1 : 1
            body = body.dropFirst()
        }
        guard let first = body.first, first.isASCII, first.isNumber, body.last != "_", !body.contains("__") else {
            return nil
        }
        let digits = body.filter { $0 != "_" }
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let magnitude = Int(digits) else { return nil }
        return sign * magnitude
    }

    /// Python's `repr` of a set of strings, for messages that mirror MLflow's.
    static func pySet(_ items: [String]) -> String {
        "{" + items.map { "'\($0)'" }.joined(separator: ", ") + "}"
    }

    /// Python's `repr` of a list of strings.
    static func pyList(_ items: [String]) -> String {
        "[" + items.map { "'\($0)'" }.joined(separator: ", ") + "]"
    }
}

