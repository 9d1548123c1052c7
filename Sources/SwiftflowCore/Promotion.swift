/// One promotion of the audit trail: an alias moved by a policy rule.
public struct PromotionRecord: Sendable, Equatable {
    public var id: Int64
    /// The registered model's name when the alias moved (renames carry the history along).
    public var name: String
    public var alias: String
    public var rule: String
    /// The version the alias pointed at before, nil if it was unset.
    public var oldVersion: Int64?
    public var newVersion: Int64
    /// Who asked: the request's user, `policy` for the server's own evaluation, or `unknown`.
    public var actor: String
    /// Milliseconds since the epoch.
    public var timestamp: Int64

    public init(
        id: Int64, name: String, alias: String, rule: String, oldVersion: Int64?, newVersion: Int64, actor: String,
        timestamp: Int64
    ) {
        self.id = id
        self.name = name
        self.alias = alias
        self.rule = rule
        self.oldVersion = oldVersion
        self.newVersion = newVersion
        self.actor = actor
        self.timestamp = timestamp
    }
}

/// How one candidate version fared against a rule.
public struct PromotionCandidate: Sendable, Equatable {
    public var version: Int64
    public var runId: String
    /// The latest value of the rule's `improve` metric on the candidate's run, if any.
    public var metric: Double?
    public var qualifies: Bool
    /// Why it does not qualify (empty when it does).
    public var reason: String

    public init(version: Int64, runId: String, metric: Double?, qualifies: Bool, reason: String) {
        self.version = version
        self.runId = runId
        self.metric = metric
        self.qualifies = qualifies
        self.reason = reason
    }
}

/// What a rule decided: the alias holder, the candidates considered, the version chosen (if any), and
/// whether the alias was moved (never in a dry run).
public struct PromotionDecision: Sendable, Equatable {
    public var rule: String
    public var alias: String
    public var currentVersion: Int64?
    /// The `improve` metric of the current holder's run, if any.
    public var currentMetric: Double?
    public var candidates: [PromotionCandidate]
    /// The version the alias should move to; nil when no candidate qualifies.
    public var chosenVersion: Int64?
    public var applied: Bool
    /// The audit record written when the alias moved.
    public var record: PromotionRecord?

    public init(
        rule: String, alias: String, currentVersion: Int64?, currentMetric: Double?, candidates: [PromotionCandidate],
        chosenVersion: Int64?, applied: Bool = false, record: PromotionRecord? = nil
    ) {
        self.rule = rule
        self.alias = alias
        self.currentVersion = currentVersion
        self.currentMetric = currentMetric
        self.candidates = candidates
        self.chosenVersion = chosenVersion
        self.applied = applied
        self.record = record
    }
}
