import Yams

/// A promotion policy: rules that move a registered model's aliases to versions whose runs qualify.
///
/// Written in YAML, one file per registered model:
///
/// ```yaml
/// model: churn-classifier
/// rules:
///   - name: auc-beats-champion
///     alias: champion
///     require: "tags.validated = 'true' and metrics.val_auc >= 0.8"
///     improve:
///       metric: val_auc
///       by: 0.005
///       higher_is_better: true
/// ```
///
/// `require` is a filter of the run search language (`runs/search`), evaluated on each candidate
/// version's run; `improve` asks the candidate's run to beat the run of the version holding the alias.
public struct PromotionPolicy: Sendable, Equatable {
    /// The registered model the policy is for; a caller may name the model instead.
    public var model: String?
    public var rules: [PromotionRule]

    public init(model: String?, rules: [PromotionRule]) {
        self.model = model
        self.rules = rules
    }

    /// Parses a policy file's text.
    ///
    /// Unknown fields are refused, so that a misspelt `improve` does not silently drop a condition.
    /// Each rule moves a different alias. `require` is parsed with `SearchFilter.parseRunFilter` here,
    /// so a bad filter is reported when the policy is read, not when it is first evaluated.
    /// - Throws: `INVALID_PARAMETER_VALUE` naming the field at fault (`rules[0].improve.by`, ...).
    public static func parse(yaml text: String) throws(SwiftflowError) -> PromotionPolicy {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw .invalidParameter("Invalid promotion policy: the text is not valid YAML (\(error)).")
        }
        guard let root = document as? [String: Any] else {
            throw invalid("the document must be a mapping with `rules`")
        }
        try refuseUnknown(root, allowed: ["model", "rules"], path: "")
        var model: String?
        if let value = root["model"] {
            guard let name = value as? String, !name.isEmpty else { throw invalid("`model` must be a non-empty string") }
            model = name
        }
        guard let rawRules = root["rules"] else { throw invalid("`rules` is missing") }
        guard let list = rawRules as? [Any], !list.isEmpty else {
            throw invalid("`rules` must be a non-empty list of rules")
        }
        var rules: [PromotionRule] = []
        for (index, item) in list.enumerated() {
            let rule = try PromotionRule.parse(item, path: "rules[\(index)]")
            if let earlier = rules.first(where: { $0.alias == rule.alias }) {
                throw invalid("`rules[\(index)].alias`: alias '\(rule.alias)' is already moved by rule '\(earlier.name)'")
            }
            if rules.contains(where: { $0.name == rule.name }) {
                throw invalid("`rules[\(index)].name`: rule name '\(rule.name)' is used twice")
            }
            rules.append(rule)
        }
        return PromotionPolicy(model: model, rules: rules)
    }

    static func invalid(_ reason: String) -> SwiftflowError {
        .invalidParameter("Invalid promotion policy: \(reason).")
    }

    static func refuseUnknown(_ mapping: [String: Any], allowed: Set<String>, path: String) throws(SwiftflowError) {
        let unknown = mapping.keys.filter { !allowed.contains($0) }.sorted()
        if let first = unknown.first {
            let field = path.isEmpty ? first : "\(path).\(first)"
            throw invalid("unknown field `\(field)` (expected one of \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}

/// One rule of a policy: which alias to move, and what a version's run must satisfy to take it.
public struct PromotionRule: Sendable, Equatable {
    public var name: String
    public var alias: String
    /// The `require` text as written (empty when absent: every run matches).
    public var require: String
    /// `require`, parsed.
    public var filter: SearchFilter
    public var improve: PromotionImprovement?

    public init(name: String, alias: String, require: String, improve: PromotionImprovement?) throws(SwiftflowError) {
        self.name = name
        self.alias = alias
        self.require = require
        self.filter = try SearchFilter.parseRunFilter(require)
        self.improve = improve
    }

    static func parse(_ item: Any, path: String) throws(SwiftflowError) -> PromotionRule {
        guard let mapping = item as? [String: Any] else {
            throw PromotionPolicy.invalid("`\(path)` must be a mapping with `name` and `alias`")
        }
        try PromotionPolicy.refuseUnknown(mapping, allowed: ["name", "alias", "require", "improve"], path: path)
        let name = try requiredString(mapping, "name", path: path)
        let alias = try requiredString(mapping, "alias", path: path)
        do {
            try Validation.validateAliasName(alias)
            try Validation.validateAliasNameNotReserved(alias)
        } catch {
            throw PromotionPolicy.invalid("`\(path).alias`: \(error.message)")
        }
        var require = ""
        if let value = mapping["require"] {
            guard let text = value as? String else {
                throw PromotionPolicy.invalid("`\(path).require` must be a string (a run search filter)")
            }
            require = text
        }
        var improve: PromotionImprovement?
        if let value = mapping["improve"] {
            improve = try PromotionImprovement.parse(value, path: "\(path).improve")
        }
        do {
            return try PromotionRule(name: name, alias: alias, require: require, improve: improve)
        } catch {
            throw PromotionPolicy.invalid("`\(path).require` is not a valid run filter: \(error.message)")
        }
    }
}

/// The `improve` part of a rule: the candidate's metric must beat the current holder's by a margin.
public struct PromotionImprovement: Sendable, Equatable {
    /// A metric key (the latest value of the run's metric is compared).
    public var metric: String
    /// The margin, zero or more: higher is better needs candidate ≥ holder + by, lower is better
    /// candidate ≤ holder − by.
    public var by: Double
    public var higherIsBetter: Bool

    public init(metric: String, by: Double = 0, higherIsBetter: Bool = true) {
        self.metric = metric
        self.by = by
        self.higherIsBetter = higherIsBetter
    }

    /// Whether `candidate` beats `holder` by the margin. A margin met to within 1e-9 (relative)
    /// counts as met, so that `0.805 >= 0.8 + 0.005` holds despite binary floating point.
    public func beats(_ candidate: Double, _ holder: Double) -> Bool {
        let gain = higherIsBetter ? candidate - holder : holder - candidate
        let tolerance = 1e-9 * max(1, abs(candidate), abs(holder))
        return gain >= by - tolerance
    }

    static func parse(_ item: Any, path: String) throws(SwiftflowError) -> PromotionImprovement {
        guard let mapping = item as? [String: Any] else {
            throw PromotionPolicy.invalid("`\(path)` must be a mapping with `metric`")
        }
        try PromotionPolicy.refuseUnknown(mapping, allowed: ["metric", "by", "higher_is_better"], path: path)
        let metric = try requiredString(mapping, "metric", path: path)
        var by = 0.0
        if let value = mapping["by"] {
            switch value {
            case let number as Int: by = Double(number)
            case let number as Double where number.isFinite: by = number
            default: throw PromotionPolicy.invalid("`\(path).by` must be a number")
            }
            guard by >= 0 else { throw PromotionPolicy.invalid("`\(path).by` must not be negative") }
        }
        var higherIsBetter = true
        if let value = mapping["higher_is_better"] {
            guard let flag = value as? Bool else {
                throw PromotionPolicy.invalid("`\(path).higher_is_better` must be true or false")
            }
            higherIsBetter = flag
        }
        return PromotionImprovement(metric: metric, by: by, higherIsBetter: higherIsBetter)
    }
}

private func requiredString(_ mapping: [String: Any], _ key: String, path: String) throws(SwiftflowError) -> String {
    guard let value = mapping[key] else { throw PromotionPolicy.invalid("`\(path).\(key)` is missing") }
    guard let text = value as? String, !text.isEmpty else {
        throw PromotionPolicy.invalid("`\(path).\(key)` must be a non-empty string")
    }
    return text
}
