import Foundation
import SwiftflowCore
import SwiftflowStore
import Testing

/// A registry with one model, `m`, whose versions are made from runs of one experiment.
private struct Fixture {
    let tracking: SQLTrackingStore
    let registry: SQLRegistryStore
    let experimentId: String
    var evaluator: PromotionEvaluator { PromotionEvaluator(tracking: tracking, registry: registry) }

    static func with(_ backend: Backend, _ body: (Fixture) async throws -> Void) async throws {
        try await withStore(backend) { store, _ in
            let registry = SQLRegistryStore(sharing: store)
            let experimentId = try await store.createExperiment(name: "promo", artifactLocation: nil, tags: [])
            _ = try await registry.createRegisteredModel(name: "m", tags: [], description: nil)
            try await body(Fixture(tracking: store, registry: registry, experimentId: experimentId))
        }
    }

    /// Logs a run with `metrics`, `params` and `tags` and registers it as the next version of `m`.
    @discardableResult
    func version(
        metrics: [String: Double] = [:], params: [String: String] = [:], tags: [String: String] = [:]
    ) async throws -> Int64 {
        let run = try await tracking.createRun(
            experimentId: experimentId, userId: "u", startTime: 1, runName: nil, tags: [])
        let id = run.info.runId
        try await tracking.logBatch(
            runId: id,
            metrics: metrics.map { Metric(key: $0.key, value: $0.value, timestamp: 1, step: 0) },
            params: params.map { KeyValue($0.key, $0.value) }, tags: tags.map { KeyValue($0.key, $0.value) })
        return try await registry.createModelVersion(
            name: "m", source: "runs:/\(id)/model", runId: id, tags: [], runLink: "", description: "").version
    }

    func policy(_ yaml: String) throws -> PromotionPolicy { try PromotionPolicy.parse(yaml: yaml) }

    /// The version `rule` (the policy's first) would choose.
    func choose(_ yaml: String) async throws -> Int64? {
        try await evaluator.run(policy: try policy(yaml), model: "m", dryRun: true, actor: "t")[0].chosenVersion
    }

    func alias(_ name: String) async throws -> Int64? {
        try await registry.getRegisteredModel(name: "m").aliases.first(where: { $0.alias == name })?.version
    }
}

private func rule(require: String) -> String {
    "rules: [{name: r, alias: champion, require: \"\(require)\"}]"
}

@Suite("Promotion policy evaluation")
struct PromotionEvaluatorTests {
    @Test("every comparator of require, on metrics, params and tags", arguments: [
        ("metrics.auc = 0.8", [Int64(1)]),
        ("metrics.auc != 0.8", [2, 3]),
        ("metrics.auc < 0.85", [1]),
        ("metrics.auc <= 0.85", [1, 2]),
        ("metrics.auc > 0.8", [2, 3]),
        ("metrics.auc >= 0.85", [2, 3]),
        ("tags.validated = 'true'", [1, 3]),
        ("tags.validated != 'true'", [2]),
        ("tags.team LIKE 'ml-%'", [2, 3]),
        ("params.kind = 'cnn'", [1, 2]),
        ("params.kind != 'cnn'", [3]),
        ("params.kind LIKE 'c%'", [1, 2]),
        ("tags.validated = 'true' and metrics.auc > 0.8", [3]),
    ])
    func comparators(require: String, qualifying: [Int64]) async throws {
        for backend in Backend.all { try await comparators(require: require, qualifying: qualifying, on: backend) }
    }

    private func comparators(require: String, qualifying: [Int64], on backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["auc": 0.8], params: ["kind": "cnn"], tags: ["validated": "true", "team": "x"])
            try await f.version(metrics: ["auc": 0.85], params: ["kind": "cnn"], tags: ["validated": "no", "team": "ml-a"])
            try await f.version(metrics: ["auc": 0.9], params: ["kind": "rnn"], tags: ["validated": "true", "team": "ml-b"])
            let decision = try await f.evaluator.run(
                policy: try f.policy(rule(require: require)), model: "m", dryRun: true, actor: "t")[0]
            #expect(decision.candidates.filter(\.qualifies).map(\.version).sorted() == qualifying)
            // Without improve, the newest qualifying version is chosen.
            #expect(decision.chosenVersion == qualifying.max())
        }
    }

    @Test("improve: margin over the champion, best metric wins, only newer versions are candidates", arguments: Backend.all)
    func improveOverChampion(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["auc": 0.80])  // 1: champion
            try await f.registry.setRegisteredModelAlias(name: "m", alias: "champion", version: "1")
            try await f.version(metrics: ["auc": 0.804])  // 2: not enough
            try await f.version(metrics: ["auc": 0.805])  // 3: exactly the margin
            try await f.version(metrics: ["auc": 0.83])  // 4: best
            try await f.version(metrics: ["auc": 0.81])  // 5
            let yaml = "rules: [{name: r, alias: champion, improve: {metric: auc, by: 0.005}}]"
            let decision = try await f.evaluator.run(policy: try f.policy(yaml), model: "m", dryRun: true, actor: "t")[0]
            #expect(decision.currentVersion == 1 && decision.currentMetric == 0.80)
            #expect(decision.candidates.map(\.version) == [5, 4, 3, 2])
            #expect(decision.candidates.filter(\.qualifies).map(\.version) == [5, 4, 3])
            #expect(decision.candidates.first(where: { $0.version == 2 })?.reason.contains("does not beat") == true)
            #expect(decision.chosenVersion == 4)

            // Lower is better: the champion's 0.80 beaten by 0.1 is nobody.
            let lower = "rules: [{name: r, alias: champion, improve: {metric: auc, by: 0.1, higher_is_better: false}}]"
            #expect(try await f.choose(lower) == nil)
        }
    }

    @Test("a candidate missing the metric never qualifies; a champion missing it is beaten by any that has it", arguments: Backend.all)
    func missingMetrics(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["loss": 1])  // 1: champion without auc
            try await f.registry.setRegisteredModelAlias(name: "m", alias: "champion", version: "1")
            try await f.version(metrics: ["loss": 0.5])  // 2: no auc
            try await f.version(metrics: ["auc": 0.1])  // 3
            try await f.version(metrics: ["auc": .nan])  // 4: NaN counts as missing
            let yaml = "rules: [{name: r, alias: champion, improve: {metric: auc, by: 0.5}}]"
            let decision = try await f.evaluator.run(policy: try f.policy(yaml), model: "m", dryRun: true, actor: "t")[0]
            #expect(decision.currentMetric == nil)
            #expect(decision.candidates.filter(\.qualifies).map(\.version) == [3])
            #expect(decision.candidates.first(where: { $0.version == 2 })?.reason == "run has no metric auc")
            #expect(decision.candidates.first(where: { $0.version == 4 })?.reason == "run has no metric auc")
            #expect(decision.chosenVersion == 3)
        }
    }

    @Test("ties on the metric go to the newest version; versions without a run are skipped", arguments: Backend.all)
    func ties(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["auc": 0.9])
            try await f.version(metrics: ["auc": 0.9])
            try await f.version(metrics: ["auc": 0.7])
            _ = try await f.registry.createModelVersion(
                name: "m", source: "s3://bucket/model", runId: "", tags: [], runLink: "", description: "")
            let yaml = "rules: [{name: r, alias: champion, improve: {metric: auc}}]"
            let decision = try await f.evaluator.run(policy: try f.policy(yaml), model: "m", dryRun: true, actor: "t")[0]
            #expect(decision.candidates.map(\.version) == [3, 2, 1])
            #expect(decision.chosenVersion == 2)
        }
    }

    @Test("a dry run changes nothing and writes no audit record", arguments: Backend.all)
    func dryRun(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["auc": 0.9], tags: ["validated": "true"])
            let policy = try f.policy(rule(require: "tags.validated = 'true'"))
            let decisions = try await f.evaluator.run(policy: policy, model: "m", dryRun: true, actor: "alice")
            #expect(decisions[0].chosenVersion == 1 && !decisions[0].applied && decisions[0].record == nil)
            #expect(try await f.alias("champion") == nil)
            #expect(try await f.registry.listPromotions(name: "m", maxResults: 10).isEmpty)
        }
    }

    @Test("a promotion moves the alias and writes one audit record; history is newest first", arguments: Backend.all)
    func promotionAndHistory(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["auc": 0.8], tags: ["validated": "true"])
            let yaml = """
                rules:
                  - name: auc-beats-champion
                    alias: champion
                    require: "tags.validated = 'true'"
                    improve: {metric: auc, by: 0.005}
                """
            let policy = try f.policy(yaml)
            let first = try await f.evaluator.run(policy: policy, model: "m", dryRun: false, actor: "alice")[0]
            #expect(first.applied && first.chosenVersion == 1)
            #expect(first.record?.oldVersion == nil && first.record?.newVersion == 1)
            #expect(try await f.alias("champion") == 1)

            try await f.version(metrics: ["auc": 0.9], tags: ["validated": "true"])
            try await f.version(metrics: ["auc": 0.95], tags: ["validated": "false"])
            let second = try await f.evaluator.run(policy: policy, model: "m", dryRun: false, actor: "bob")[0]
            #expect(second.chosenVersion == 2 && second.applied)
            #expect(try await f.alias("champion") == 2)

            // Nothing new qualifies: nothing moves, nothing is recorded.
            let third = try await f.evaluator.run(policy: policy, model: "m", dryRun: false, actor: "bob")[0]
            #expect(third.chosenVersion == nil && !third.applied)

            let history = try await f.registry.listPromotions(name: "m", maxResults: 10)
            #expect(history.count == 2)
            #expect(history.map(\.newVersion) == [2, 1])
            #expect(history.map(\.oldVersion) == [1, nil])
            #expect(history.map(\.actor) == ["bob", "alice"])
            #expect(history.allSatisfy { $0.rule == "auc-beats-champion" && $0.alias == "champion" && $0.name == "m" })
            #expect(history[0].timestamp >= history[1].timestamp && history[0].id > history[1].id)
            #expect(try await f.registry.listPromotions(name: "m", maxResults: 1).map(\.newVersion) == [2])

            // The trail follows a rename.
            _ = try await f.registry.renameRegisteredModel(name: "m", newName: "m2")
            #expect(try await f.registry.listPromotions(name: "m2", maxResults: 10).count == 2)
        }
    }

    @Test("applying a decision to an alias that moved meanwhile is a conflict and changes nothing", arguments: Backend.all)
    func staleDecision(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version()
            try await f.version()
            try await f.registry.setRegisteredModelAlias(name: "m", alias: "champion", version: "1")
            #expect(await errorCode {
                _ = try await f.registry.promote(
                    name: "m", alias: "champion", version: 2, expectedCurrent: nil, rule: "r", actor: "a")
            } == "RESOURCE_CONFLICT")
            #expect(try await f.alias("champion") == 1)
            #expect(try await f.registry.listPromotions(name: "m", maxResults: 10).isEmpty)
            #expect(await errorCode {
                _ = try await f.evaluator.run(
                    policy: try f.policy("rules: [{name: r, alias: a}]"), model: "nope", dryRun: true, actor: "a")
            } == "RESOURCE_DOES_NOT_EXIST")
        }
    }

    @Test("deleted runs do not qualify", arguments: Backend.all)
    func deletedRun(backend: Backend) async throws {
        try await Fixture.with(backend) { f in
            try await f.version(metrics: ["auc": 0.9])
            let version = try await f.registry.getModelVersion(name: "m", version: "1")
            try await f.tracking.deleteRun(id: version.runId!)
            let decision = try await f.evaluator.run(
                policy: try f.policy("rules: [{name: r, alias: champion}]"), model: "m", dryRun: true, actor: "t")[0]
            #expect(decision.chosenVersion == nil)
            #expect(decision.candidates.first?.reason.contains("deleted") == true)
        }
    }
}
