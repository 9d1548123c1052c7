import Foundation
import SwiftflowCore
import Testing

// Expected values below were checked against MLflow 3.17.2 (`parse_filter_string` in
// `search_logged_model_utils.py`, `SearchLoggedModelsPaginationToken`, and its server's answers).

/// A search over experiment "1" with `filter` and `orderBy`, validated as the server does.
private func search(
    _ filter: String? = nil, orderBy: [LoggedModelOrderRequest] = [], datasets: [(name: String?, digest: String?)] = [],
    maxResults: Int64? = nil, pageToken: String? = nil, experimentIds: [String] = ["1"]
) throws -> LoggedModelSearch {
    try LoggedModelSearch(
        experimentIds: experimentIds, filter: filter, datasets: datasets, maxResults: maxResults, orderBy: orderBy,
        pageToken: pageToken)
}

/// The error `body` throws (a failed expectation if it throws none).
private func thrown(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> SwiftflowError? {
    #expect(throws: SwiftflowError.self, sourceLocation: sourceLocation) { try body() }
}

@Suite("Logged model search language")
struct LoggedModelSearchTests {
    @Test("comparisons on attributes, metrics, params and tags, joined by AND or nothing at all")
    func comparisons() throws {
        let parsed = try search(
            "name = 'a' and metrics.acc >= 0.5 AND params.lr = 0.01 tags.`mlflow.source.name` LIKE 'x%'").comparisons
        #expect(parsed == [
            LoggedModelComparison(subject: .attribute(.name), op: .equal, value: .string("a")),
            LoggedModelComparison(subject: .metric("acc"), op: .greaterOrEqual, value: .number(0.5)),
            LoggedModelComparison(subject: .param("lr"), op: .equal, value: .string("0.01")),
            LoggedModelComparison(subject: .tag("mlflow.source.name"), op: .like, value: .string("x%")),
        ])
    }

    @Test("values are unquoted as MLflow does it: single quotes stripped, double quotes kept")
    func unquoting() throws {
        #expect(try search("name = \"a\"").comparisons.first?.value == .string("\"a\""))
        #expect(try search("name = 'it''s'").comparisons.first?.value == .string("it''s"))
        #expect(try search("name = '''x'''").comparisons.first?.value == .string("x"))
        #expect(try search("name = bare").comparisons.first?.value == .string("bare"))
        #expect(try search("tags.t = ''").comparisons.first?.value == .string(""))
    }

    @Test("aliases and the timestamps compare as numbers; status compares as text on its number")
    func attributes() throws {
        #expect(try search("creation_time > 5").comparisons
            == [LoggedModelComparison(subject: .attribute(.creationTimestamp), op: .greater, value: .number(5))])
        #expect(try search("last_updated_timestamp < 1e3").comparisons
            == [LoggedModelComparison(subject: .attribute(.lastUpdatedTimestamp), op: .less, value: .number(1000))])
        #expect(try search("status = 2").comparisons.first?.value == .string("2"))
        #expect(try search("`name` = 'x'").comparisons.first?.subject == .attribute(.name))
        #expect(try search("attributes.model_type = 'agent'").comparisons.first?.subject == .attribute(.modelType))
    }

    @Test("IN and NOT IN take Python literal lists")
    func lists() throws {
        #expect(try search("name IN ('a','b')").comparisons.first
            == LoggedModelComparison(subject: .attribute(.name), op: .in, value: .list(["a", "b"])))
        #expect(try search("name not in ('a')").comparisons.first
            == LoggedModelComparison(subject: .attribute(.name), op: .notIn, value: .list(["a"])))
        #expect(try search("name IN ()").comparisons.first?.value == .list([]))
        #expect(try search("name IN (\"a\", 1)").comparisons.first?.value == .list(["a", "1"]))
    }

    @Test("bad filters fail with MLflow's messages", arguments: [
        ("name = 'a' OR name = 'b'",
         "Invalid filter string: \"name = 'a' OR name = 'b'\". Expected a list of comparisons separated by 'AND' "
            + "(e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."),
        ("  ", "Invalid filter string: '  '. Expected a single SQL expression."),
        ("name = 'x'; name = 'y'", "Invalid filter string: \"name = 'x'; name = 'y'\". Expected a single SQL expression."),
        ("name IS NULL", "Invalid comparison: nameIS NULL. Expected a comparison with 3 tokens."),
        ("tag.t = 'x'", "Invalid entity type: 'tag'. Expected one of ['attributes', 'metrics', 'params', 'tags']."),
        ("metrics.x LIKE 'a'",
         "Invalid comparison operator for metrics.x: 'LIKE'. Expected one of ('<', '<=', '>', '>=', '=', '!=')."),
        ("status > 1",
         "Invalid comparison operator for attributes.status: '>'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')."),
        ("Metrics.x > 1",
         "Invalid comparison operator for attributes.Metrics.x: '>'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')."),
        ("name = 'x';",
         "Invalid filter string: \"name = 'x';\". Expected a list of comparisons separated by 'AND' "
            + "(e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."),
    ])
    func badFilters(filter: String, message: String) {
        let error = thrown { _ = try search(filter) }
        #expect(error?.code == .invalidParameterValue)
        #expect(error?.message == message)
    }

    @Test("where MLflow's server fails with a 500, the request is refused as invalid instead")
    func serverErrorsBecomeInvalidParameters() {
        #expect(thrown { _ = try search("foo = 'x'") }?.message == "Invalid attribute key 'foo' specified.")
        #expect(thrown { _ = try search("metrics.acc > abc") }?.message == "could not convert string to float: 'abc'")
    }

    @Test("order_by: attributes (with aliases) and metrics, nothing else")
    func orderBy() throws {
        let order = try search(orderBy: [
            LoggedModelOrderRequest(fieldName: "creation_time", ascending: false),
            LoggedModelOrderRequest(fieldName: "metrics.acc", datasetName: "ds", datasetDigest: ""),
        ]).orderBy
        #expect(order == [
            LoggedModelOrder(field: .attribute(.creationTimestamp), ascending: false),
            LoggedModelOrder(field: .metric("acc"), ascending: true, datasetName: "ds", datasetDigest: nil),
        ])
        #expect(thrown { _ = try search(orderBy: [LoggedModelOrderRequest(fieldName: "foo")]) }?.message
            == "Invalid order by field name: foo")
        #expect(thrown { _ = try search(orderBy: [LoggedModelOrderRequest(fieldName: "params.a")]) }?.message
            == "Invalid order by field name: params.a. Only metrics are supported.")
    }

    @Test("max_results: 50 when absent, 100 when 0; datasets need a name")
    func sizesAndDatasets() throws {
        #expect(try search().maxResults == 50)
        #expect(try search(maxResults: 0).maxResults == 100)
        #expect(try search(maxResults: 7).maxResults == 7)
        #expect(thrown { _ = try search(datasets: [(name: nil, digest: "d")]) }?.message
            == "`dataset_name` in the `datasets` clause must be specified.")
        #expect(try search(datasets: [(name: "ds", digest: "")]).datasets == [LoggedModelDatasetFilter(name: "ds", digest: nil)])
    }

    @Test("page tokens are byte for byte MLflow's and only resume the search they were made for")
    func pageTokens() throws {
        let plain = try search()
        // Taken from MLflow 3.17.2's server for this search.
        #expect(plain.pageToken(offset: 1)
            == "eyJleHBlcmltZW50X2lkcyI6IFsiMSJdLCAiZmlsdGVyX3N0cmluZyI6IG51bGwsICJvcmRlcl9ieSI6IG51bGwsICJvZmZzZXQiOiAxfQ==")
        let ordered = try search(orderBy: [LoggedModelOrderRequest(fieldName: "metrics.acc", datasetName: "ds")])
        #expect(ordered.pageToken(offset: 1)
            == "eyJleHBlcmltZW50X2lkcyI6IFsiMSJdLCAiZmlsdGVyX3N0cmluZyI6IG51bGwsICJvcmRlcl9ieSI6IFt7ImZpZWxkX25hbWUiOiAibWV0"
                + "cmljcy5hY2MiLCAiYXNjZW5kaW5nIjogdHJ1ZSwgImRhdGFzZXRfbmFtZSI6ICJkcyIsICJkYXRhc2V0X2RpZ2VzdCI6IG51bGx9XSwgIm9m"
                + "ZnNldCI6IDF9")
        let token = plain.pageToken(offset: 1)
        #expect(try search(pageToken: token).offset == 1)
        #expect(thrown { _ = try search("name = 'x'", pageToken: token) }?.message
            == "Filter string in the page token does not match the requested filter string. Expected: name = 'x'. Found: None")
        #expect(thrown { _ = try search(pageToken: token, experimentIds: ["0"]) }?.message
            == "Experiment IDs in the page token do not match the requested experiment IDs. Expected: ['0']. Found: ['1']")
        #expect(thrown { _ = try search(orderBy: [LoggedModelOrderRequest(fieldName: "name")], pageToken: token) }?.message
            == "Order by in the page token does not match the requested order by. Expected: [{'field_name': 'name', "
                + "'ascending': True, 'dataset_name': None, 'dataset_digest': None}]. Found: None")
        #expect(thrown { _ = try search(pageToken: "bm90IGpzb24=") }?.code == .invalidParameterValue)
    }

    @Test("logged model names refuse / : . % \" '")
    func names() throws {
        try Validation.validateLoggedModelName(nil)
        try Validation.validateLoggedModelName("my-model_1")
        let error = thrown { try Validation.validateLoggedModelName("a/b") }
        #expect(error?.message
            == "Invalid model name ('a/b') provided. Model name must be a non-empty string and cannot contain the "
                + "following characters: ('/', ':', '.', '%', '\"', \"'\")")
        #expect(thrown { try Validation.validateLoggedModelName("") }?.code == .invalidParameterValue)
    }

    @Test("metric links need both dataset name and digest or neither")
    func metricLinks() throws {
        #expect(try MetricLink.fromRequest(modelId: "", datasetName: nil, datasetDigest: "") == nil)
        #expect(try MetricLink.fromRequest(modelId: "m-1", datasetName: nil, datasetDigest: nil)?.modelId == "m-1")
        #expect(thrown { _ = try MetricLink.fromRequest(modelId: nil, datasetName: "ds", datasetDigest: nil) }?.message
            == "Both dataset_name and dataset_digest must be provided if one is provided")
    }

    @Test("a logged model is written as MLflow's server writes it")
    func json() {
        let model = LoggedModel(
            modelId: "m-1", experimentId: "1", name: "mymodel", artifactLocation: "/a/1/models/m-1/artifacts",
            creationTimestamp: 10, lastUpdatedTimestamp: 11, status: .pending, modelType: "", sourceRunId: "",
            tags: [KeyValue("t", "v")],
            metrics: [Metric(key: "acc", value: 0.5, timestamp: 100, step: 1,
                             link: MetricLink(modelId: "m-1", datasetName: "ds", datasetDigest: "dg", runId: "r"))])
        let expected = """
            {
              "info": {
                "model_id": "m-1",
                "experiment_id": "1",
                "name": "mymodel",
                "creation_timestamp_ms": 10,
                "last_updated_timestamp_ms": 11,
                "artifact_uri": "/a/1/models/m-1/artifacts",
                "status": "LOGGED_MODEL_PENDING",
                "model_type": "",
                "source_run_id": "",
                "tags": [
                  {
                    "key": "t",
                    "value": "v"
                  }
                ]
              },
              "data": {
                "metrics": [
                  {
                    "key": "acc",
                    "value": 0.5,
                    "timestamp": 100,
                    "step": 1,
                    "dataset_name": "ds",
                    "dataset_digest": "dg",
                    "model_id": "m-1",
                    "run_id": "r"
                  }
                ]
              }
            }
            """
        #expect(String(decoding: JSONWriter.encode { $0.loggedModel(model) }, as: UTF8.self) == expected)
        let bare = LoggedModel(
            modelId: "m-2", experimentId: "1", name: "n", artifactLocation: "x", creationTimestamp: 1,
            lastUpdatedTimestamp: 1, status: .ready)
        let text = String(decoding: JSONWriter.encode(style: .line) { $0.loggedModel(bare) }, as: UTF8.self)
        #expect(text.hasSuffix(#""status": "LOGGED_MODEL_READY"}, "data": {}}"#))
    }
}
