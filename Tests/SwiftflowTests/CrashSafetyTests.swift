import Foundation
import SwiftflowCore
import Synchronization
import Testing

/// The batches the server acknowledged, shared by the writer tasks.
final class Acknowledged: Sendable {
    let indices = Mutex<[Int]>([])
}

@Suite("Crash safety", .serialized)
struct CrashSafetyTests {
    @Test("a server killed with SIGKILL during a stream of writes restarts with every acknowledged write")
    func sigkillKeepsAcknowledgedWrites() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let api = server.api
        let (created, _) = try await HTTP.send("POST", api + "/experiments/create", json: #"{"name": "crash"}"#)
        guard case .string(let experimentId) = created["experiment_id"] else { throw SwiftflowError(.internalError, "no id") }
        let (run, _) = try await HTTP.send("POST", api + "/runs/create", json: #"{"experiment_id": "\#(experimentId)"}"#)
        guard case .string(let runId) = run["run"]?["info"]?["run_id"] else { throw SwiftflowError(.internalError, "no run") }

        // Four writers, each a stream of log-batch requests (a param and three metric points each);
        // a batch counts as written only once the server answered 200.
        let acknowledged = Acknowledged()
        let writers = (0..<4).map { writer in
            Task {
                var index = writer
                while !Task.isCancelled {
                    let body = """
                        {"run_id": "\(runId)", "params": [{"key": "p\(index)", "value": "v\(index)"}],
                         "metrics": [{"key": "a", "value": \(index), "timestamp": \(index), "step": \(index)},
                                     {"key": "b", "value": \(index), "timestamp": \(index), "step": \(index)},
                                     {"key": "c", "value": \(index), "timestamp": \(index), "step": \(index)}]}
                        """
                    guard let (_, status) = try? await HTTP.send("POST", api + "/runs/log-batch", json: body),
                        status == 200
                    else { return }
                    acknowledged.indices.withLock { $0.append(index) }
                    index += 4
                }
            }
        }
        try await Task.sleep(for: .milliseconds(800))
        server.kill()
        for writer in writers { _ = await writer.value }
        let written = acknowledged.indices.withLock { $0 }
        #expect(written.count > 20, "the writers should have been acknowledged before the kill")

        let restarted = try await ServerProcess.started(dataFolder: folder.path)
        defer { restarted.stop() }
        let (fetched, status) = try await HTTP.send("GET", restarted.api + "/runs/get?run_id=\(runId)")
        #expect(status == 200)
        var params: [String: String] = [:]
        if case .array(let items) = fetched["run"]?["data"]?["params"] {
            for item in items {
                if case .string(let key) = item["key"], case .string(let value) = item["value"] { params[key] = value }
            }
        }
        for index in written {
            #expect(params["p\(index)"] == "v\(index)", "acknowledged batch \(index) lost its param")
        }
        // Each batch is all-or-nothing: a stored param comes with all three of its points.
        for key in ["a", "b", "c"] {
            let (history, _) = try await HTTP.send(
                "GET", restarted.api + "/metrics/get-history?run_id=\(runId)&metric_key=\(key)")
            var steps = Set<Int>()
            if case .array(let points) = history["metrics"] {
                for point in points { if case .number(let step) = point["step"], let value = Int(step) { steps.insert(value) } }
            }
            let stored = Set(params.keys.compactMap { Int($0.dropFirst()) })
            #expect(steps == stored, "metric \(key) points must match the stored batches exactly")
        }
    }
}
