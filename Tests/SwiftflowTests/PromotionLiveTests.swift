import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftflowCore
import Testing

/// Promotion by policy over real HTTP: the two endpoints, `--registry-policies` and the CLI.
@Suite("Live server: promotion by policy", .serialized)
struct PromotionLiveTests {
    static let policy = """
        model: churn
        rules:
          - name: auc-beats-champion
            alias: champion
            require: "tags.validated = 'true'"
            improve: {metric: val_auc, by: 0.005}
        """

    /// Logs a run with `val_auc` and `validated=true` and registers it as the next version of `churn`.
    static func addVersion(_ server: ServerProcess, experimentId: String, auc: Double) async throws {
        let api = server.api
        let (created, _) = try await HTTP.send(
            "POST", api + "/runs/create", json: #"{"experiment_id": "\#(experimentId)", "start_time": 1}"#)
        guard case .string(let runId) = created["run"]?["info"]?["run_id"] else {
            Issue.record("no run in \(created)")
            return
        }
        _ = try await HTTP.send("POST", api + "/runs/log-batch", json: """
            {"run_id": "\(runId)", "metrics": [{"key": "val_auc", "value": \(auc), "timestamp": 1, "step": 0}],
             "tags": [{"key": "validated", "value": "true"}]}
            """)
        let (_, status) = try await HTTP.send("POST", api + "/model-versions/create", json: """
            {"name": "churn", "source": "runs:/\(runId)/model", "run_id": "\(runId)"}
            """)
        #expect(status == 200)
    }

    static func champion(_ server: ServerProcess) async throws -> JSONValue? {
        let (alias, _) = try await HTTP.send("GET", server.api + "/registered-models/alias?name=churn&alias=champion")
        return alias["model_version"]?["version"]
    }

    /// The first decision of a promote answer.
    static func decision(_ answer: JSONValue) -> JSONValue? {
        guard case .array(let decisions) = answer["decisions"] else { return nil }
        return decisions.first
    }

    static func jsonString(_ text: String) -> String {
        String(decoding: JSONWriter.encode(style: .line) { $0.string(text) }, as: UTF8.self)
    }

    @Test("promote (dry run and real), history, errors, and policies applied on version creation")
    func endpoints() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let policies = folder.path + "/policies"
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        try Self.policy.write(toFile: policies + "/churn.yaml", atomically: true, encoding: .utf8)
        let server = try await ServerProcess.started(
            dataFolder: folder.path,
            options: ServerProcess.defaultOptions(dataFolder: folder.path) + ["--registry-policies", policies])
        defer { server.stop() }
        let api = server.api
        let swiftflow = server.base + "/api/2.0/swiftflow/registry"

        let (experiment, _) = try await HTTP.send("POST", api + "/experiments/create", json: #"{"name": "e"}"#)
        guard case .string(let experimentId) = experiment["experiment_id"] else {
            Issue.record("no experiment in \(experiment)")
            return
        }
        _ = try await HTTP.send("POST", api + "/registered-models/create", json: #"{"name": "churn"}"#)

        // The server applies the folder's policy on creation: version 1 becomes champion, 2 does not
        // beat it by the margin, 3 does.
        try await Self.addVersion(server, experimentId: experimentId, auc: 0.80)
        #expect(try await Self.champion(server) == .string("1"))
        try await Self.addVersion(server, experimentId: experimentId, auc: 0.803)
        #expect(try await Self.champion(server) == .string("1"))
        try await Self.addVersion(server, experimentId: experimentId, auc: 0.81)
        #expect(try await Self.champion(server) == .string("3"))

        // Explicit evaluation with a stricter margin: nothing qualifies.
        let strict = Self.policy.replacingOccurrences(of: "by: 0.005", with: "by: 0.5")
        let (dry, dryStatus) = try await HTTP.send(
            "POST", swiftflow + "/promote", json: #"{"policy": \#(Self.jsonString(strict)), "dry_run": true}"#)
        #expect(dryStatus == 200)
        #expect(dry["name"] == .string("churn"))
        #expect(Self.decision(dry)?["current_version"] == .number("3"))
        #expect(Self.decision(dry)?["chosen_version"] == nil)

        // A policy without improve moves the alias to the newest validated version; the user is recorded.
        let newest = "rules: [{name: newest, alias: champion, require: \"tags.validated = 'true'\"}]"
        try await Self.addVersion(server, experimentId: experimentId, auc: 0.1)  // 4: worse, kept out by the hook
        #expect(try await Self.champion(server) == .string("3"))
        let (dryNewest, _) = try await HTTP.send("POST", swiftflow + "/promote", json: """
            {"name": "churn", "policy": \(Self.jsonString(newest)), "dry_run": true}
            """)
        #expect(Self.decision(dryNewest)?["chosen_version"] == .number("4"))
        #expect(Self.decision(dryNewest)?["applied"] == .bool(false))
        #expect(try await Self.champion(server) == .string("3"))
        let (real, _) = try await HTTP.send("POST", swiftflow + "/promote", json: """
            {"name": "churn", "policy": \(Self.jsonString(newest)), "user": "alice"}
            """)
        #expect(Self.decision(real)?["applied"] == .bool(true))
        #expect(Self.decision(real)?["promotion"]?["old_version"] == .number("3"))
        #expect(try await Self.champion(server) == .string("4"))

        let (history, historyStatus) = try await HTTP.send("GET", swiftflow + "/promotions?name=churn")
        #expect(historyStatus == 200)
        guard case .array(let records) = history["promotions"] else {
            Issue.record("no promotions in \(history)")
            return
        }
        #expect(records.map { $0["new_version"] } == [.number("4"), .number("3"), .number("1")])
        #expect(records.map { $0["actor"] } == [.string("alice"), .string("policy"), .string("policy")])
        #expect(records.map { $0["rule"] } == [.string("newest"), .string("auc-beats-champion"), .string("auc-beats-champion")])
        #expect(records[2]["old_version"] == nil)

        // The X-Swiftflow-User header wins over the `user` field; without either the actor is "unknown".
        try await Self.addVersion(server, experimentId: experimentId, auc: 0.1)  // 5
        var request = URLRequest(url: URL(string: swiftflow + "/promote")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("carol", forHTTPHeaderField: "X-Swiftflow-User")
        request.httpBody = Data(#"{"name": "churn", "policy": \#(Self.jsonString(newest)), "user": "alice"}"#.utf8)
        let (data, _) = try await HTTP.session.data(for: request)
        let byHeader = try JSONParser.parse([UInt8](data))
        #expect(Self.decision(byHeader)?["promotion"]?["actor"] == .string("carol"))
        try await Self.addVersion(server, experimentId: experimentId, auc: 0.1)  // 6
        let (anonymous, _) = try await HTTP.send("POST", swiftflow + "/promote", json: """
            {"name": "churn", "policy": \(Self.jsonString(newest))}
            """)
        #expect(Self.decision(anonymous)?["promotion"]?["actor"] == .string("unknown"))
        #expect(Self.decision(anonymous)?["promotion"]?["old_version"] == .number("5"))

        // Errors are MLflow-shaped.
        let (bad, badStatus) = try await HTTP.send(
            "POST", swiftflow + "/promote", json: #"{"name": "churn", "policy": "rules: [{name: r}]"}"#)
        #expect(badStatus == 400 && LiveServerTests.errorCode(bad) == "INVALID_PARAMETER_VALUE")
        let (unknown, unknownStatus) = try await HTTP.send(
            "POST", swiftflow + "/promote", json: #"{"name": "nope", "policy": "rules: [{name: r, alias: a}]"}"#)
        #expect(unknownStatus == 404 && LiveServerTests.errorCode(unknown) == "RESOURCE_DOES_NOT_EXIST")
        let (_, missingStatus) = try await HTTP.send("GET", swiftflow + "/promotions")
        #expect(missingStatus == 400)

        // The CLI reads the same trail.
        let output = try Self.runCLI(["registry", "history", "churn", "--tracking-uri", server.base])
        #expect(output.contains("champion") && output.contains("alice") && output.contains("auc-beats-champion"))
        let policyFile = folder.path + "/strict.yaml"
        try strict.write(toFile: policyFile, atomically: true, encoding: .utf8)
        let promoted = try Self.runCLI(
            ["registry", "promote", "--policy", policyFile, "--dry-run", "--tracking-uri", server.base])
        #expect(promoted.contains("dry run") && promoted.contains("no candidate qualifies"))
    }

    /// Runs the `swiftflow` binary and returns its standard output.
    static func runCLI(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("swiftflow")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "swiftflow \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }
}
