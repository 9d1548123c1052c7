import SwiftflowCore
import Testing

// Expected values below were checked against MLflow 3.17.2 (`SearchUtils`, `SearchExperimentsUtils`
// and the SQL store's extra validation).

// MARK: - Helpers

/// Parses a run filter and returns its comparisons.
private func runs(_ text: String?) throws -> [SearchComparison] {
    try SearchFilter.parseRunFilter(text).comparisons
}

/// Parses an experiment filter and returns its comparisons.
private func experiments(_ text: String?) throws -> [SearchComparison] {
    try SearchFilter.parseExperimentFilter(text).comparisons
}

/// Asserts that `body` throws a `SwiftflowError` with `code` whose message contains `fragment`.
private func expectError(
    _ code: SwiftflowError.Code = .invalidParameterValue,
    containing fragment: String = "",
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    let error = #expect(throws: SwiftflowError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, sourceLocation: sourceLocation)
    if !fragment.isEmpty {
        #expect(error?.message.contains(fragment) == true, "message: \(error?.message ?? "")",
                sourceLocation: sourceLocation)
    }
}

// MARK: - Run filters

@Suite("Run search filters")
struct RunFilterTests {
    @Test("nil, empty and whitespace-only filters have no comparisons")
    func emptyFilters() throws {
        #expect(try runs(nil).isEmpty)
        #expect(try runs("").isEmpty)
        #expect(try runs("  \t ").isEmpty)
        #expect(try SearchFilter.parseRunFilter(nil) == SearchFilter(comparisons: []))
    }

    @Test("metrics accept every numeric comparator", arguments: [
        ("=", ComparisonOperator.equal), ("!=", .notEqual), ("<", .less),
        ("<=", .lessOrEqual), (">", .greater), (">=", .greaterOrEqual),
    ])
    func metricComparators(text: String, op: ComparisonOperator) throws {
        let expected = SearchComparison(entity: .metric, key: "m", op: op, value: .number(0.5))
        #expect(try runs("metrics.m \(text) 0.5") == [expected])
    }

    @Test("metrics reject string comparators", arguments: ["LIKE", "ILIKE", "==", "<>"])
    func metricRejectsStringComparators(op: String) {
        expectError(containing: "Invalid comparator '\(op)'") { _ = try runs("metrics.m \(op) 1") }
    }

    @Test("params and tags accept =, !=, LIKE and ILIKE (any case)", arguments: [
        ("=", ComparisonOperator.equal), ("!=", .notEqual), ("LIKE", .like), ("like", .like),
        ("ILIKE", .ilike), ("iLike", .ilike),
    ])
    func keyValueComparators(text: String, op: ComparisonOperator) throws {
        #expect(try runs("params.p \(text) 'v%'") == [
            SearchComparison(entity: .param, key: "p", op: op, value: .string("v%")),
        ])
        #expect(try runs("tags.t \(text) 'v%'") == [
            SearchComparison(entity: .tag, key: "t", op: op, value: .string("v%")),
        ])
    }

    @Test("IS NULL and IS NOT NULL work for params and tags only")
    func nullChecks() throws {
        #expect(try runs("params.p IS NULL") == [
            SearchComparison(entity: .param, key: "p", op: .isNull, value: .string("")),
        ])
        #expect(try runs("tags.t is not null").first?.op == .isNotNull)
        expectError(containing: "only supported for tags and params") { _ = try runs("metrics.m IS NULL") }
        expectError(containing: "only supported for tags and params") { _ = try runs("attributes.status IS NULL") }
        expectError(containing: "Invalid clause") { _ = try runs("params.p IS 'x'") }
    }

    @Test("params and tags reject ordering comparators and lists")
    func keyValueRejections() {
        expectError(containing: "Invalid comparator '>'") { _ = try runs("params.p > 'x'") }
        expectError(containing: "Invalid comparator 'NOT LIKE'") { _ = try runs("tags.t NOT LIKE 'x'") }
        expectError(containing: "Invalid comparator 'RLIKE'") { _ = try runs("params.p RLIKE 'x'") }
        expectError(containing: "Expected a quoted string value for parameter") { _ = try runs("params.p IN ('a')") }
        expectError(containing: "Expected a quoted string value for tag") { _ = try runs("tags.t NOT IN ('a')") }
    }

    @Test("the examples from the brief parse as MLflow parses them")
    func briefExamples() throws {
        #expect(try runs("metrics.m1 > 0.5 and params.p1 = 'v3'") == [
            SearchComparison(entity: .metric, key: "m1", op: .greater, value: .number(0.5)),
            SearchComparison(entity: .param, key: "p1", op: .equal, value: .string("v3")),
        ])
        #expect(try runs("tags.`my key` = \"v\"") == [
            SearchComparison(entity: .tag, key: "my key", op: .equal, value: .string("v")),
        ])
        #expect(try runs("attributes.run_id IN ('a','b')") == [
            SearchComparison(entity: .attribute, key: "run_id", op: .in, value: .list(["a", "b"])),
        ])
        #expect(try runs("run_name = 'r1'") == [
            SearchComparison(entity: .attribute, key: "run_name", op: .equal, value: .string("r1")),
        ])
        #expect(try runs("metrics.m >= -1e-3") == [
            SearchComparison(entity: .metric, key: "m", op: .greaterOrEqual, value: .number(-0.001)),
        ])
        #expect(try runs("params.lr = \"0.01\"") == [
            SearchComparison(entity: .param, key: "lr", op: .equal, value: .string("0.01")),
        ])
        #expect(try runs("attributes.start_time > 1600000000000") == [
            SearchComparison(entity: .attribute, key: "start_time", op: .greater, value: .number(1_600_000_000_000)),
        ])
        #expect(try runs("datasets.name = 'ds'") == [
            SearchComparison(entity: .dataset, key: "name", op: .equal, value: .string("ds")),
        ])
    }

    @Test("the failing examples from the brief are INVALID_PARAMETER_VALUE")
    func briefFailures() {
        expectError(containing: "Invalid comparator '=!'") { _ = try runs("params.a =! 'x'") }
        expectError(containing: "Invalid attribute key 'nonsense'") { _ = try runs("nonsense ~~ 1") }
        expectError(containing: "Expected numeric value type for metric. Found 'abc'") {
            _ = try runs("metrics.m > 'abc'")
        }
        expectError(containing: "Invalid entity type 'foo'") { _ = try runs("foo.bar = 'x'") }
        // MLflow allows lists only for run_id, so IN on status fails even though IN is a string comparator.
        expectError(containing: "Only ['run_id'] attributes support comparison with a list") {
            _ = try runs("attributes.status IN ('FINISHED', 'FAILED')")
        }
    }

    @Test("entity aliases map to one entity", arguments: [
        ("metric", SearchEntity.metric), ("metrics", .metric),
        ("param", .param), ("params", .param), ("parameter", .param), ("parameters", .param),
        ("tag", .tag), ("tags", .tag),
        ("attribute", .attribute), ("attributes", .attribute), ("attr", .attribute), ("run", .attribute),
        ("dataset", .dataset), ("datasets", .dataset), ("`metrics`", .metric),
    ])
    func entityAliases(prefix: String, entity: SearchEntity) throws {
        let (key, value) = switch entity {
        case .metric: ("m", "1")
        case .attribute: ("status", "'FINISHED'")
        case .dataset: ("name", "'ds'")
        default: ("k", "'v'")
        }
        #expect(try runs("\(prefix).\(key) = \(value)").first?.entity == entity)
    }

    @Test("entity types are case-sensitive")
    func entityCase() {
        expectError(containing: "Invalid entity type 'Metrics'") { _ = try runs("Metrics.m > 1") }
        expectError(containing: "Invalid entity type '\"metrics\"'") { _ = try runs("\"metrics\".m > 1") }
    }

    @Test("string attributes take =, !=, LIKE, ILIKE and quoted values")
    func stringAttributes() throws {
        #expect(try runs("attributes.status LIKE 'FIN%'").first?.op == .like)
        #expect(try runs("user_id ILIKE '%bob%'").first?.op == .ilike)
        #expect(try runs("attr.artifact_uri != 's3://x'") == [
            SearchComparison(entity: .attribute, key: "artifact_uri", op: .notEqual, value: .string("s3://x")),
        ])
        #expect(try runs("run_id = 'abc'").first?.key == "run_id")
        expectError(containing: "Invalid comparator '>'") { _ = try runs("attributes.status > 'A'") }
        expectError(containing: "Parameter value is either not quoted") { _ = try runs("attributes.status = FINISHED") }
        expectError(containing: "Expected a quoted string value for attributes. Got value 5") {
            _ = try runs("attributes.status = 5")
        }
    }

    @Test("numeric attributes take numeric comparators and numbers")
    func numericAttributes() throws {
        #expect(try runs("attributes.end_time <= 5") == [
            SearchComparison(entity: .attribute, key: "end_time", op: .lessOrEqual, value: .number(5)),
        ])
        #expect(try runs("start_time != -5").first?.value == .number(-5))
        expectError(containing: "Expected numeric value type for numeric attribute: start_time") {
            _ = try runs("attributes.start_time > '1600'")
        }
        expectError(containing: "Invalid comparator 'LIKE'") { _ = try runs("attributes.start_time LIKE 5") }
    }

    @Test("attribute aliases become canonical names")
    func attributeAliases() throws {
        #expect(try runs("attributes.created > 5").first?.key == "start_time")
        #expect(try runs("Created > 5").first?.key == "start_time")
        #expect(try runs("attributes.`Run name` = 'x'").first?.key == "run_name")
        #expect(try runs("attributes.`run name` = 'x'").first?.key == "run_name")
        #expect(try runs("`Run Name` = 'x'").first?.key == "run_name")
        #expect(try runs("\"run_name\" = 'x'").first?.key == "run_name")
    }

    @Test("attributes MLflow does not search are rejected")
    func unknownAttributes() {
        for key in ["lifecycle_stage", "experiment_id", "m", "tags"] {
            expectError(containing: "Invalid attribute key '\(key)'") { _ = try runs("\(key) = 'x'") }
        }
    }

    @Test("IN and NOT IN lists for run_id")
    func runIDLists() throws {
        #expect(try runs("attributes.run_id NOT IN ('a', 'b')").first?.op == .notIn)
        #expect(try runs("run_id in ('a')").first == SearchComparison(
            entity: .attribute, key: "run_id", op: .in, value: .list(["a"])
        ))
        #expect(try runs("run_id IN (\"a\", \"b\", )").first?.value == .list(["a", "b"]))
        // Lists are read as Python literals: adjacent strings concatenate, escapes are decoded.
        #expect(try runs("run_id IN ('a' 'b')").first?.value == .list(["ab"]))
        #expect(try runs("run_id IN ('it''s', 'a\\'b')").first?.value == .list(["its", "a'b"]))
        expectError(containing: "but got empty list") { _ = try runs("run_id IN ()") }
        expectError(containing: "different type in list: ('a', 1)") { _ = try runs("run_id IN ('a', 1)") }
        expectError(containing: "ill-formed list") { _ = try runs("run_id IN ('a',, 'b')") }
        expectError(containing: "Invalid clause") { _ = try runs("run_id IN 'a'") }
        expectError(containing: "Invalid clause") { _ = try runs("run_id IN ('a', 'b'") }
        expectError(containing: "Invalid clause") { _ = try runs("run_id = ('a', 'b')") }
        expectError(containing: "Only ['run_id']") { _ = try runs("run_name NOT IN ('a')") }
        expectError(containing: "Expected numeric value type for numeric attribute") {
            _ = try runs("start_time IN ('a')")
        }
    }

    @Test("datasets: name, digest, context with string comparators and lists")
    func datasets() throws {
        #expect(try runs("datasets.digest IN ('a','b')") == [
            SearchComparison(entity: .dataset, key: "digest", op: .in, value: .list(["a", "b"])),
        ])
        #expect(try runs("dataset.context LIKE 'tr%'").first?.op == .like)
        #expect(try runs("datasets.name != \"x\"").first?.value == .string("x"))
        expectError(containing: "Invalid dataset key 'foo'") { _ = try runs("datasets.foo = 'ds'") }
        expectError(containing: "Invalid comparator '>'") { _ = try runs("dataset.name > 'x'") }
        expectError(containing: "Expected a quoted string value for dataset attributes") {
            _ = try runs("datasets.name = 1")
        }
    }

    @Test("keys may be quoted with backticks, double or single quotes, and may contain dots")
    func keyQuoting() throws {
        #expect(try runs("tags.\"my key\" = 'v'").first?.key == "my key")
        #expect(try runs("tags.'my key' = 'v'").first?.key == "my key")
        #expect(try runs("metrics.`m 1` > 1").first?.key == "m 1")
        #expect(try runs("tags.mlflow.runName = 'x'").first?.key == "mlflow.runName")
        #expect(try runs("params.`a.b` = 'x'").first?.key == "a.b")
        #expect(try runs("metrics.1m > 1").first?.key == "1m")
        #expect(try runs("tags.é = 'x'").first?.key == "é")
        // An unquoted key stops at characters that are not word characters.
        expectError(containing: "Invalid clause") { _ = try runs("tags.a-b = 'x'") }
    }

    @Test("string values must be quoted; escapes are kept as written")
    func valueQuoting() throws {
        #expect(try runs("params.p = ''").first?.value == .string(""))
        #expect(try runs("params.p = \"\"").first?.value == .string(""))
        #expect(try runs("params.p = 'it''s'").first?.value == .string("it''s"))
        #expect(try runs("params.p = 'it\\'s'").first?.value == .string("it\\'s"))
        #expect(try runs("tags.t LIKE \"%a%\"").first?.value == .string("%a%"))
        expectError(containing: "Parameter value is either not quoted") { _ = try runs("params.lr = lr") }
        expectError(containing: "Parameter value is either not quoted") { _ = try runs("params.p = `x`") }
        expectError(containing: "Expected a quoted string value for parameter") { _ = try runs("params.lr = 0.01") }
        expectError(containing: "Got value NULL") { _ = try runs("params.p = NULL") }
        expectError(containing: "Invalid clause") { _ = try runs("params.p = 'x") }
    }

    @Test("number literals follow SQL rules", arguments: [
        ("1", 1.0), ("-1", -1.0), (".5", 0.5), ("-.5", -0.5), ("5.", 5.0), ("1E5", 100_000.0),
        ("1.5e10", 1.5e10), ("-1e-3", -0.001),
    ])
    func numbers(literal: String, value: Double) throws {
        #expect(try runs("metrics.m = \(literal)").first?.value == .number(value))
    }

    @Test("malformed numbers are rejected")
    func badNumbers() {
        expectError(containing: "Invalid clause") { _ = try runs("metrics.m >= +5") }
        expectError(containing: "Found 1a") { _ = try runs("metrics.m = 1a") }
        expectError(containing: "Found 1_000") { _ = try runs("metrics.m = 1_000") }
        expectError(containing: "Found \"1\"") { _ = try runs("metrics.m > \"1\"") }
    }

    @Test("AND joins clauses in any case; OR, parentheses and extra statements fail")
    func conjunctions() throws {
        #expect(try runs("params.p = 'x' AND metrics.m > 1 And tags.t = 'y'").count == 3)
        #expect(try runs("params.p='x'AND metrics.m>1").count == 2)
        // sqlparse tolerates stray ANDs, and so does MLflow.
        #expect(try runs("AND metrics.m > 1 AND AND params.p = 'x' and").count == 2)
        expectError(containing: "Invalid clause(s) in filter string: 'or'") {
            _ = try runs("metrics.m1 > 0.5 or params.p1 = 'v3'")
        }
        expectError(containing: "Invalid clause") { _ = try runs("(metrics.m1 > 0.5)") }
        expectError(containing: "Invalid clause") { _ = try runs("metrics.m1 = 1 = 2") }
        expectError(containing: "Invalid clause(s) in filter string: ';'") { _ = try runs("params.p = 'x';") }
        expectError(containing: "multiple expression") { _ = try runs("metrics.m > 1; params.p = 'x'") }
        expectError(containing: "Invalid clause") { _ = try runs("params.p = 'x' -- comment") }
    }

    @Test("errors keep MLflow's message and say where the problem is")
    func errorPositions() {
        // A syntax error points at the offending token.
        expectError(containing: "Invalid clause(s) in filter string: 'foo' (at character 19)") {
            _ = try runs("metrics.m > 1 AND foo")
        }
        // A clause that parses but is not valid points at the clause.
        expectError(containing: "Expected numeric value type for metric. Found 'a' (in the clause at character 19)") {
            _ = try runs("metrics.m > 1 AND metrics.x = 'a'")
        }
        expectError(containing: "(in the clause at character 1)") { _ = try runs("params.p > 'a'") }
        expectError(containing: "(at character 15)") { _ = try runs("metrics.m > 1 OR params.p = 'a'") }
    }
}

// MARK: - Experiment filters

@Suite("Experiment search filters")
struct ExperimentFilterTests {
    @Test("the brief's example: name LIKE plus a tag comparison")
    func example() throws {
        #expect(try experiments("name LIKE 'x%' AND tags.stage != 'prod'") == [
            SearchComparison(entity: .attribute, key: "name", op: .like, value: .string("x%")),
            SearchComparison(entity: .tag, key: "stage", op: .notEqual, value: .string("prod")),
        ])
        #expect(try experiments(nil).isEmpty)
        #expect(try experiments(" ").isEmpty)
    }

    @Test("only attribute, tag and tags are entity types")
    func entities() throws {
        #expect(try experiments("attribute.name = 'x'").first?.key == "name")
        #expect(try experiments("tag.stage = 'x'").first?.entity == .tag)
        #expect(try experiments("tags.`a b` = 'x'").first?.key == "a b")
        for prefix in ["attributes", "attr", "params", "metrics", "datasets", "`tags`"] {
            expectError(containing: "Invalid entity type '\(prefix)'") { _ = try experiments("\(prefix).name = 'x'") }
        }
        expectError(containing: "Invalid attribute key 'run_name'") { _ = try experiments("run_name = 'x'") }
        expectError(containing: "Invalid attribute key 'lifecycle_stage'") {
            _ = try experiments("lifecycle_stage = 'active'")
        }
    }

    @Test("name takes =, !=, LIKE, ILIKE, upper case only")
    func name() throws {
        #expect(try experiments("name ILIKE 'x%'").first?.op == .ilike)
        #expect(try experiments("name != 'x'").first?.op == .notEqual)
        expectError(containing: "Invalid comparator '>'") { _ = try experiments("name > 'x'") }
        // MLflow does not upper-case experiment comparators.
        expectError(containing: "Invalid comparator 'like'") { _ = try experiments("name like 'x'") }
        expectError(containing: "Only ['experiment_id']") { _ = try experiments("name IN ('a')") }
        expectError(containing: "Parameter value is either not quoted") { _ = try experiments("name = x") }
        expectError(containing: "only supported for tags") { _ = try experiments("name IS NULL") }
    }

    @Test("experiment_id takes =, !=, IN, NOT IN with integer strings")
    func experimentID() throws {
        #expect(try experiments("experiment_id IN ('1', '2')") == [
            SearchComparison(entity: .attribute, key: "experiment_id", op: .in, value: .list(["1", "2"])),
        ])
        #expect(try experiments("experiment_id = ' 7 '").first?.value == .string("7"))
        #expect(try experiments("experiment_id NOT IN ('1')").first?.op == .notIn)
        expectError(containing: "Invalid comparator for experiment_id: LIKE") {
            _ = try experiments("experiment_id LIKE '1'")
        }
        expectError(containing: "Invalid comparator for experiment_id: in") {
            _ = try experiments("experiment_id in ('1')")
        }
        expectError(containing: "Invalid experiment ID 'abc'") { _ = try experiments("experiment_id = 'abc'") }
        expectError(containing: "Expected a quoted string value for attributes") {
            _ = try experiments("experiment_id = 1")
        }
    }

    @Test("creation_time and last_update_time take integers and numeric comparators")
    func timestamps() throws {
        #expect(try experiments("creation_time > 5") == [
            SearchComparison(entity: .attribute, key: "creation_time", op: .greater, value: .number(5)),
        ])
        #expect(try experiments("last_update_time <= -5").first?.value == .number(-5))
        expectError(containing: "Invalid value for numeric attribute 'creation_time'") {
            _ = try experiments("creation_time > 5.5")
        }
        expectError(containing: "Expected numeric value type for numeric attribute: creation_time") {
            _ = try experiments("creation_time > '5'")
        }
        expectError(containing: "Invalid comparator 'LIKE'") { _ = try experiments("creation_time LIKE 5") }
    }

    @Test("tags take =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL")
    func tags() throws {
        #expect(try experiments("tags.stage IS NULL").first?.op == .isNull)
        #expect(try experiments("tags.stage IS NOT NULL").first?.op == .isNotNull)
        #expect(try experiments("tags.t ILIKE '%x%'").first?.op == .ilike)
        expectError(containing: "Invalid comparator for tag: >") { _ = try experiments("tags.stage > 'x'") }
        expectError(containing: "Invalid comparator for tag: like") { _ = try experiments("tags.t like 'x'") }
        expectError(containing: "Expected a quoted string value for tag") { _ = try experiments("tags.t IN ('a')") }
        expectError(containing: "Invalid clause(s) in filter string: 'or'") {
            _ = try experiments("name = 'x' or name = 'y'")
        }
    }
}

// MARK: - Order by

@Suite("Order-by clauses")
struct OrderByTests {
    @Test("run order-by items with entities, quoting and directions")
    func runItems() throws {
        let clauses = try OrderByClause.parseRunOrderBy([
            "metrics.m2 DESC", "attributes.start_time", "params.`a b` ASC", "tags.t desc", "run_name Asc",
        ])
        #expect(clauses == [
            OrderByClause(entity: .metric, key: "m2", ascending: false),
            OrderByClause(entity: .attribute, key: "start_time", ascending: true),
            OrderByClause(entity: .param, key: "a b", ascending: true),
            OrderByClause(entity: .tag, key: "t", ascending: false),
            OrderByClause(entity: .attribute, key: "run_name", ascending: true),
        ])
        #expect(try OrderByClause.parseRunOrderBy([]).isEmpty)
        #expect(try OrderByClause.parseRunOrderBy(["start_time DESC"]) == [
            OrderByClause(entity: .attribute, key: "start_time", ascending: false),
        ])
        #expect(try OrderByClause.parseRunOrderBy(["created DESC"]).first?.key == "start_time")
        #expect(try OrderByClause.parseRunOrderBy(["params.\"a b\""]).first?.key == "a b")
        #expect(try OrderByClause.parseRunOrderBy(["metrics.mlflow.x DESC"]).first?.key == "mlflow.x")
        #expect(try OrderByClause.parseRunOrderBy(["`metrics`.m"]).first?.entity == .metric)
    }

    @Test("every orderable run attribute", arguments: [
        "run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time",
    ])
    func runAttributes(key: String) throws {
        #expect(try OrderByClause.parseRunOrderBy([key]) == [OrderByClause(entity: .attribute, key: key)])
    }

    @Test("invalid run order-by items")
    func runErrors() {
        let parse = { (item: String) throws in _ = try OrderByClause.parseRunOrderBy([item]) }
        expectError(containing: "Invalid identifier type 'dataset'") { try parse("datasets.name") }
        expectError(containing: "Invalid entity type 'foo'") { try parse("foo.bar") }
        expectError(containing: "Invalid attribute key 'experiment_id'") { try parse("experiment_id") }
        expectError(containing: "Invalid attribute key 'Run name'") { try parse("`Run name`") }
        expectError(containing: "Invalid ordering key in order_by clause 'metrics.m2 UP'.") {
            try parse("metrics.m2 UP")
        }
        for item in ["metrics.m2 DESC ASC", "metrics.m2 DESC NULLS LAST", "", " metrics.m2", "metrics.m2 DESC;",
                     "metrics.m-2", "metrics.m2,metrics.m3", "metrics.m = 1"] {
            expectError(containing: "Invalid order_by clause '\(item)'. Could not be parsed.") { try parse(item) }
        }
    }

    @Test("duplicate run order-by fields are an internal error, as in MLflow")
    func duplicates() throws {
        expectError(.internalError, containing: "`order_by` contains duplicate fields") {
            _ = try OrderByClause.parseRunOrderBy(["start_time", "created DESC"])
        }
        expectError(.internalError) { _ = try OrderByClause.parseRunOrderBy(["metrics.m", "metrics.m DESC"]) }
        #expect(try OrderByClause.parseRunOrderBy(["metrics.m", "params.m"]).count == 2)
    }

    @Test("experiment order-by items")
    func experimentItems() throws {
        #expect(try OrderByClause.parseExperimentOrderBy([
            "name", "experiment_id DESC", "creation_time desc", "last_update_time ASC", "attribute.name asc",
        ]) == [
            OrderByClause(entity: .attribute, key: "name", ascending: true),
            OrderByClause(entity: .attribute, key: "experiment_id", ascending: false),
            OrderByClause(entity: .attribute, key: "creation_time", ascending: false),
            OrderByClause(entity: .attribute, key: "last_update_time", ascending: true),
            OrderByClause(entity: .attribute, key: "name", ascending: true),
        ])
        #expect(try OrderByClause.parseExperimentOrderBy(["`name` DESC", "\"name\""]).map(\.key) == ["name", "name"])
        let parse = { (item: String) throws in _ = try OrderByClause.parseExperimentOrderBy([item]) }
        expectError(containing: "Invalid order_by entity: tag") { try parse("tags.x") }
        expectError(containing: "Invalid entity type 'attributes'") { try parse("attributes.name") }
        expectError(containing: "Invalid attribute key 'lifecycle_stage'") { try parse("lifecycle_stage") }
        expectError(containing: "Could not be parsed") { try parse("name DESC DESC") }
    }
}

// MARK: - Page tokens

@Suite("Page tokens")
struct PageTokenTests {
    @Test("tokens are base64 of MLflow's JSON, byte for byte")
    func encoding() {
        #expect(PageToken.encode(offset: 10) == "eyJvZmZzZXQiOiAxMH0=")  // {"offset": 10}
        #expect(PageToken.encode(offset: 1000) == "eyJvZmZzZXQiOiAxMDAwfQ==")
    }

    @Test("encoded offsets decode to themselves", arguments: [1, 2, 10, 999, 123_456_789])
    func roundTrip(offset: Int) throws {
        #expect(try PageToken.decodeOffset(PageToken.encode(offset: offset)) == offset)
    }

    @Test("a missing token starts at the beginning")
    func missing() throws {
        #expect(try PageToken.decodeOffset(nil) == 0)
        #expect(try PageToken.decodeOffset("") == 0)
    }

    @Test("decoding is as lenient as Python's")
    func lenient() throws {
        #expect(try PageToken.decodeOffset("eyJvZmZzZXQiOiAiNSJ9") == 5)  // {"offset": "5"}
        #expect(try PageToken.decodeOffset("eyJvZmZzZXQiOiAxLjV9") == 1)  // {"offset": 1.5}
        #expect(try PageToken.decodeOffset("e yJvZmZzZXQiOiAxMH0=") == 10)  // stray characters skipped
        #expect(try PageToken.decodeOffset("eyJvZmZzZXQiOiAxMH0=====") == 10)  // extra padding
        #expect(try PageToken.decodeOffset("eyJvZmZzZXQiOiAtNX0=") == 0)  // {"offset": -5}
    }

    @Test("malformed tokens are INVALID_PARAMETER_VALUE")
    func malformed() {
        expectError(containing: "could not base64-decode") { _ = try PageToken.decodeOffset("abc") }
        expectError(containing: "could not base64-decode") { _ = try PageToken.decodeOffset("eyJvZmZzZXQiOiAxMH0") }
        expectError(containing: "decoded value=b''") { _ = try PageToken.decodeOffset("!!!!") }
        expectError(containing: "decoded value=b'hello'") { _ = try PageToken.decodeOffset("aGVsbG8=") }
        expectError(containing: "parsed value=") { _ = try PageToken.decodeOffset("eyJvZmZzZXQiOiAwfQ==") }  // 0
        expectError(containing: "parsed value=") { _ = try PageToken.decodeOffset("eyJmb28iOiAxfQ==") }  // no offset
        expectError(containing: "parsed value=") { _ = try PageToken.decodeOffset("WzEsMl0=") }  // [1,2]
        expectError(containing: "not stringable x") { _ = try PageToken.decodeOffset("eyJvZmZzZXQiOiAieCJ9") }
    }
}
