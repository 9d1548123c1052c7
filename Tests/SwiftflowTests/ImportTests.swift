import Foundation
import Logging
import SQLKit
import SwiftflowCore
import SwiftflowImport
import SwiftflowStore
import Testing

/// `swiftflow import` on stores written here by hand in MLflow's layouts. The comparison against the
/// official server over the REST API is scripts/import_compare.py; these pin the mapping itself.
@Suite("Import from MLflow", .serialized)
struct ImportTests {
    let logger = Logger(label: "test")

    /// An mlruns folder as MLflow 3's file store writes it.
    static func writeFileStore(_ root: String) throws {
        func write(_ relative: String, _ text: String) throws {
            let path = (root as NSString).appendingPathComponent(relative)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try write("0/meta.yaml", """
            artifact_location: file:///data/mlruns/0
            creation_time: 1000
            experiment_id: '0'
            last_update_time: 1000
            lifecycle_stage: active
            name: Default
            """)
        try write("412/meta.yaml", """
            artifact_location: mlflow-artifacts:/412
            creation_time: 2000
            experiment_id: '412'
            last_update_time: 2500
            lifecycle_stage: active
            name: churn
            """)
        try write("412/tags/team", "risk")
        try write("412/tags/a/b", "nested key")
        try write(".trash/7/meta.yaml", """
            artifact_location: mlflow-artifacts:/7
            creation_time: 3000
            experiment_id: '7'
            last_update_time: 3100
            lifecycle_stage: deleted
            name: old
            """)
        let run = "412/aaaa1111bbbb2222cccc3333dddd4444"
        try write("\(run)/meta.yaml", """
            artifact_uri: mlflow-artifacts:/412/aaaa1111bbbb2222cccc3333dddd4444/artifacts
            end_time: 5000
            experiment_id: '412'
            lifecycle_stage: active
            run_id: aaaa1111bbbb2222cccc3333dddd4444
            run_name: baseline
            start_time: 4000
            status: 3
            user_id: ada
            """)
        try write("\(run)/params/lr", "0.01")
        try write("\(run)/params/opt/name", "adam")
        try write("\(run)/tags/mlflow.runName", "baseline")
        try write("\(run)/metrics/loss", "4001 1.5 0\n4002 0.5 1\n4003 nan 2\n")
        try write("\(run)/metrics/peak", "4001 inf 0\n")
        try write("\(run)/inputs/i1/meta.yaml", """
            destination_id: d1
            destination_type: RUN
            source_id: d1
            source_type: DATASET
            tags:
              mlflow.data.context: training
            """)
        try write("412/datasets/d1/meta.yaml", """
            digest: abc123
            name: train
            profile: '{"num_rows": 2}'
            schema: null
            source: '{"uri": "s3://bucket/train.csv"}'
            source_type: s3
            """)
        let deleted = "412/eeee5555ffff6666aaaa7777bbbb8888"
        try write("\(deleted)/meta.yaml", """
            artifact_uri: mlflow-artifacts:/412/eeee5555ffff6666aaaa7777bbbb8888/artifacts
            deleted_time: 6100
            end_time: null
            experiment_id: '412'
            lifecycle_stage: deleted
            run_id: eeee5555ffff6666aaaa7777bbbb8888
            run_name: scrapped
            start_time: 6000
            status: 4
            user_id: ada
            """)
        try write("\(deleted)/metrics/loss", "6001 2.0 0\n")
        try write("models/churn-model/meta.yaml", """
            aliases:
              champion: '1'
            creation_timestamp: 7000
            description: predicts churn
            last_updated_timestamp: 7600
            name: churn-model
            """)
        try write("models/churn-model/tags/owner", "risk")
        try write("models/churn-model/version-1/meta.yaml", """
            creation_timestamp: 7100
            current_stage: Production
            description: null
            last_updated_timestamp: 7500
            name: churn-model
            run_id: aaaa1111bbbb2222cccc3333dddd4444
            source: runs:/aaaa1111bbbb2222cccc3333dddd4444/model
            status: READY
            storage_location: mlflow-artifacts:/412/aaaa1111bbbb2222cccc3333dddd4444/artifacts/model
            user_id: null
            version: 1
            """)
        try write("models/churn-model/version-1/tags/validated", "yes")
        try write("models/churn-model/version-2/meta.yaml", """
            creation_timestamp: 7200
            current_stage: Deleted_Internal
            last_updated_timestamp: 7300
            name: churn-model
            source: s2
            status: READY
            version: 2
            """)
        try write("models/churn-model/aliases/champion", "1")
    }

    func importStore(_ from: String, _ to: String, configure: (inout ImportOptions) -> Void = { _ in }) async throws -> String {
        var options = ImportOptions(from: from, to: to)
        options.progress = false
        configure(&options)
        return try await MLflowImporter(options: options, logger: logger).run()
    }

    @Test("a file store comes across with its ids, history, datasets and registry", arguments: Backend.all)
    func fileStore(_ backend: Backend) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let mlruns = folder.path + "/mlruns"
        try Self.writeFileStore(mlruns)
        try await withStore(backend) { store, location in
            let uri = backend == .sqlite ? "sqlite:///" + location : location
            let summary = try await importStore(mlruns, uri)
            #expect(summary.contains("deleted model versions: 1"))

            let experiment = try await store.getExperiment(id: "412")
            #expect(experiment.name == "churn")
            #expect(experiment.artifactLocation == "mlflow-artifacts:/412")
            #expect(experiment.creationTime == 2000 && experiment.lastUpdateTime == 2500)
            #expect(Set(experiment.tags) == [KeyValue("team", "risk"), KeyValue("a/b", "nested key")])
            #expect(try await store.getExperiment(id: "7").lifecycleStage == .deleted)
            // The target's own Default, untouched, takes the source's.
            #expect(try await store.getExperiment(id: "0").artifactLocation == "file:///data/mlruns/0")

            let run = try await store.getRun(id: "aaaa1111bbbb2222cccc3333dddd4444")
            #expect(run.info.runName == "baseline" && run.info.userId == "ada" && run.info.status == .finished)
            #expect(run.info.startTime == 4000 && run.info.endTime == 5000)
            #expect(Set(run.params) == [KeyValue("lr", "0.01"), KeyValue("opt/name", "adam")])
            let history = try await store.metricHistory(
                runId: run.info.runId, key: "loss", maxResults: nil, pageToken: nil).items
            #expect(history.map(\.step) == [0, 1, 2])
            #expect(history[0].value == 1.5 && history[1].value == 0.5 && history[2].value.isNaN)
            // The latest value is the newest step's, NaN included, as MLflow shows it.
            #expect(run.metrics.first { $0.key == "loss" }?.value.isNaN == true)
            // Infinities are kept as MLflow's SQL store keeps them.
            #expect(run.metrics.first { $0.key == "peak" }?.value == .greatestFiniteMagnitude)
            #expect(run.inputs.count == 1)
            #expect(run.inputs.first?.dataset.name == "train" && run.inputs.first?.dataset.digest == "abc123")
            #expect(run.inputs.first?.tags == [KeyValue("mlflow.data.context", "training")])

            let deleted = try await store.getRun(id: "eeee5555ffff6666aaaa7777bbbb8888")
            #expect(deleted.info.lifecycleStage == .deleted && deleted.info.status == .failed)
            #expect(deleted.metrics.map(\.value) == [2.0])

            let registry = SQLRegistryStore(executor: store.executor)
            let model = try await registry.getRegisteredModel(name: "churn-model")
            #expect(model.description == "predicts churn" && model.creationTimestamp == 7000)
            #expect(model.tags == [KeyValue("owner", "risk")])
            #expect(model.aliases.map(\.alias) == ["champion"])
            let version = try await registry.getModelVersion(name: "churn-model", alias: "champion")
            #expect(version.version == 1 && version.currentStage == .production)
            #expect(version.runId == "aaaa1111bbbb2222cccc3333dddd4444")
            // Version 2 was deleted in MLflow: its number stays taken.
            let next = try await registry.createModelVersion(
                name: "churn-model", source: "runs:/x/model", runId: nil, tags: [], runLink: nil, description: nil)
            #expect(next.version == 3)
        }
    }

    @Test("importing again adds nothing and changes nothing")
    func idempotent() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let mlruns = folder.path + "/mlruns"
        try Self.writeFileStore(mlruns)
        let target = "sqlite:///" + folder.path + "/swiftflow.db"
        _ = try await importStore(mlruns, target)
        let second = try await importStore(mlruns, target)
        #expect(second.contains("runs               0 imported, 2 already there"))
        #expect(second.contains("metric points      0 imported"))
        let store = try await SQLTrackingStore.openSQLite(
            path: folder.path + "/swiftflow.db", defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
        let counts = try await store.executor.read { db in
            try await db.raw("""
                SELECT (SELECT COUNT(*) FROM metrics) AS metrics, (SELECT COUNT(*) FROM params) AS params,
                    (SELECT COUNT(*) FROM model_versions) AS versions, (SELECT COUNT(*) FROM run_inputs) AS inputs
                """).all().first
        }
        #expect(try counts?.decode(column: "metrics", as: Int64.self) == 5)
        #expect(try counts?.decode(column: "params", as: Int64.self) == 2)
        #expect(try counts?.decode(column: "versions", as: Int64.self) == 1)
        #expect(try counts?.decode(column: "inputs", as: Int64.self) == 1)
        await store.shutdown()
    }

    @Test("a target holding another experiment under a source's name is refused, untouched")
    func refusesConflicts() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let mlruns = folder.path + "/mlruns"
        try Self.writeFileStore(mlruns)
        try await withStore(.sqlite) { store, location in
            _ = try await store.createExperiment(name: "churn", artifactLocation: nil, tags: [])
            await #expect(throws: SwiftflowError.self) { _ = try await importStore(mlruns, "sqlite:///" + location) }
            let runs = try await store.executor.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM runs").all().first?.decode(column: "n", as: Int64.self)
            }
            #expect(runs == 0)
            #expect(try await store.getExperiment(name: "old") == nil)
        }
    }

    @Test("a dry run creates no target")
    func dryRun() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let mlruns = folder.path + "/mlruns"
        try Self.writeFileStore(mlruns)
        let summary = try await importStore(mlruns, "sqlite:///" + folder.path + "/new.db") { $0.dryRun = true }
        #expect(summary.hasPrefix("Dry run"))
        #expect(summary.contains("runs               2"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/new.db"))
    }

    /// A database as MLflow 1.x/2.0 left it: no creation times on experiments, no deleted_time or
    /// name on runs, no datasets, inputs, aliases or logged models.
    @Test("an MLflow database of an old schema head imports with MLflow's defaults")
    func oldSchema() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/old.db"
        let old = try await SQLiteExecutor.open(path: path, logger: logger)
        try await old.write { db in
            for statement in [
                "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT, artifact_location TEXT, lifecycle_stage TEXT)",
                "CREATE TABLE experiment_tags (key TEXT, value TEXT, experiment_id INTEGER)",
                """
                CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, source_type TEXT, source_name TEXT, entry_point_name TEXT,
                    user_id TEXT, status TEXT, start_time BIGINT, end_time BIGINT, source_version TEXT,
                    lifecycle_stage TEXT, artifact_uri TEXT, experiment_id INTEGER)
                """,
                "CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT)",
                "CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT)",
                "CREATE TABLE metrics (key TEXT, value REAL, timestamp BIGINT, run_uuid TEXT, step BIGINT, is_nan BOOLEAN)",
                "CREATE TABLE registered_models (name TEXT PRIMARY KEY, creation_time BIGINT, last_updated_time BIGINT, description TEXT)",
                """
                CREATE TABLE model_versions (name TEXT, version INTEGER, creation_time BIGINT, last_updated_time BIGINT,
                    description TEXT, user_id TEXT, current_stage TEXT, source TEXT, run_id TEXT, status TEXT,
                    status_message TEXT, run_link TEXT)
                """,
                "INSERT INTO experiments VALUES (0, 'Default', './mlruns/0', 'active'), (1, 'legacy', './mlruns/1', 'active')",
                """
                INSERT INTO runs VALUES ('0123456789abcdef0123456789abcdef', 'LOCAL', 'train.py', 'main', 'bob', 'FINISHED',
                    100, 200, '', 'active', './mlruns/1/0123456789abcdef0123456789abcdef/artifacts', 1)
                """,
                "INSERT INTO tags VALUES ('mlflow.runName', 'from-tag', '0123456789abcdef0123456789abcdef')",
                "INSERT INTO params VALUES ('alpha', '0.5', '0123456789abcdef0123456789abcdef')",
                """
                INSERT INTO metrics VALUES ('rmse', 0.9, 110, '0123456789abcdef0123456789abcdef', 0, 0),
                    ('rmse', 0.7, 120, '0123456789abcdef0123456789abcdef', 1, 0)
                """,
                "INSERT INTO registered_models VALUES ('legacy-model', 300, 400, NULL)",
                """
                INSERT INTO model_versions VALUES ('legacy-model', 1, 300, 400, NULL, NULL, 'Staging', './mlruns/x', NULL,
                    'READY', NULL, NULL)
                """,
            ] {
                try await db.raw(SQLQueryString(statement)).run()
            }
        }
        await old.shutdown()
        try await withStore(.sqlite) { store, location in
            _ = try await importStore("sqlite:///" + path, "sqlite:///" + location)
            let experiment = try await store.getExperiment(id: "1")
            #expect(experiment.name == "legacy" && experiment.creationTime == 0)
            let run = try await store.getRun(id: "0123456789abcdef0123456789abcdef")
            #expect(run.info.runName == "from-tag")
            #expect(run.metrics.map(\.value) == [0.7])
            #expect(run.params == [KeyValue("alpha", "0.5")])
            let version = try await SQLRegistryStore(executor: store.executor).getModelVersion(name: "legacy-model", version: "1")
            #expect(version.currentStage == .staging)
        }
    }

    @Test("basic-auth users keep their passwords; pre-role grants become the user's own role")
    func legacyAuth() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/basic_auth.db"
        let hash = try await PasswordHash.hashed("password1234")
        let old = try await SQLiteExecutor.open(path: path, logger: logger)
        try await old.write { db in
            for statement in [
                "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, password_hash TEXT, is_admin BOOLEAN)",
                "CREATE TABLE experiment_permissions (id INTEGER PRIMARY KEY, experiment_id TEXT, user_id INTEGER, permission TEXT)",
                "CREATE TABLE registered_model_permissions (id INTEGER PRIMARY KEY, name TEXT, user_id INTEGER, permission TEXT)",
                "INSERT INTO experiment_permissions VALUES (1, '5', 2, 'EDIT'), (2, '6', 2, 'NO_PERMISSIONS')",
                "INSERT INTO registered_model_permissions VALUES (1, 'churn-model', 2, 'MANAGE')",
            ] {
                try await db.raw(SQLQueryString(statement)).run()
            }
            try await db.raw("INSERT INTO users VALUES (1, 'admin', \(bind: hash), 1), (2, 'alice', \(bind: hash), 0)").run()
        }
        await old.shutdown()
        let mlruns = folder.path + "/mlruns"
        try Self.writeFileStore(mlruns)
        _ = try await importStore(mlruns, "sqlite:///" + folder.path + "/swiftflow.db") {
            $0.authFrom = "sqlite:///" + path
            $0.authTo = "sqlite:///" + folder.path + "/auth.db"
        }
        let auth = try await SQLAuthStore.openSQLite(path: folder.path + "/auth.db", logger: logger)
        let alice = try await auth.user(named: "alice")
        #expect(!alice.isAdmin)
        #expect(try await auth.user(named: "admin").isAdmin)
        let stored = try await auth.credentials(username: "alice")
        #expect(PasswordHash.verify("password1234", against: stored?.passwordHash ?? ""))
        let grants = try await auth.permissions(userId: alice.id, workspace: "default")
            .map { "\($0.resourceType) \($0.resourcePattern) \($0.permission.rawValue)" }
        #expect(Set(grants) == ["experiment 5 EDIT", "registered_model churn-model MANAGE"])
        await auth.shutdown()
    }

    @Test("--copy-artifacts copies what mlflow-artifacts:/ locations hold, once")
    func copiesArtifacts() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let mlruns = folder.path + "/mlruns"
        try Self.writeFileStore(mlruns)
        let from = folder.path + "/mlartifacts"
        let file = from + "/412/aaaa1111bbbb2222cccc3333dddd4444/artifacts/model/MLmodel"
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "flavors: {}\n".write(toFile: file, atomically: true, encoding: .utf8)
        // Another experiment's folder, not named by any imported location, stays behind.
        try FileManager.default.createDirectory(atPath: from + "/99", withIntermediateDirectories: true)
        try "x".write(toFile: from + "/99/other.txt", atomically: true, encoding: .utf8)
        let to = folder.path + "/copied"
        func run() async throws -> String {
            try await importStore(mlruns, "sqlite:///" + folder.path + "/swiftflow.db") {
                $0.copyArtifacts = true
                $0.artifactsFrom = from
                $0.artifactsTo = to
            }
        }
        let first = try await run()
        #expect(first.contains("artifacts: 1 files"))
        let copied = to + "/412/aaaa1111bbbb2222cccc3333dddd4444/artifacts/model/MLmodel"
        #expect(try String(contentsOfFile: copied, encoding: .utf8) == "flavors: {}\n")
        #expect(!FileManager.default.fileExists(atPath: to + "/99/other.txt"))
        let second = try await run()
        #expect(second.contains("artifacts: 0 files (0 bytes) copied, 1 already there"))
    }
}
