import Foundation
import Logging
import SQLKit
import SwiftflowCore
import SwiftflowStore
import Testing

@Suite("Embedded tracking store")
struct TrackingStoreTests {
    @Test("an empty file is migrated, gets the Default experiment, and reopens without re-migrating")
    func migrationsFromEmptyFile() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/fresh.db"
        let logger = Logger(label: "test")
        let first = try await SQLTrackingStore.openSQLite(path: path, defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
        let applied = try await first.executor.read { db in
            try await db.raw("SELECT id FROM swiftflow_migrations").all().map { try $0.decode(column: "id", as: String.self) }
        }
        #expect(applied == Schema.migrations.map(\.id))
        let defaultExperiment = try await first.getExperiment(id: "0")
        #expect(defaultExperiment.name == "Default")
        #expect(defaultExperiment.artifactLocation == "mlflow-artifacts:/0")
        _ = try await first.createExperiment(name: "kept", artifactLocation: nil, tags: [])
        await first.shutdown()

        let second = try await SQLTrackingStore.openSQLite(path: path, defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
        let redone = try await Migrator(migrations: Schema.migrations).migrate(second.executor)
        #expect(redone.isEmpty)
        #expect(try await second.getExperiment(name: "kept") != nil)
        await second.shutdown()
    }

    @Test(
        "PostgreSQL: servers migrating together take turns, each migration is applied once",
        .enabled(if: Backend.postgresURL != nil, "SWIFTFLOW_TEST_POSTGRES_URL is not set"))
    func concurrentPostgresMigrations() async throws {
        let schema = try await PostgresTestSchema.create()
        let logger = Logger(label: "test")
        do {
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let executor = try await PostgresExecutor.open(uri: schema.uri, poolSize: 1, logger: logger)
                        do {
                            let done = try await Migrator(migrations: Schema.migrations).migrate(executor)
                            await executor.shutdown()
                            return done
                        } catch {
                            await executor.shutdown()
                            throw error
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(applied.sorted() == Schema.migrations.map(\.id).sorted())
            let store = try await SQLTrackingStore.openPostgres(
                uri: schema.uri, poolSize: 2, defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
            #expect(try await store.getExperiment(id: "0").name == "Default")
            await store.shutdown()
            try await schema.drop()
        } catch {
            try? await schema.drop()
            throw error
        }
    }

    @Test(
        "PostgreSQL: servers starting together on an empty database all start, with one Default experiment",
        .enabled(if: Backend.postgresURL != nil, "SWIFTFLOW_TEST_POSTGRES_URL is not set"))
    func concurrentPostgresStarts() async throws {
        let schema = try await PostgresTestSchema.create()
        let logger = Logger(label: "test")
        do {
            let stores = try await withThrowingTaskGroup(of: SQLTrackingStore.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await SQLTrackingStore.openPostgres(
                            uri: schema.uri, poolSize: 1, defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(stores.count == 4)
            let experiments = try await stores[0].searchExperiments(
                filter: SearchFilter(), viewType: .all, maxResults: 10, orderBy: [], pageToken: nil)
            #expect(experiments.items.map(\.name) == ["Default"])
            for store in stores { await store.shutdown() }
            try await schema.drop()
        } catch {
            try? await schema.drop()
            throw error
        }
    }

    @Test("concurrent log-inputs of one dataset create it once and link it once", arguments: Backend.all)
    func concurrentLogInputs(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "inputs", artifactLocation: nil, tags: [])
            let run = try await store.createRun(experimentId: experiment, userId: "u", startTime: 1, runName: nil, tags: [])
            let runId = run.info.runId
            let dataset = Dataset(name: "train", digest: "d1", sourceType: "local", source: "{}", schema: nil, profile: nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await store.logInputs(
                            runId: runId, inputs: [DatasetInput(dataset: dataset, tags: [KeyValue("i", "\(index)")])],
                            models: [])
                    }
                }
                try await group.waitForAll()
            }
            let inputs = try await store.getRun(id: runId).inputs
            #expect(inputs.count == 1)
            #expect(inputs.first?.tags.count == 1)
        }
    }

    @Test("a database written by a newer Swiftflow is refused, not touched", arguments: Backend.all)
    func refusesNewerDatabase(backend: Backend) async throws {
        try await withStore(backend) { store, path in
            try await store.executor.write { db in
                try await db.raw("INSERT INTO swiftflow_migrations (id, applied_at) VALUES ('9999-future', 0)").run()
            }
            await #expect(throws: SwiftflowError.self) {
                try await Migrator(migrations: Schema.migrations).migrate(store.executor)
            }
        }
    }

    /// MLflow's SQL store reads these without an ORDER BY: in storage order, which is logging order.
    @Test("params, tags, latest metrics and experiment tags come back in logging order", arguments: Backend.all)
    func loggingOrder(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(
                name: "order", artifactLocation: nil, tags: [KeyValue("zz", "1"), KeyValue("aa", "2")])
            try await store.setExperimentTag(id: experiment, tag: KeyValue("mm", "3"))
            let run = try await store.createRun(
                experimentId: experiment, userId: "u", startTime: 1, runName: "r", tags: [KeyValue("zz", "1")])
            let id = run.info.runId
            try await store.logBatch(
                runId: id, metrics: [Metric(key: "zm", value: 1, timestamp: 1, step: 0)],
                params: [KeyValue("zp", "1"), KeyValue("ap", "2")], tags: [KeyValue("aa", "x")])
            // PostgreSQL's trigger upserts a batch's latest values in key order; requests keep their order.
            try await store.logBatch(runId: id, metrics: [Metric(key: "am", value: 1, timestamp: 1, step: 0)], params: [], tags: [])
            try await store.setTag(runId: id, tag: KeyValue("mm", "y"))
            let loaded = try await store.getRun(id: id)
            #expect(loaded.params.map(\.key) == ["zp", "ap"])
            #expect(loaded.tags.map(\.key) == ["zz", "mlflow.runName", "aa", "mm"])
            #expect(loaded.metrics.map(\.key) == ["zm", "am"])
            #expect(try await store.getExperiment(id: experiment).tags.map(\.key) == ["zz", "aa", "mm"])
            if backend == .sqlite {
                // An update keeps the row's place, as in MLflow on SQLite.
                try await store.setTag(runId: id, tag: KeyValue("zz", "2"))
                try await store.logBatch(runId: id, metrics: [Metric(key: "zm", value: 2, timestamp: 2, step: 1)], params: [], tags: [])
                let updated = try await store.getRun(id: id)
                #expect(updated.tags.map(\.key) == ["zz", "mlflow.runName", "aa", "mm"])
                #expect(updated.metrics.map(\.key) == ["zm", "am"])
                // And within one batch, points keep their order.
                try await store.logBatch(runId: id, metrics: [
                    Metric(key: "zb", value: 1, timestamp: 1, step: 0), Metric(key: "ab", value: 1, timestamp: 1, step: 0),
                ], params: [], tags: [])
                #expect(try await store.getRun(id: id).metrics.map(\.key) == ["zm", "am", "zb", "ab"])
            }
        }
    }

    @Test("latest metric: max step, then max timestamp, then max value, whatever the logging order", arguments: Backend.all)
    func latestMetricRule(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "latest", artifactLocation: nil, tags: [])
            let run = try await store.createRun(experimentId: experiment, userId: "u", startTime: 1, runName: nil, tags: [])
            let id = run.info.runId
            for (value, timestamp, step) in [(1.0, 1_000, 3), (2.0, 5_000, 1), (3.0, 2_000, 3), (4.0, 1_500, 3)] {
                try await store.logBatch(
                    runId: id, metrics: [Metric(key: "x", value: value, timestamp: Int64(timestamp), step: Int64(step))],
                    params: [], tags: [])
            }
            // One batch holding several points of one key: the newest still wins.
            try await store.logBatch(runId: id, metrics: [
                Metric(key: "y", value: 5, timestamp: 10, step: 7), Metric(key: "y", value: 9, timestamp: 10, step: 7),
                Metric(key: "y", value: 1, timestamp: 99, step: 6),
            ], params: [], tags: [])
            // Ties on step and timestamp compare stored values, where MLflow's SQL store keeps NaN as 0:
            // 1.0 replaces an earlier NaN, and a NaN replaces an earlier -1.0.
            for (key, first, second) in [("z", Double.nan, 1.0), ("w", -1.0, .nan)] {
                for value in [first, second] {
                    try await store.logBatch(runId: id, metrics: [Metric(key: key, value: value, timestamp: 10, step: 1)],
                                             params: [], tags: [])
                }
            }
            let metrics = try await store.getRun(id: id).metrics
            #expect(metrics.first { $0.key == "x" }?.value == 3.0)
            #expect(metrics.first { $0.key == "y" }?.value == 9.0)
            #expect(metrics.first { $0.key == "z" }?.value == 1.0)
            #expect(metrics.first { $0.key == "w" }?.value.isNaN == true)
            let history = try await store.metricHistory(runId: id, key: "x", maxResults: nil, pageToken: nil)
            #expect(history.items.map(\.timestamp) == [1_000, 1_500, 2_000, 5_000])
        }
    }

    @Test("history pages follow MLflow's offset tokens to the end", arguments: Backend.all)
    func historyPaging(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "paging", artifactLocation: nil, tags: [])
            let id = try await store.createRun(experimentId: experiment, userId: "", startTime: 0, runName: nil, tags: []).info.runId
            let points = (0..<25).map { Metric(key: "m", value: Double($0), timestamp: Int64($0), step: Int64($0)) }
            try await store.logBatch(runId: id, metrics: points, params: [], tags: [])
            var token: String?
            var seen: [Double] = []
            repeat {
                let page = try await store.metricHistory(runId: id, key: "m", maxResults: 10, pageToken: token)
                seen += page.items.map(\.value)
                token = page.nextPageToken
            } while token != nil
            #expect(seen == points.map(\.value))
        }
    }

    @Test("a log-batch that changes a param writes nothing at all", arguments: Backend.all)
    func batchIsAllOrNothing(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "atomic", artifactLocation: nil, tags: [])
            let id = try await store.createRun(experimentId: experiment, userId: "", startTime: 0, runName: nil, tags: []).info.runId
            try await store.logBatch(runId: id, metrics: [], params: [Param("p", "1")], tags: [])
            let code = await errorCode {
                try await store.logBatch(
                    runId: id, metrics: [Metric(key: "m", value: 1, timestamp: 1, step: 0)],
                    params: [Param("p", "2")], tags: [RunTag("t", "v")])
            }
            #expect(code == "INVALID_PARAMETER_VALUE")
            let run = try await store.getRun(id: id)
            #expect(run.params == [Param("p", "1")])
            #expect(run.metrics.isEmpty)
            #expect(!run.tags.contains { $0.key == "t" })
        }
    }

    @Test("deleted runs refuse writes; unknown ids are RESOURCE_DOES_NOT_EXIST", arguments: Backend.all)
    func lifecycleErrors(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "life", artifactLocation: nil, tags: [])
            let id = try await store.createRun(experimentId: experiment, userId: "", startTime: 0, runName: "r", tags: []).info.runId
            try await store.deleteRun(id: id)
            let metric = Metric(key: "m", value: 1, timestamp: 1, step: 0)
            #expect(await errorCode { try await store.logBatch(runId: id, metrics: [metric], params: [], tags: []) }
                == "INVALID_PARAMETER_VALUE")
            #expect(await errorCode { try await store.logBatch(runId: "nope", metrics: [metric], params: [], tags: []) }
                == "RESOURCE_DOES_NOT_EXIST")
            #expect(await errorCode { _ = try await store.getExperiment(id: "12345") } == "RESOURCE_DOES_NOT_EXIST")
            #expect(await errorCode { _ = try await store.getExperiment(id: "abc") } == "INVALID_PARAMETER_VALUE")
            #expect(await errorCode { _ = try await store.createExperiment(name: "life", artifactLocation: nil, tags: []) }
                == "RESOURCE_ALREADY_EXISTS")
            try await store.deleteExperiment(id: experiment)
            // Deleted names stay reserved.
            #expect(await errorCode { _ = try await store.createExperiment(name: "life", artifactLocation: nil, tags: []) }
                == "RESOURCE_ALREADY_EXISTS")
        }
    }

    @Test("a NaN metric matches != and no other comparison, as on MLflow's server", arguments: Backend.all)
    func nanInSearch(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "nan-search", artifactLocation: nil, tags: [])
            let id = try await store.createRun(experimentId: experiment, userId: "", startTime: 0, runName: nil, tags: []).info.runId
            try await store.logBatch(runId: id, metrics: [Metric(key: "w", value: .nan, timestamp: 1, step: 0)],
                                     params: [], tags: [])
            for (filter, matches) in [
                ("metrics.w != 5", 1), ("metrics.w = 0", 0), ("metrics.w >= 0", 0), ("metrics.w <= 0", 0),
                ("metrics.w < 0.5", 0), ("metrics.w > -0.5", 0),
            ] {
                let page = try await store.searchRuns(
                    experimentIds: [experiment], filter: try SearchFilter.parseRunFilter(filter), viewType: .activeOnly,
                    maxResults: 10, orderBy: [], pageToken: nil)
                #expect(page.items.count == matches, "\(filter)")
            }
        }
    }

    @Test("NaN and infinities are stored as MLflow's SQL store keeps them", arguments: Backend.all)
    func specialValues(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "special", artifactLocation: nil, tags: [])
            let id = try await store.createRun(experimentId: experiment, userId: "", startTime: 0, runName: nil, tags: []).info.runId
            try await store.logBatch(runId: id, metrics: [
                Metric(key: "nan", value: .nan, timestamp: 1, step: 0),
                Metric(key: "inf", value: .infinity, timestamp: 1, step: 0),
                Metric(key: "ninf", value: -.infinity, timestamp: 1, step: 0),
            ], params: [], tags: [])
            let metrics = Dictionary(uniqueKeysWithValues: try await store.getRun(id: id).metrics.map { ($0.key, $0.value) })
            #expect(metrics["nan"]?.isNaN == true)
            #expect(metrics["inf"] == .greatestFiniteMagnitude)
            #expect(metrics["ninf"] == -.greatestFiniteMagnitude)
        }
    }

    @Test("sampled history: first point of each NTILE bucket, the last point always kept", arguments: Backend.all)
    func sampledHistory(backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let experiment = try await store.createExperiment(name: "sampled", artifactLocation: nil, tags: [])
            let id = try await store.createRun(experimentId: experiment, userId: "", startTime: 0, runName: nil, tags: []).info.runId
            let points = (0..<10).map { Metric(key: "m", value: Double($0), timestamp: 100 - Int64($0), step: Int64($0)) }
            try await store.logBatch(runId: id, metrics: points, params: [], tags: [])
            func steps(_ max: Int, _ range: ClosedRange<Int64>? = nil) async throws -> [Int64] {
                try await store.sampledMetricHistory(runIds: [id, "unknown"], key: "m", maxResults: max, steps: range)
                    .map(\.metric.step)
            }
            // NTILE(4) over 10 points makes buckets of 3, 3, 2, 2: firsts 0, 3, 6, 8; 9 replaces 8.
            #expect(try await steps(4) == [0, 3, 6, 9])
            #expect(try await steps(1) == [9])
            #expect(try await steps(20) == Array(0...9))
            #expect(try await steps(3, 2...6) == [2, 4, 6])
            // Repeated steps and timestamps: the sample is NTILE's over (step, timestamp, value).
            var generator = SystemRandomNumberGenerator()
            let noisy = (0..<500).map { index in
                Metric(key: "n", value: Double(Int.random(in: 0..<5, using: &generator)),
                       timestamp: Int64(Int.random(in: 0..<40, using: &generator)), step: Int64(index / 7))
            }
            try await store.logBatch(runId: id, metrics: noisy, params: [], tags: [])
            let stored = try await store.metricHistory(runId: id, key: "n", maxResults: nil, pageToken: nil).items
                .sorted { ($0.step, $0.timestamp, $0.value) < ($1.step, $1.timestamp, $1.value) }
            for buckets in [1, 2, 7, 100, 333, 1000] {
                let (size, larger) = (stored.count / buckets, stored.count % buckets)
                var expected = (0..<min(buckets, stored.count)).map { stored[$0 * size + min($0, larger)] }
                if let last = stored.last, expected.last != last {
                    if expected.count >= buckets { expected[expected.count - 1] = last } else { expected.append(last) }
                }
                let sampled = try await store.sampledMetricHistory(runIds: [id], key: "n", maxResults: buckets, steps: nil)
                #expect(sampled.map(\.metric) == expected, "\(buckets) buckets")
            }
            let bulk = try await store.metricHistoryBulk(runIds: [id], key: "m", maxResults: 3)
            #expect(bulk.map(\.metric.step) == [9, 8, 7])  // by timestamp, which falls as steps rise
            #expect(bulk.allSatisfy { $0.runId == id })
        }
    }
}
