import SwiftflowCore
import SwiftflowStore
import Testing

/// The compiled SQL, checked through the store: each comparator on each entity, MLflow's NULL and
/// NaN ordering, and page tokens that survive new runs.
@Suite("Run search SQL")
struct SearchCompilerTests {
    /// Five runs named r0...r4 (start times 100...500):
    ///
    /// | run | metric m | param p     | tag t | dataset (context)   | status   |
    /// |-----|----------|-------------|-------|---------------------|----------|
    /// | r0  | 1        | apple       | Red   | train/d1 (training) | FINISHED |
    /// | r1  | 2.5      | banana      | red   | eval/d2 (eval)      | RUNNING  |
    /// | r2  | NaN      | Apple pie   | blue  |                     | RUNNING  |
    /// | r3  | -1       |             |       |                     | FAILED   |
    /// | r4  |          | cherry      | green |                     | RUNNING  |
    func withFixture(
        _ backend: Backend, _ body: (SQLTrackingStore, String, [String: String]) async throws -> Void
    ) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "fixture", artifactLocation: nil, tags: [])
            var ids: [String: String] = [:]
            let metrics: [Double?] = [1, 2.5, .nan, -1, nil]
            let params: [String?] = ["apple", "banana", "Apple pie", nil, "cherry"]
            let tags: [String?] = ["Red", "red", "blue", nil, "green"]
            for index in 0..<5 {
                let run = try await store.createRun(
                    experimentId: experiment, userId: "u\(index % 2)", startTime: Int64(100 * (index + 1)),
                    runName: "r\(index)", tags: [])
                let id = run.info.runId
                ids["r\(index)"] = id
                try await store.logBatch(
                    runId: id,
                    metrics: metrics[index].map { [Metric(key: "m", value: $0, timestamp: 1, step: 0)] } ?? [],
                    params: params[index].map { [Param("p", $0)] } ?? [],
                    tags: tags[index].map { [RunTag("t", $0)] } ?? [])
            }
            _ = try await store.updateRun(id: ids["r0"]!, status: .finished, endTime: 1_000, runName: nil)
            _ = try await store.updateRun(id: ids["r3"]!, status: .failed, endTime: 900, runName: nil)
            for (run, name, digest, context) in [("r0", "train", "d1", "training"), ("r1", "eval", "d2", "eval")] {
                let dataset = Dataset(name: name, digest: digest, sourceType: "local", source: "{}", schema: nil, profile: nil)
                try await store.logInputs(
                    runId: ids[run]!, inputs: [DatasetInput(dataset: dataset, tags: [KeyValue("mlflow.data.context", context)])])
            }
            try await body(store, experiment, ids)
        }
    }

    /// Run names matching `filter`, in the store's order.
    func names(
        _ store: SQLTrackingStore, _ experiment: String, filter: String = "", orderBy: [String] = []
    ) async throws -> [String] {
        let page = try await store.searchRuns(
            experimentIds: [experiment], filter: try SearchFilter.parseRunFilter(filter), viewType: .activeOnly,
            maxResults: 100, orderBy: try OrderByClause.parseRunOrderBy(orderBy), pageToken: nil)
        return page.items.map(\.info.runName)
    }

    /// Checks that each filter matches exactly the named runs.
    func expectMatches(
        _ cases: [(filter: String, expected: [String])], _ store: SQLTrackingStore, _ experiment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for (filter, expected) in cases {
            let got = try await names(store, experiment, filter: filter)
            #expect(got.sorted() == expected, "\(filter)", sourceLocation: sourceLocation)
        }
    }

    @Test("metrics: every numeric comparator; NaN matches only !=, absent never matches", arguments: Backend.all)
    func metricComparators(backend: Backend) async throws {
        try await withFixture(backend) { store, experiment, _ in
            try await expectMatches([
                ("metrics.m = 1", ["r0"]), ("metrics.m != 1", ["r1", "r2", "r3"]), ("metrics.m > 1", ["r1"]),
                ("metrics.m >= 1", ["r0", "r1"]), ("metrics.m < 1", ["r3"]), ("metrics.m <= 1", ["r0", "r3"]),
                ("metrics.m > -5 AND metrics.m < 2", ["r0", "r3"]),
            ], store, experiment)
        }
    }

    @Test("params and tags: =, !=, LIKE (case-sensitive), ILIKE, IS NULL, IS NOT NULL", arguments: Backend.all)
    func stringComparators(backend: Backend) async throws {
        try await withFixture(backend) { store, experiment, _ in
            try await expectMatches([
                ("params.p = 'apple'", ["r0"]), ("params.p != 'apple'", ["r1", "r2", "r4"]),
                ("params.p LIKE 'a%'", ["r0"]), ("params.p ILIKE 'a%'", ["r0", "r2"]),
                ("params.p LIKE '%an%'", ["r1"]), ("params.p IS NULL", ["r3"]),
                ("params.p IS NOT NULL", ["r0", "r1", "r2", "r4"]),
                ("tags.t = 'red'", ["r1"]), ("tags.t != 'red'", ["r0", "r2", "r4"]), ("tags.t LIKE 'R%'", ["r0"]),
                ("tags.t ILIKE 'r%'", ["r0", "r1"]), ("tags.t IS NULL", ["r3"]),
                ("tags.t IS NOT NULL", ["r0", "r1", "r2", "r4"]),
                ("params.p ILIKE '%a%' AND tags.t ILIKE 'red'", ["r0", "r1"]),
            ], store, experiment)
        }
    }

    @Test("LIKE has no escape character: a backslash is literal, as on MLflow's SQLite store", arguments: Backend.all)
    func likeWithoutEscape(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "like", artifactLocation: nil, tags: [])
            for (name, value) in [("underscore", "a_b"), ("backslash", #"a\b"#)] {
                let run = try await store.createRun(experimentId: experiment, userId: "u", startTime: 1, runName: name, tags: [])
                try await store.logBatch(runId: run.info.runId, metrics: [], params: [Param("p", value)], tags: [])
            }
            #expect(try await names(store, experiment, filter: #"params.p LIKE '%\_%'"#) == ["backslash"])
            #expect(try await names(store, experiment, filter: #"params.p ILIKE '%\B'"#) == ["backslash"])
            #expect(try await names(store, experiment, filter: "params.p LIKE '%_%'").sorted() == ["backslash", "underscore"])
        }
    }

    @Test("attributes: strings, numbers and run_id lists", arguments: Backend.all)
    func attributeComparators(backend: Backend) async throws {
        try await withFixture(backend) { store, experiment, ids in
            try await expectMatches([
                ("attributes.run_name = 'r2'", ["r2"]), ("run_name != 'r2'", ["r0", "r1", "r3", "r4"]),
                ("run_name LIKE 'r%'", ["r0", "r1", "r2", "r3", "r4"]), ("run_name ILIKE 'R1'", ["r1"]),
                ("attributes.status = 'RUNNING'", ["r1", "r2", "r4"]), ("status != 'RUNNING'", ["r0", "r3"]),
                ("attributes.start_time > 300", ["r3", "r4"]), ("start_time >= 300", ["r2", "r3", "r4"]),
                ("start_time < 200", ["r0"]), ("start_time <= 200", ["r0", "r1"]), ("start_time = 500", ["r4"]),
                ("start_time != 500", ["r0", "r1", "r2", "r3"]), ("end_time > 950", ["r0"]),
                ("user_id = 'u1'", ["r1", "r3"]),
                ("attributes.run_id IN ('\(ids["r0"]!)', '\(ids["r4"]!)')", ["r0", "r4"]),
                ("attributes.run_id NOT IN ('\(ids["r0"]!)', '\(ids["r4"]!)')", ["r1", "r2", "r3"]),
                ("attributes.run_id = '\(ids["r3"]!)'", ["r3"]),
            ], store, experiment)
        }
    }

    @Test("datasets: name, digest and context with =, !=, LIKE, ILIKE, IN and NOT IN", arguments: Backend.all)
    func datasetComparators(backend: Backend) async throws {
        try await withFixture(backend) { store, experiment, _ in
            try await expectMatches([
                ("datasets.name = 'train'", ["r0"]), ("datasets.name != 'train'", ["r1"]),
                ("datasets.digest IN ('d1', 'd2')", ["r0", "r1"]), ("datasets.digest NOT IN ('d1')", ["r1"]),
                ("datasets.context = 'eval'", ["r1"]), ("datasets.context LIKE 'train%'", ["r0"]),
                ("datasets.name ILIKE 'EVAL'", ["r1"]),
            ], store, experiment)
        }
    }

    @Test("ordering: values first, then NaN, then absent, in both directions; ties by start_time DESC", arguments: Backend.all)
    func nullAndNaNOrdering(backend: Backend) async throws {
        try await withFixture(backend) { store, experiment, _ in
            for (order, expected) in [
                (["metrics.m ASC"], ["r3", "r0", "r1", "r2", "r4"]),
                (["metrics.m DESC"], ["r1", "r0", "r3", "r2", "r4"]),
                (["params.p ASC"], ["r2", "r0", "r1", "r4", "r3"]),  // binary collation: 'A' < 'a'
                (["params.p DESC"], ["r4", "r1", "r0", "r2", "r3"]),
                (["tags.t"], ["r0", "r2", "r4", "r1", "r3"]),
                (["end_time DESC"], ["r0", "r3", "r4", "r2", "r1"]),  // NULL end times last, then start_time DESC
                (["end_time ASC"], ["r3", "r0", "r4", "r2", "r1"]),
                ([], ["r4", "r3", "r2", "r1", "r0"]),
                (["status", "run_name DESC"], ["r3", "r0", "r4", "r2", "r1"]),
            ] {
                let got = try await names(store, experiment, orderBy: order)
                #expect(got == expected, "\(order)")
            }
        }
    }

    @Test("pages resume after the last row: runs created between pages are neither repeated nor skipped", arguments: Backend.all)
    func pagesSurviveNewRuns(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "pages", artifactLocation: nil, tags: [])
            var original: Set<String> = []
            for index in 0..<30 {
                let run = try await store.createRun(
                    experimentId: experiment, userId: "", startTime: Int64(1_000 + index % 7), runName: "o\(index)", tags: [])
                try await store.logBatch(
                    runId: run.info.runId, metrics: [Metric(key: "m", value: Double(index % 4), timestamp: 1, step: 0)],
                    params: [], tags: [])
                original.insert(run.info.runId)
            }
            for order in [[], ["metrics.m DESC"], ["start_time ASC", "metrics.m"]] {
                var seen: [String] = []
                var token: String?
                var added = 0
                repeat {
                    let page = try await store.searchRuns(
                        experimentIds: [experiment], filter: SearchFilter(), viewType: .activeOnly, maxResults: 7,
                        orderBy: try OrderByClause.parseRunOrderBy(order), pageToken: token)
                    seen += page.items.map(\.info.runId)
                    token = page.nextPageToken
                    // A newer run sorts first under the default order; an offset token would then
                    // hand the previous page's last run out again.
                    let newcomer = try await store.createRun(
                        experimentId: experiment, userId: "", startTime: 5_000 + Int64(added), runName: "n", tags: [])
                    try await store.logBatch(
                        runId: newcomer.info.runId, metrics: [Metric(key: "m", value: 99, timestamp: 1, step: 0)],
                        params: [], tags: [])
                    added += 1
                } while token != nil
                #expect(Set(seen).count == seen.count, "\(order): a run was repeated")
                #expect(original.isSubset(of: Set(seen)), "\(order): a run was skipped")
            }
        }
    }

    @Test("a selective filter gives the same rows, in the same order, as a scan", arguments: Backend.all)
    func selectiveFilterMatchesScan(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "driver", artifactLocation: nil, tags: [])
            var expected: [(value: Double, name: String)] = []
            for index in 0..<80 {
                let run = try await store.createRun(
                    experimentId: experiment, userId: "", startTime: Int64(index), runName: "d\(index)", tags: [])
                let rare = index % 10 == 3
                let value = Double((index * 37) % 11)
                try await store.logBatch(
                    runId: run.info.runId, metrics: [Metric(key: "score", value: value, timestamp: 1, step: 0)],
                    params: [Param("kind", rare ? "rare" : "common")], tags: [])
                if rare && value > 2 { expected.append((value, "d\(index)")) }
            }
            // Another experiment holds the same rare value: driving from the param rows must still
            // keep the search inside its experiment.
            let other = try await store.createExperiment(name: "other", artifactLocation: nil, tags: [])
            let stray = try await store.createRun(experimentId: other, userId: "", startTime: 0, runName: "stray", tags: [])
            try await store.logBatch(
                runId: stray.info.runId, metrics: [Metric(key: "score", value: 10, timestamp: 1, step: 0)],
                params: [Param("kind", "rare")], tags: [])
            let names = try await names(
                store, experiment, filter: "params.kind = 'rare' AND metrics.score > 2", orderBy: ["metrics.score DESC"])
            let order = expected.sorted { $0.value != $1.value ? $0.value > $1.value : Int($0.name.dropFirst())! > Int($1.name.dropFirst())! }
            #expect(names == order.map(\.name))
            let common = try await self.names(store, experiment, filter: "params.kind = 'common'")
            #expect(common.count == 72)
        }
    }
}
