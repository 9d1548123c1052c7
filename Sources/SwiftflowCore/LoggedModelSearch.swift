import Foundation

// The search language of `logged-models/search`.
//
// The reference is MLflow 3.17.2: `parse_filter_string` in `mlflow/utils/search_logged_model_utils.py`,
// `SearchLoggedModelsPaginationToken` in `search_utils.py` and `search_logged_models` in the SQL store.
// It is looser than the runs language: a filter is a sequence of `<identifier> <op> <value>` comparisons
// (joined by `AND`, or by nothing at all), entity prefixes are the plural `attributes.`, `metrics.`,
// `params.`, `tags.`, values are unquoted by stripping single quotes, and attributes are the columns of
// a logged model.

// MARK: - Typed form

/// A column of a logged model that filters and `order_by` may name.
public enum LoggedModelAttribute: String, Sendable, Equatable, CaseIterable {
    case modelId = "model_id"
    case experimentId = "experiment_id"
    case name
    case artifactLocation = "artifact_location"
    case creationTimestamp = "creation_timestamp_ms"
    case lastUpdatedTimestamp = "last_updated_timestamp_ms"
    case status
    case lifecycleStage = "lifecycle_stage"
    case modelType = "model_type"
    case sourceRunId = "source_run_id"
    case statusMessage = "status_message"

    /// MLflow's aliases: `creation_time`, `creation_timestamp`, `last_updated_timestamp`.
    static let aliases = [
        "creation_time": "creation_timestamp_ms", "creation_timestamp": "creation_timestamp_ms",
        "last_updated_timestamp": "last_updated_timestamp_ms",
    ]

    /// The attribute a name or alias denotes.
    public init?(named text: String) {
        self.init(rawValue: Self.aliases[text] ?? text)
    }

    /// Timestamps compare as numbers; everything else (the status too, stored as its number) as text.
    public var isNumeric: Bool { self == .creationTimestamp || self == .lastUpdatedTimestamp }
}

/// One comparison of a logged-model filter.
public struct LoggedModelComparison: Sendable, Equatable {
    public enum Subject: Sendable, Equatable {
        case attribute(LoggedModelAttribute)
        case metric(String)
        case param(String)
        case tag(String)
    }

    public var subject: Subject
    /// `=`, `!=`, `<`, `<=`, `>`, `>=` for metrics and timestamps; `=`, `!=`, `LIKE`, `ILIKE`, `IN`,
    /// `NOT IN` otherwise.
    public var op: ComparisonOperator
    /// `.number` for metrics and timestamps, `.list` for `IN` / `NOT IN`, `.string` otherwise.
    public var value: SearchValue

    public init(subject: Subject, op: ComparisonOperator, value: SearchValue) {
        self.subject = subject
        self.op = op
        self.value = value
    }
}

/// A `datasets` entry of a search: metric conditions (and, without any, the model itself) must involve
/// a metric logged on one of these datasets.
public struct LoggedModelDatasetFilter: Sendable, Equatable {
    public var name: String
    /// As MLflow's server reads the request, an absent digest matches metrics logged *without* a digest.
    public var digest: String?

    public init(name: String, digest: String?) {
        self.name = name
        self.digest = digest
    }
}

/// One `order_by` entry of a search.
public struct LoggedModelOrder: Sendable, Equatable {
    public enum Field: Sendable, Equatable {
        case attribute(LoggedModelAttribute)
        /// The model's latest value of the metric (newest timestamp, then step), among points on the
        /// given dataset when one is named.
        case metric(String)
    }

    public var field: Field
    public var ascending: Bool
    public var datasetName: String?
    public var datasetDigest: String?

    public init(field: Field, ascending: Bool, datasetName: String? = nil, datasetDigest: String? = nil) {
        self.field = field
        self.ascending = ascending
        self.datasetName = datasetName
        self.datasetDigest = datasetDigest
    }
}

/// An `order_by` entry as the request gives it.
public struct LoggedModelOrderRequest: Sendable, Equatable {
    public var fieldName: String
    public var ascending: Bool
    public var datasetName: String?
    public var datasetDigest: String?

    public init(fieldName: String, ascending: Bool = true, datasetName: String? = nil, datasetDigest: String? = nil) {
        self.fieldName = fieldName
        self.ascending = ascending
        self.datasetName = datasetName.flatMap { $0.isEmpty ? nil : $0 }
        self.datasetDigest = datasetDigest.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A validated `logged-models/search` request.
public struct LoggedModelSearch: Sendable {
    /// As given; searched as integers.
    public var experimentIds: [String]
    /// The filter text (nil when empty), kept for page tokens.
    public var filterText: String?
    public var comparisons: [LoggedModelComparison]
    public var datasets: [LoggedModelDatasetFilter]
    public var orderBy: [LoggedModelOrder]
    /// The order-by entries as requested, kept for page tokens.
    public var orderRequest: [LoggedModelOrderRequest]
    public var maxResults: Int
    public var offset: Int

    /// MLflow's page size when the request says 0.
    public static let defaultMaxResults = 100
    /// The proto default of `max_results` (when the request leaves it out).
    public static let protoDefaultMaxResults = 50

    /// Validates a search in MLflow's order: datasets, page token, filter, order.
    ///
    /// - Parameters:
    ///   - maxResults: nil when absent (50, the proto default); 0 means MLflow's store default, 100.
    ///   - datasets: `(dataset_name, dataset_digest)` pairs as given.
    /// - Throws: `INVALID_PARAMETER_VALUE` for a dataset without a name, a token that does not decode or
    ///   belongs to another search, a bad filter or order, a negative `max_results`.
    public init(
        experimentIds: [String], filter: String?, datasets: [(name: String?, digest: String?)], maxResults: Int64?,
        orderBy: [LoggedModelOrderRequest], pageToken: String?
    ) throws(SwiftflowError) {
        if datasets.contains(where: { ($0.name ?? "").isEmpty }) {
            throw .invalidParameter("`dataset_name` in the `datasets` clause must be specified.")
        }
        if let maxResults, maxResults < 0 {
            throw .invalidParameter(
                "Invalid value \(maxResults) for parameter 'max_results' supplied. It must be a positive integer.")
        }
        self.experimentIds = experimentIds
        self.filterText = filter.flatMap { $0.isEmpty ? nil : $0 }
        self.orderRequest = orderBy
        self.datasets = datasets.map { dataset in
            LoggedModelDatasetFilter(name: dataset.name ?? "", digest: dataset.digest.flatMap { $0.isEmpty ? nil : $0 })
        }
        switch maxResults {
        case nil: self.maxResults = Self.protoDefaultMaxResults
        case 0?: self.maxResults = Self.defaultMaxResults
        case let value?: self.maxResults = Int(clamping: value)
        }
        self.offset = 0
        self.comparisons = []
        self.orderBy = []
        if let pageToken, !pageToken.isEmpty {
            offset = try LoggedModelPageToken.offset(pageToken, for: self)
        }
        comparisons = try LoggedModelFilterParser.parse(filterText)
        self.orderBy = try orderBy.map { request throws(SwiftflowError) in try Self.order(request) }
    }

    private static func order(_ request: LoggedModelOrderRequest) throws(SwiftflowError) -> LoggedModelOrder {
        let name = request.fieldName
        guard let dot = name.firstIndex(of: ".") else {
            guard let attribute = LoggedModelAttribute(named: name) else {
                throw .invalidParameter("Invalid order by field name: \(name)")
            }
            return LoggedModelOrder(field: .attribute(attribute), ascending: request.ascending)
        }
        guard name[..<dot] == "metrics" else {
            throw .invalidParameter("Invalid order by field name: \(name). Only metrics are supported.")
        }
        return LoggedModelOrder(
            field: .metric(String(name[name.index(after: dot)...])), ascending: request.ascending,
            datasetName: request.datasetName, datasetDigest: request.datasetDigest)
    }

    /// The token that resumes this search at `offset`, byte for byte the one MLflow's server gives.
    public func pageToken(offset: Int) -> String {
        LoggedModelPageToken.encode(self, offset: offset)
    }
}

// MARK: - Page token

/// MLflow's `SearchLoggedModelsPaginationToken`: base64 of the JSON of the search's experiment ids,
/// filter and order plus the offset, checked against the request that presents it.
enum LoggedModelPageToken {
    static func encode(_ search: LoggedModelSearch, offset: Int) -> String {
        var json = "{\"experiment_ids\": [" + search.experimentIds.map(quoted).joined(separator: ", ") + "]"
        json += ", \"filter_string\": " + (search.filterText.map(quoted) ?? "null")
        json += ", \"order_by\": " + (orderJSON(search.orderRequest) ?? "null")
        json += ", \"offset\": \(offset)}"
        return Data(json.utf8).base64EncodedString()
    }

    /// The order as MLflow's handler hands it to the store: a list of dicts, or null when empty.
    static func orderJSON(_ order: [LoggedModelOrderRequest]) -> String? {
        guard !order.isEmpty else { return nil }
        return "[" + order.map { item in
            "{\"field_name\": \(quoted(item.fieldName)), \"ascending\": \(item.ascending ? "true" : "false"), "
                + "\"dataset_name\": \(item.datasetName.map(quoted) ?? "null"), "
                + "\"dataset_digest\": \(item.datasetDigest.map(quoted) ?? "null")}"
        }.joined(separator: ", ") + "]"
    }

    private static func quoted(_ text: String) -> String {
        String(decoding: JSONWriter.encode(style: .line) { $0.string(text) }, as: UTF8.self)
    }

    /// The offset `token` resumes at.
    /// - Throws: `INVALID_PARAMETER_VALUE` if it does not decode or was made for another search.
    static func offset(_ token: String, for search: LoggedModelSearch) throws(SwiftflowError) -> Int {
        // Python's b64decode skips characters outside the alphabet.
        let alphabet = token.unicodeScalars.filter { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "+" || scalar == "/")
        }
        var base64 = String(String.UnicodeScalarView(alphabet))
        if base64.count % 4 == 1 { base64.removeLast() }
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else {
            throw .invalidParameter("Invalid page token: \(token). Incorrect padding")
        }
        let decoded: JSONValue
        do {
            decoded = try JSONParser.parse(Array(data))
        } catch {
            throw .invalidParameter("Invalid page token: \(token). \(error.message)")
        }
        guard case .object(let fields) = decoded else {
            throw .invalidParameter("Invalid page token: \(token). The token is not a JSON object.")
        }
        let emptyToNull: (JSONValue?) -> JSONValue = { value in
            switch value {
            case nil, .null?, .string("")?, .array([])?: .null
            case let value?: value
            }
        }
        let experimentIds = fields["experiment_ids"] ?? .null
        let expectedIds = JSONValue.array(search.experimentIds.map { .string($0) })
        if experimentIds != expectedIds {
            throw .invalidParameter(
                "Experiment IDs in the page token do not match the requested experiment IDs. "
                    + "Expected: \(PythonRepr.value(expectedIds)). Found: \(PythonRepr.value(experimentIds))")
        }
        let filter = emptyToNull(fields["filter_string"])
        let expectedFilter = search.filterText.map { JSONValue.string($0) } ?? .null
        if filter != expectedFilter {
            throw .invalidParameter(
                "Filter string in the page token does not match the requested filter string. "
                    + "Expected: \(Self.plain(expectedFilter)). Found: \(Self.plain(filter))")
        }
        let order = emptyToNull(fields["order_by"])
        let expectedOrder = orderJSON(search.orderRequest).flatMap { try? JSONParser.parse($0) } ?? .null
        if order != expectedOrder {
            throw .invalidParameter(
                "Order by in the page token does not match the requested order by. "
                    + "Expected: \(PythonRepr.value(expectedOrder)). Found: \(PythonRepr.value(order))")
        }
        switch fields["offset"] {
        case .number(let text)?:
            guard let offset = Int(text) else { throw .invalidParameter("Invalid page token: \(token). Bad offset.") }
            return offset
        case nil, .null?:
            return 0
        default:
            throw .invalidParameter("Invalid page token: \(token). Bad offset.")
        }
    }

    /// Python's `str` of a value in an f-string: text as is, None for null.
    private static func plain(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        return PythonRepr.value(value)
    }
}

// MARK: - Filter parser

/// Reads a logged-model filter the way MLflow's `parse_filter_string` does over sqlparse's tokens.
enum LoggedModelFilterParser {
    static let numericOps = ["<", "<=", ">", ">=", "=", "!="]
    static let stringOps = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]
    static let entityTypes = ["attributes", "metrics", "params", "tags"]

    static func parse(_ text: String?) throws(SwiftflowError) -> [LoggedModelComparison] {
        guard let text, !text.isEmpty else { return [] }
        let source = SearchSource(text)
        let tokens = source.tokens
        let invalid = SwiftflowError.invalidParameter(
            "Invalid filter string: \(PythonRepr.string(text)). Expected a list of comparisons separated by 'AND' "
                + "(e.g. 'metrics.loss > 0.1 AND params.lr = 0.01').")
        // sqlparse's statements: each `;` closes one, and tokens after the last `;` make one more.
        let semicolons = tokens.indices.filter { tokens[$0].kind == .semicolon }
        let statements = semicolons.count + ((semicolons.last.map { $0 < tokens.count - 1 } ?? true) ? 1 : 0)
        if tokens.isEmpty || statements > 1 {
            throw .invalidParameter("Invalid filter string: \(PythonRepr.string(text)). Expected a single SQL expression.")
        }
        var comparisons: [LoggedModelComparison] = []
        var index = 0
        func token(_ offset: Int) -> SearchToken? {
            index + offset < tokens.count ? tokens[index + offset] : nil
        }
        while let first = token(0) {
            if first.keyword == "AND" {
                index += 1
                continue
            }
            guard isOperand(first), let second = token(1) else { throw invalid }
            switch (second.kind, second.keyword) {
            case (.comparison, _), (_, "LIKE"?), (_, "ILIKE"?), (_, "RLIKE"?):
                guard let third = token(2), isOperand(third) else { throw invalid }
                comparisons.append(try comparison(first.text, second.keyword ?? second.text, .token(third)))
                index += 3
            case (_, "NOT"?):
                if let third = token(2), let negated = third.keyword, ["LIKE", "ILIKE", "RLIKE"].contains(negated),
                   let fourth = token(3), isOperand(fourth) {
                    comparisons.append(try comparison(first.text, "NOT \(negated)", .token(fourth)))
                    index += 4
                } else if first.nameParts != nil, token(2)?.keyword == "IN", token(3)?.kind == .openParen {
                    index += 3
                    let list = try parenthesised(&index, source: source, invalid: invalid)
                    comparisons.append(try comparison(first.text, "NOT IN", list))
                } else {
                    throw invalid
                }
            case (_, "IN"?):
                guard first.nameParts != nil, token(2)?.kind == .openParen else { throw invalid }
                index += 2
                let list = try parenthesised(&index, source: source, invalid: invalid)
                comparisons.append(try comparison(first.text, "IN", list))
            case (_, "IS"?) where first.nameParts != nil:
                if token(2)?.keyword == "NULL" {
                    throw .invalidParameter("Invalid comparison: \(first.text)IS NULL. Expected a comparison with 3 tokens.")
                }
                if token(2)?.keyword == "NOT", token(3)?.keyword == "NULL" {
                    throw .invalidParameter(
                        "Invalid comparison: \(first.text)IS NOT NULL. Expected a comparison with 3 tokens.")
                }
                throw invalid
            default:
                throw invalid
            }
        }
        return comparisons
    }

    /// sqlparse groups names, literals, numbers and `NULL` into comparisons.
    private static func isOperand(_ token: SearchToken) -> Bool {
        switch token.kind {
        case .identifier: token.nameParts != nil || token.keyword == "NULL"
        case .string, .integer, .float: true
        default: false
        }
    }

    private enum Operand {
        case token(SearchToken)
        case list(text: String, items: [SearchToken])
    }

    /// The tokens of `( ... )` starting at `index` (an opening parenthesis); moves past the closing one.
    private static func parenthesised(
        _ index: inout Int, source: SearchSource, invalid: SwiftflowError
    ) throws(SwiftflowError) -> Operand {
        guard let group = source.group(openingAt: index) else { throw invalid }
        index = group.next
        return .list(text: group.text, items: group.items)
    }

    /// Builds one comparison as MLflow does: entity from the identifier, then the operator, then the value.
    private static func comparison(_ identifier: String, _ opText: String, _ operand: Operand) throws(SwiftflowError)
        -> LoggedModelComparison
    {
        let (type, key) = try entity(identifier)
        let canonicalKey = type == "attributes" ? LoggedModelAttribute.aliases[key] ?? key : key
        let numeric = type == "metrics" || (type == "attributes" && LoggedModelAttribute(named: key)?.isNumeric == true)
        let op = opText.uppercased()
        let allowed = numeric ? numericOps : stringOps
        guard allowed.contains(op), let comparator = ComparisonOperator(rawValue: op) else {
            let choices = "(" + allowed.map { PythonRepr.string($0) }.joined(separator: ", ") + ")"
            throw .invalidParameter(
                "Invalid comparison operator for \(type).\(canonicalKey): \(PythonRepr.string(op)). Expected one of \(choices).")
        }
        let value: SearchValue
        switch operand {
        case .token(let token) where numeric:
            guard let number = pythonFloat(token.text) else {
                throw .invalidParameter("could not convert string to float: \(PythonRepr.string(token.text))")
            }
            value = .number(number)
        case .token(let token):
            value = .string(stripSingleQuotes(token.text))
        case .list(let text, let items):
            value = .list(try literalList(text: text, items: items))
        }
        let subject: LoggedModelComparison.Subject
        switch type {
        case "metrics": subject = .metric(key)
        case "params": subject = .param(key)
        case "tags": subject = .tag(key)
        default:
            guard let attribute = LoggedModelAttribute(named: key) else {
                throw .invalidParameter("Invalid attribute key '\(key)' specified.")
            }
            subject = .attribute(attribute)
        }
        return LoggedModelComparison(subject: subject, op: comparator, value: value)
    }

    /// `Entity.from_str`: `<lowercase word>.<key>` names an entity type, anything else an attribute;
    /// backticks around the key are dropped.
    private static func entity(_ identifier: String) throws(SwiftflowError) -> (type: String, key: String) {
        if let dot = identifier.firstIndex(of: "."), dot != identifier.startIndex,
           identifier[..<dot].allSatisfy({ $0.isASCII && $0.isLowercase }), identifier.index(after: dot) != identifier.endIndex,
           !identifier.contains("\n") {
            let type = String(identifier[..<dot])
            guard entityTypes.contains(type) else {
                throw .invalidParameter(
                    "Invalid entity type: \(PythonRepr.string(type)). Expected one of "
                        + "[\(entityTypes.map { PythonRepr.string($0) }.joined(separator: ", "))].")
            }
            return (type, trimming(String(identifier[identifier.index(after: dot)...]), "`"))
        }
        return ("attributes", trimming(LoggedModelAttribute.aliases[identifier] ?? identifier, "`"))
    }

    /// Python's `str.strip(character)`: every leading and trailing occurrence.
    private static func trimming(_ text: String, _ character: Character) -> String {
        guard let start = text.firstIndex(where: { $0 != character }),
              let end = text.lastIndex(where: { $0 != character }) else { return "" }
        return String(text[start...end])
    }

    /// MLflow unquotes values with `strip("'")`: double-quoted text keeps its quotes, `'it''s'` stays `it''s`.
    private static func stripSingleQuotes(_ text: String) -> String {
        trimming(text, "'")
    }

    /// Python's `float(str)` for the texts a filter can hold: decimals, exponents, `inf`, `nan`, `_` separators.
    static func pythonFloat(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lowered = trimmed.lowercased()
        let sign: Double = lowered.hasPrefix("-") ? -1 : 1
        let body = lowered.hasPrefix("-") || lowered.hasPrefix("+") ? String(lowered.dropFirst()) : lowered
        if body == "inf" || body == "infinity" { return sign * .infinity }
        if body == "nan" { return .nan }
        guard let first = body.first, first.isNumber || first == "." else { return nil }
        var digits = ""
        var previous: Character?
        for character in body {
            if character == "_" {
                guard previous?.isNumber == true else { return nil }
            } else {
                if previous == "_" && !character.isNumber { return nil }
                digits.append(character)
            }
            previous = character
        }
        if previous == "_" { return nil }
        guard digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "-" || $0 == "+") }),
              let value = Double(digits) else { return nil }
        return sign * value
    }

    /// `ast.literal_eval` of an `IN` list: quoted strings (adjacent ones concatenate) and numbers, as a
    /// tuple; a single parenthesised value is a one-element list. Numbers keep their text (the column's
    /// affinity decides how they compare, as when SQLAlchemy binds them).
    private static func literalList(text: String, items: [SearchToken]) throws(SwiftflowError) -> [String] {
        let malformed = SwiftflowError.invalidParameter("Invalid value for an IN comparison: \(text)")
        var values: [String] = []
        var pending: String?
        var pendingIsString = false
        for token in items {
            switch token.kind {
            case .string(let content):
                guard pending == nil || pendingIsString else { throw malformed }
                pending = (pending ?? "") + SearchRules.pythonUnescape(content, quote: "'")
                pendingIsString = true
            case .identifier(let parts) where parts.count == 1 && parts[0].quote == .double:
                guard pending == nil || pendingIsString else { throw malformed }
                let body = String(parts[0].text.dropFirst().dropLast())
                pending = (pending ?? "") + SearchRules.pythonUnescape(body, quote: "\"")
                pendingIsString = true
            case .integer, .float:
                guard pending == nil else { throw malformed }
                pending = token.text
                pendingIsString = false
            case .comma:
                guard let value = pending else { throw malformed }
                values.append(value)
                pending = nil
            default:
                throw malformed
            }
        }
        if let pending { values.append(pending) }
        return values
    }
}
