import Foundation
import Logging
import SwiftflowCore
import SwiftflowModels
import Testing

/// A stand-in for the model worker: the same frames, no mlflow. Raw bodies `crash` and `sleep S`
/// misbehave on purpose; typed batches answer each request with its row count and the batch size.
private let fakeWorker = #"""
    import json, os, struct, sys, time
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    out = os.fdopen(os.dup(1), "wb", buffering=0)

    def rx(n):
        data = b""
        while len(data) < n:
            chunk = inp.read(n - len(data))
            if not chunk:
                sys.exit(0)
            data += chunk
        return data

    def frame():
        return rx(struct.unpack("<I", rx(4))[0])

    def send(payload):
        out.write(struct.pack("<I", len(payload)) + payload)

    def answers(results):
        parts = [struct.pack("<I", len(results))]
        for status, media, body in results:
            parts.append(struct.pack("<HB", status, len(media)) + media.encode() + struct.pack("<I", len(body)) + body)
        return b"".join(parts)

    if sys.argv[2].endswith("fail"):
        send(json.dumps({"ok": False, "error": "no model here"}).encode())
        sys.exit(1)
    send(json.dumps({"ok": True, "mlflow_version": "9.9.9"}).encode())
    while True:
        p = frame()
        (n,) = struct.unpack_from("<I", p, 1)
        if p[:1] == b"R":
            body = p[5 + n:]
            if body == b"crash":
                os._exit(3)
            if body.startswith(b"sleep "):
                time.sleep(float(body[6:]))
            send(answers([(200, "text/plain", b"raw:" + body)]))
        else:
            counts = json.loads(p[5:5 + n])["counts"]
            send(answers([(200, "application/json", json.dumps({"rows": c, "batch": len(counts)}).encode()) for c in counts]))
    """#

@Suite("Model worker pool", .serialized)
struct WorkerPoolTests {
    private func makePool(size: Int = 1, timeout: Duration = .seconds(30), model: String = "ok") throws -> WorkerPool {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftflow-pool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("fake_worker.py")
        try fakeWorker.write(to: script, atomically: true, encoding: .utf8)
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let python = try #require(path.split(separator: ":").map { "\($0)/python3" }
            .first { FileManager.default.isExecutableFile(atPath: $0) })
        var logger = Logger(label: "test.pool")
        logger.logLevel = .critical
        return WorkerPool(
            launch: WorkerLaunch(python: python, modelDirectory: directory.appendingPathComponent(model).path,
                                 environment: ProcessInfo.processInfo.environment, script: script.path),
            size: size, timeout: timeout, batching: true, logger: logger)
    }

    private func raw(_ pool: WorkerPool, _ body: String) async throws -> String {
        let answer = try await pool.submit(.raw(contentType: "text/plain", body: Array(body.utf8)))
        return String(decoding: answer.body, as: UTF8.self)
    }

    private func typed(_ pool: WorkerPool, rows: Int) async throws -> String {
        let data = Array(repeating: "[1.5]", count: rows).joined(separator: ",")
        let model = try MLmodel.parse(yaml: "flavors: {python_function: {loader_module: mlflow.sklearn}}\n")
        let request = try #require(TypedRequest.parse(
            body: Array(#"{"dataframe_split": {"columns": ["x"], "data": [\#(data)]}}"#.utf8),
            contract: TypedRequest.Contract(model: model)))
        let answer = try await pool.submit(.typed(request, batchKey: request.batchKey))
        return String(decoding: answer.body, as: UTF8.self)
    }

    @Test("workers start, report their mlflow version and answer raw requests")
    func answers() async throws {
        let pool = try makePool(size: 2)
        try await pool.start()
        defer { pool.stop() }
        #expect(pool.mlflowVersion == "9.9.9")
        #expect(try await raw(pool, "hello") == "raw:hello")
    }

    @Test("typed requests queued behind a busy worker are predicted as one batch")
    func batches() async throws {
        let pool = try makePool()
        try await pool.start()
        defer { pool.stop() }
        async let busy = raw(pool, "sleep 0.5")
        try await Task.sleep(for: .milliseconds(150))
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for rows in 1...5 { group.addTask { try await typed(pool, rows: rows) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(try await busy == "raw:sleep 0.5")
        #expect(Set(answers) == Set((1...5).map { #"{"rows": \#($0), "batch": 5}"# }))
    }

    @Test("a worker that dies fails its request with 503 and is replaced")
    func crash() async throws {
        let pool = try makePool()
        try await pool.start()
        defer { pool.stop() }
        do {
            _ = try await raw(pool, "crash")
            Issue.record("a crashed worker answered")
        } catch let error as SwiftflowError {
            #expect(error.code == .temporarilyUnavailable)
            #expect(error.message.contains("exited unexpectedly"))
        }
        #expect(try await raw(pool, "again") == "raw:again")
    }

    @Test("a worker that overruns the timeout is killed: 503 within the timeout, then a new worker answers")
    func hang() async throws {
        let pool = try makePool(timeout: .seconds(1))
        try await pool.start()
        defer { pool.stop() }
        let start = ContinuousClock.now
        do {
            _ = try await raw(pool, "sleep 30")
            Issue.record("a hung worker answered")
        } catch let error as SwiftflowError {
            #expect(error.code == .temporarilyUnavailable)
            #expect(error.message.contains("did not answer within 1 seconds"))
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(try await raw(pool, "after") == "raw:after")
    }

    @Test("a model that does not load stops the start with the worker's reason")
    func loadFailure() async throws {
        let pool = try makePool(model: "fail")
        do {
            try await pool.start()
            Issue.record("the pool started")
        } catch let error as SwiftflowError {
            #expect(error.message.contains("no model here"))
        }
        pool.stop()
    }
}
