import HTTPTypes
import Hummingbird
import Logging
import SwiftflowCore
import SwiftflowStore

/// Promotion by policy, a Swiftflow extension under `/api/2.0/swiftflow/registry`:
///
/// - `POST promote` with `{"name", "policy" (YAML text), "dry_run", "user"}` evaluates the policy for
///   the model (`name`, else the policy's `model`) and, unless `dry_run`, moves the aliases; it answers
///   each rule's decision.
/// - `GET promotions?name=&max_results=` answers the model's audit trail, newest first.
///
/// The actor recorded is the `X-Swiftflow-User` header, else the `user` field, else `unknown`.
struct PromotionRoutes {
    static let prefix = "/api/2.0/swiftflow/registry"
    static let userHeader = HTTPField.Name("X-Swiftflow-User")!

    let evaluator: PromotionEvaluator

    func register(on router: Router<ServerRequestContext>) {
        let evaluator = self.evaluator
        router.post(RouterPath(Self.prefix + "/promote")) { request, context in
            let fields = try await APIRouter.decode(request, context: context)
            let policy = try PromotionPolicy.parse(yaml: try fields.requiredString("policy"))
            guard let name = try fields.string("name").flatMap({ $0.isEmpty ? nil : $0 }) ?? policy.model else {
                throw SwiftflowError.invalidParameter(
                    "Missing value for required parameter 'name' (the policy names no `model`).")
            }
            let dryRun = try fields.bool("dry_run") ?? false
            let userField = try fields.string("user")
            var actor = [request.headers[Self.userHeader], userField].compactMap { $0 }.first { !$0.isEmpty }
                ?? "unknown"
            if let auth = context.auth {
                // Moving an alias is a model update; with authentication on, the actor is who signed in.
                try await auth.requireModelVersion(name, .read, modelNeed: dryRun ? .read : .update)
                actor = auth.user.username
            }
            let decisions = try await evaluator.run(policy: policy, model: name, dryRun: dryRun, actor: actor)
            return JSONResponse.make { w in
                w.beginObject()
                w.field("name", name)
                w.field("dry_run", dryRun)
                w.key("decisions")
                w.beginArray()
                for decision in decisions { w.promotionDecision(decision) }
                w.endArray()
                w.endObject()
            }
        }
        router.get(RouterPath(Self.prefix + "/promotions")) { request, context in
            let fields = try await APIRouter.decode(request, context: context)
            let maxResults = try fields.int64("max_results") ?? 1000
            guard (1...100_000).contains(maxResults) else {
                throw SwiftflowError.invalidParameter("max_results must be between 1 and 100000, got \(maxResults).")
            }
            let name = try fields.requiredString("name")
            try await context.auth?.requireRegisteredModel(name, .read)
            let records = try await evaluator.registry.listPromotions(name: name, maxResults: Int(maxResults))
            return JSONResponse.make { w in
                w.beginObject()
                w.key("promotions")
                w.beginArray()
                for record in records { w.promotionRecord(record) }
                w.endArray()
                w.endObject()
            }
        }
    }

    /// What `--registry-policies` asks for: after a version of a model with a policy is created,
    /// evaluate that policy and apply it as actor `policy`. Failures are logged, never thrown.
    static func afterVersionCreated(
        policies: [String: PromotionPolicy], evaluator: PromotionEvaluator, logger: Logger
    ) -> @Sendable (String) async -> Void {
        { name in
            guard let policy = policies[name] else { return }
            do {
                let decisions = try await evaluator.run(policy: policy, model: name, dryRun: false, actor: "policy")
                for decision in decisions where decision.applied {
                    let from = decision.currentVersion.map { "version \($0)" } ?? "no version"
                    let to = decision.chosenVersion.map { "version \($0)" } ?? "no version"
                    logger.info(
                        "policy rule '\(decision.rule)' moved alias '\(decision.alias)' of '\(name)' from \(from) to \(to)")
                }
            } catch {
                logger.error("promotion policy for '\(name)' failed: \(error)")
            }
        }
    }
}

extension JSONWriter {
    mutating func promotionRecord(_ record: PromotionRecord) {
        beginObject()
        field("id", record.id)
        field("name", record.name)
        field("alias", record.alias)
        field("rule", record.rule)
        optionalField("old_version", record.oldVersion)
        field("new_version", record.newVersion)
        field("actor", record.actor)
        field("timestamp", record.timestamp)
        endObject()
    }

    mutating func promotionDecision(_ decision: PromotionDecision) {
        beginObject()
        field("rule", decision.rule)
        field("alias", decision.alias)
        optionalField("current_version", decision.currentVersion)
        if let metric = decision.currentMetric { field("current_metric", metric) }
        optionalField("chosen_version", decision.chosenVersion)
        field("applied", decision.applied)
        key("candidates")
        beginArray()
        for candidate in decision.candidates {
            beginObject()
            field("version", candidate.version)
            field("run_id", candidate.runId)
            if let metric = candidate.metric { field("metric", metric) }
            field("qualifies", candidate.qualifies)
            if !candidate.reason.isEmpty { field("reason", candidate.reason) }
            endObject()
        }
        endArray()
        if let record = decision.record {
            key("promotion")
            promotionRecord(record)
        }
        endObject()
    }
}
