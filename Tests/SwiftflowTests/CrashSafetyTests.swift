import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftflowCore
import Synchronization
import Testing

/// Starts the `swiftflow` binary built beside the test bundle, on a free port, over a data folder.
final class ServerProcess {
    let port: Int
    let process = Process()

    init(dataFolder: String) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("swiftflow").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw SwiftflowError(.internalError, "no swiftflow binary at \(binary): build with --build-tests first")
        }
        port = try Self.freePort()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "server", "--port", String(port), "--backend-store-uri", "sqlite:///\(dataFolder)/mlflow.db",
            "--artifacts-destination", dataFolder + "/artifacts", "--log-level", "error",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: dataFolder)
        try process.run()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func waitUntilReady() async throws {
        for _ in 0..<200 {
            if let (_, status) = try? await HTTP.send("GET", base + "/health"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SwiftflowError(.internalError, "server on port \(port) did not start")
    }

    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw SwiftflowError(.internalError, "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum HTTP {
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        return URLSession(configuration: configuration)
    }()

    static func send(_ method: String, _ url: String, json: String? = nil) async throws -> (JSONValue, Int) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let value = (try? JSONParser.parse([UInt8](data))) ?? .null
        return (value, status)
    }
}

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
        let server = try ServerProcess(dataFolder: folder.path)
        defer { server.stop() }
        try await server.waitUntilReady()
        let api = server.base + "/api/2.0/mlflow"
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

        let restarted = try ServerProcess(dataFolder: folder.path)
        defer { restarted.stop() }
        try await restarted.waitUntilReady()
        let (fetched, status) = try await HTTP.send("GET", restarted.base + "/api/2.0/mlflow/runs/get?run_id=\(runId)")
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
                "GET", restarted.base + "/api/2.0/mlflow/metrics/get-history?run_id=\(runId)&metric_key=\(key)")
            var steps = Set<Int>()
            if case .array(let points) = history["metrics"] {
                for point in points { if case .number(let step) = point["step"], let value = Int(step) { steps.insert(value) } }
            }
            let stored = Set(params.keys.compactMap { Int($0.dropFirst()) })
            #expect(steps == stored, "metric \(key) points must match the stored batches exactly")
        }
    }
}
