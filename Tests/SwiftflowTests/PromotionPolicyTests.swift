import Foundation
import SwiftflowCore
import Testing

/// The message of the error parsing `yaml` throws, or nil if it parses.
private func parseError(_ yaml: String) -> String? {
    do {
        _ = try PromotionPolicy.parse(yaml: yaml)
        return nil
    } catch {
        #expect(error.code == .invalidParameterValue)
        return error.message
    }
}

@Suite("Promotion policy parsing")
struct PromotionPolicyTests {
    @Test("a full policy parses, with its filter and defaults")
    func validPolicy() throws {
        let policy = try PromotionPolicy.parse(yaml: """
            model: churn-classifier
            rules:
              - name: auc-beats-champion
                alias: champion
                require: "tags.validated = 'true' and metrics.val_auc >= 0.8"
                improve:
                  metric: val_auc
                  by: 0.005
              - name: newest-validated
                alias: challenger
                require: "tags.validated = 'true'"
              - name: lowest-loss
                alias: lean
                improve: {metric: loss, by: 1, higher_is_better: false}
            """)
        #expect(policy.model == "churn-classifier")
        #expect(policy.rules.map(\.name) == ["auc-beats-champion", "newest-validated", "lowest-loss"])
        let first = policy.rules[0]
        #expect(first.alias == "champion")
        #expect(first.filter == (try SearchFilter.parseRunFilter("tags.validated = 'true' and metrics.val_auc >= 0.8")))
        #expect(first.improve == PromotionImprovement(metric: "val_auc", by: 0.005, higherIsBetter: true))
        #expect(policy.rules[1].improve == nil)
        #expect(policy.rules[2].improve == PromotionImprovement(metric: "loss", by: 1, higherIsBetter: false))
        #expect(policy.rules[2].filter.comparisons.isEmpty)
    }

    @Test("the model is optional")
    func modelOptional() throws {
        let policy = try PromotionPolicy.parse(yaml: "rules: [{name: r, alias: a}]")
        #expect(policy.model == nil && policy.rules.count == 1)
    }

    @Test("each bad field is refused with its path in the message", arguments: [
        ("rules: [", "not valid YAML"),
        ("- a\n- b", "must be a mapping"),
        ("model: m", "`rules` is missing"),
        ("rules: []", "`rules` must be a non-empty list"),
        ("model: ''\nrules: [{name: r, alias: a}]", "`model` must be a non-empty string"),
        ("rules: [{name: r, alias: a}]\nextra: 1", "unknown field `extra`"),
        ("rules: [x]", "`rules[0]` must be a mapping"),
        ("rules: [{alias: a}]", "`rules[0].name` is missing"),
        ("rules: [{name: r}]", "`rules[0].alias` is missing"),
        ("rules: [{name: r, alias: [a]}]", "`rules[0].alias` must be a non-empty string"),
        ("rules: [{name: r, alias: latest}]", "`rules[0].alias`"),
        ("rules: [{name: r, alias: 'v12'}]", "`rules[0].alias`"),
        ("rules: [{name: r, alias: a, requires: 'x'}]", "unknown field `rules[0].requires`"),
        ("rules: [{name: r, alias: a, require: 3}]", "`rules[0].require` must be a string"),
        ("rules: [{name: r, alias: a, require: 'metrics.auc >> 1'}]", "`rules[0].require` is not a valid run filter"),
        ("rules: [{name: r, alias: a, require: \"metrics.auc = 'x'\"}]", "`rules[0].require` is not a valid run filter"),
        ("rules: [{name: r, alias: a, improve: auc}]", "`rules[0].improve` must be a mapping"),
        ("rules: [{name: r, alias: a, improve: {by: 1}}]", "`rules[0].improve.metric` is missing"),
        ("rules: [{name: r, alias: a, improve: {metric: m, by: x}}]", "`rules[0].improve.by` must be a number"),
        ("rules: [{name: r, alias: a, improve: {metric: m, by: -1}}]", "`rules[0].improve.by` must not be negative"),
        ("rules: [{name: r, alias: a, improve: {metric: m, higher_is_better: maybe}}]",
         "`rules[0].improve.higher_is_better` must be true or false"),
        ("rules: [{name: r, alias: a, improve: {metric: m, margin: 1}}]", "unknown field `rules[0].improve.margin`"),
        ("rules: [{name: r, alias: a}, {name: s, alias: a}]", "alias 'a' is already moved by rule 'r'"),
        ("rules: [{name: r, alias: a}, {name: r, alias: b}]", "rule name 'r' is used twice"),
    ])
    func badFields(yaml: String, expected: String) {
        let message = parseError(yaml)
        #expect(message?.contains(expected) == true, "\(yaml) -> \(message ?? "parsed")")
    }

    @Test("margins: met exactly despite floating point, either direction")
    func margins() {
        let higher = PromotionImprovement(metric: "auc", by: 0.005)
        #expect(higher.beats(0.805, 0.8))
        #expect(!higher.beats(0.8049, 0.8))
        #expect(PromotionImprovement(metric: "auc", by: 0).beats(0.8, 0.8))
        let lower = PromotionImprovement(metric: "loss", by: 0.1, higherIsBetter: false)
        #expect(lower.beats(0.4, 0.5))
        #expect(!lower.beats(0.45, 0.5))
    }

    @Test("a policy folder: one policy per named model, other files ignored, errors name the file")
    func policyFolder() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try "model: a\nrules: [{name: r, alias: x}]".write(toFile: folder.path + "/a.yaml", atomically: true, encoding: .utf8)
        try "model: b\nrules: [{name: r, alias: x}]".write(toFile: folder.path + "/b.yml", atomically: true, encoding: .utf8)
        try "not a policy".write(toFile: folder.path + "/notes.txt", atomically: true, encoding: .utf8)
        #expect(try PromotionPolicy.loadDirectory(folder.path).keys.sorted() == ["a", "b"])

        try "model: a\nrules: [{name: s, alias: y}]".write(toFile: folder.path + "/c.yaml", atomically: true, encoding: .utf8)
        #expect(throws: SwiftflowError.self) { try PromotionPolicy.loadDirectory(folder.path) }
        do {
            _ = try PromotionPolicy.loadDirectory(folder.path)
        } catch {
            #expect(error.message.contains("c.yaml") && error.message.contains("already has a policy"))
        }
        try "rules: [{name: s, alias: y}]".write(toFile: folder.path + "/c.yaml", atomically: true, encoding: .utf8)
        do {
            _ = try PromotionPolicy.loadDirectory(folder.path)
            Issue.record("a policy without model was accepted")
        } catch {
            #expect(error.message.contains("c.yaml") && error.message.contains("must name its `model`"))
        }
    }
}
