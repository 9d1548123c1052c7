import SwiftflowCore

/// Evaluates promotion policies against the registry and the tracking store, and applies them.
///
/// For each rule, the candidates are the model's versions that have a run and are newer than the
/// version holding the rule's alias (every version when the alias is unset). A candidate qualifies
/// when its run is active and matches `require` (the tracking store's own run search, restricted to
/// the candidates' runs: there is one filter evaluator), and, with `improve`, when the latest value of
/// its run's metric beats the holder's by the margin. A candidate without the metric never qualifies;
/// a holder without it is beaten by any candidate that has it (NaN counts as missing). The best
/// qualifying metric wins (without `improve`, the newest version); ties go to the newest version.
public struct PromotionEvaluator: Sendable {
    public let tracking: any TrackingStore
    public let registry: any RegistryStore

    public init(tracking: any TrackingStore, registry: any RegistryStore) {
        self.tracking = tracking
        self.registry = registry
    }

    /// Evaluates every rule of `policy` for `model` and, unless `dryRun`, moves each alias whose rule
    /// chose a version, writing one audit record per move (with `actor`).
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for an unknown model; `RESOURCE_CONFLICT` if an alias moved
    ///   while the policy was evaluated.
    public func run(policy: PromotionPolicy, model: String, dryRun: Bool, actor: String) async throws
        -> [PromotionDecision]
    {
        let versions = try await allVersions(model)
        var decisions: [PromotionDecision] = []
        for rule in policy.rules {
            var decision = try await evaluate(rule, model: model, versions: versions)
            if !dryRun, let chosen = decision.chosenVersion {
                decision.record = try await registry.promote(
                    name: model, alias: rule.alias, version: chosen, expectedCurrent: decision.currentVersion,
                    rule: rule.name, actor: actor)
                decision.applied = true
            }
            decisions.append(decision)
        }
        return decisions
    }

    /// What `rule` decides for `model` now; changes nothing.
    public func evaluate(_ rule: PromotionRule, model: String) async throws -> PromotionDecision {
        try await evaluate(rule, model: model, versions: try await allVersions(model))
    }

    // MARK: - Evaluation

    private func evaluate(
        _ rule: PromotionRule, model: String, versions: [ModelVersion]
    ) async throws -> PromotionDecision {
        let registered = try await registry.getRegisteredModel(name: model)
        let current = registered.aliases.first(where: { $0.alias == rule.alias })?.version
        let candidates = versions.filter { version in
            !(version.runId ?? "").isEmpty && current.map { version.version > $0 } ?? true
        }.sorted { $0.version > $1.version }

        var currentMetric: Double?
        if let improve = rule.improve, let current,
            let runId = versions.first(where: { $0.version == current })?.runId, !runId.isEmpty
        {
            currentMetric = try await loadRun(runId).flatMap { Self.metric(improve.metric, of: $0) }
        }

        var runs: [String: Run] = [:]
        for candidate in candidates {
            let runId = candidate.runId!
            if runs[runId] == nil, let run = try await loadRun(runId) { runs[runId] = run }
        }
        let matching = try await matchingRuns(rule.filter, runs: Array(runs.values))

        var evaluated: [PromotionCandidate] = []
        for candidate in candidates {
            let runId = candidate.runId!
            let run = runs[runId]
            var value: Double?
            if let run, let improve = rule.improve { value = Self.metric(improve.metric, of: run) }
            var reason = ""
            if run == nil {
                reason = "run \(runId) not found"
            } else if run!.info.lifecycleStage != .active {
                reason = "run \(runId) is deleted"
            } else if !matching.contains(runId) {
                reason = "run does not match require"
            } else if let improve = rule.improve {
                if let value {
                    if let currentMetric, !improve.beats(value, currentMetric) {
                        let sign = improve.higherIsBetter ? "+" : "-"
                        reason = "\(improve.metric) \(value) does not beat \(currentMetric) \(sign) \(improve.by)"
                    }
                } else {
                    reason = "run has no metric \(improve.metric)"
                }
            }
            evaluated.append(PromotionCandidate(
                version: candidate.version, runId: runId, metric: value, qualifies: reason.isEmpty, reason: reason))
        }

        let qualifying = evaluated.filter(\.qualifies)
        let chosen: PromotionCandidate?
        if let improve = rule.improve {
            // Newest first, so on equal metrics the first seen (newest) is kept.
            chosen = qualifying.reduce(nil) { best, next in
                guard let best else { return next }
                let (a, b) = (next.metric!, best.metric!)
                return (improve.higherIsBetter ? a > b : a < b) ? next : best
            }
        } else {
            chosen = qualifying.first
        }
        return PromotionDecision(
            rule: rule.name, alias: rule.alias, currentVersion: current, currentMetric: currentMetric,
            candidates: evaluated, chosenVersion: chosen?.version)
    }

    /// Every version of the model, newest first.
    private func allVersions(_ model: String) async throws -> [ModelVersion] {
        _ = try await registry.getRegisteredModel(name: model)  // RESOURCE_DOES_NOT_EXIST for an unknown model
        let filter = SearchFilter(comparisons: [
            SearchComparison(entity: .attribute, key: "name", op: .equal, value: .string(model)),
        ])
        var versions: [ModelVersion] = []
        var token: String?
        repeat {
            let page = try await registry.searchModelVersions(
                filter: filter, maxResults: 1000, orderBy: [], pageToken: token)
            versions += page.items
            token = page.nextPageToken
        } while token != nil
        return versions.sorted { $0.version > $1.version }
    }

    /// The run, or nil if it does not exist.
    private func loadRun(_ id: String) async throws -> Run? {
        do {
            return try await tracking.getRun(id: id)
        } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
            return nil
        }
    }

    /// The ids of the active `runs` that match `filter`, found by the tracking store's run search.
    private func matchingRuns(_ filter: SearchFilter, runs: [Run]) async throws -> Set<String> {
        let active = runs.filter { $0.info.lifecycleStage == .active }
        guard !active.isEmpty else { return [] }
        var restricted = filter
        restricted.comparisons.append(
            SearchComparison(entity: .attribute, key: "run_id", op: .in, value: .list(active.map(\.info.runId))))
        let experimentIds = Array(Set(active.map(\.info.experimentId))).sorted()
        let page = try await tracking.searchRuns(
            experimentIds: experimentIds, filter: restricted, viewType: .activeOnly, maxResults: active.count,
            orderBy: [], pageToken: nil)
        return Set(page.items.map(\.info.runId))
    }

    /// The latest value of `key` on the run, nil if absent or NaN.
    static func metric(_ key: String, of run: Run) -> Double? {
        guard let value = run.metrics.first(where: { $0.key == key })?.value, !value.isNaN else { return nil }
        return value
    }
}
