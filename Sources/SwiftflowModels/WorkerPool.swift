import Foundation
import Logging
import SwiftflowCore

/// How to start one model worker: the interpreter of the model's environment and the model folder.
public struct WorkerLaunch: Sendable {
    public var python: String
    public var modelDirectory: String
    public var environment: [String: String]
    /// The worker program; nil for the one compiled into the binary (tests give a stand-in).
    public var script: String?

    public init(python: String, modelDirectory: String, environment: [String: String], script: String? = nil) {
        self.python = python
        self.modelDirectory = modelDirectory
        self.environment = environment
        self.script = script
    }
}

/// A job for the workers: one request, raw or typed, and where its answer goes.
package final class WorkerJob: @unchecked Sendable {
    package enum Payload {
        case raw(contentType: String?, body: [UInt8])
        case typed(TypedRequest, batchKey: String)
    }

    let payload: Payload
    /// When the job gives up waiting for a free worker (the model's own time limit starts when a worker
    /// takes it).
    let deadline: ContinuousClock.Instant
    private let lock = NSLock()
    private var continuation: CheckedContinuation<WorkerAnswer, any Error>?
    private var done = false

    init(_ payload: Payload, deadline: ContinuousClock.Instant) {
        self.payload = payload
        self.deadline = deadline
    }

    func attach(_ continuation: CheckedContinuation<WorkerAnswer, any Error>) {
        lock.lock()
        if done {
            lock.unlock()
            continuation.resume(throwing: CancellationError())
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    /// Delivers the job's result once; later calls are ignored.
    func finish(_ result: Result<WorkerAnswer, any Error>) {
        lock.lock()
        guard !done else { lock.unlock(); return }
        done = true
        let continuation = self.continuation
        self.continuation = nil
        lock.unlock()
        continuation?.resume(with: result)
    }

    var isDone: Bool { lock.lock(); defer { lock.unlock() }; return done }
}

/// Long-lived Python workers that load the model once and answer framed requests over pipes.
///
/// Each worker has a dedicated thread doing blocking pipe I/O, so a slow model never occupies the
/// server's event loops. A free worker takes the oldest job and, for models that predict row by row,
/// every queued typed job with the same column layout and params, and predicts them in one call.
/// A worker that exits or overruns the request timeout fails its jobs with 503 and is replaced.
public final class WorkerPool: @unchecked Sendable {
    public let launch: WorkerLaunch
    public let size: Int
    public let timeout: Duration
    let batching: Bool
    let maxBatchRows: Int
    let logger: Logger

    private let condition = NSCondition()
    private var queue: [WorkerJob] = []
    private var workers: [Int: WorkerProcess] = [:]
    private var stopping = false
    private var reportedVersion = ""

    /// The mlflow version inside the model environment, reported by the workers at start.
    public var mlflowVersion: String {
        condition.lock()
        defer { condition.unlock() }
        return reportedVersion
    }

    public init(launch: WorkerLaunch, size: Int, timeout: Duration, batching: Bool, maxBatchRows: Int = 65_536,
                logger: Logger) {
        self.launch = launch
        self.size = max(1, size)
        self.timeout = timeout
        self.batching = batching
        self.maxBatchRows = maxBatchRows
        self.logger = logger
    }

    /// Starts every worker and waits until each has loaded the model.
    /// - Throws: the load error of the first worker that fails.
    public func start() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slot in 0..<size {
                group.addTask { try await self.spawn(slot: slot) }
            }
            try await group.waitForAll()
        }
        Thread.detachNewThread { [self] in watchdog() }
    }

    public func stop() {
        condition.lock()
        stopping = true
        let all = Array(workers.values)
        let pending = queue
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
        for worker in all { worker.kill() }
        for job in pending { job.finish(.failure(WorkerPool.unavailable("The model server is shutting down."))) }
    }

    /// Runs `payload` on a worker and answers its result.
    package func submit(_ payload: WorkerJob.Payload) async throws -> WorkerAnswer {
        // Waiting outlives a worker restart (loading a model takes seconds); running is held to `timeout`.
        let job = WorkerJob(payload, deadline: .now + max(timeout, Self.queueLimit))
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                job.attach(continuation)
                condition.lock()
                queue.append(job)
                condition.signal()
                condition.unlock()
            }
        } onCancel: {
            job.finish(.failure(CancellationError()))
        }
    }

    static let queueLimit = Duration.seconds(120)

    static func unavailable(_ message: String) -> SwiftflowError {
        SwiftflowError(.temporarilyUnavailable, message)
    }

    // MARK: workers

    private func spawn(slot: Int) async throws {
        let worker = try WorkerProcess(launch: launch, slot: slot, logger: logger)
        register(worker, mlflowVersion: try await worker.handshake())
        let thread = Thread { [self] in serveJobs(on: worker) }
        thread.name = "model-worker-\(slot)"
        thread.start()
    }

    private func register(_ worker: WorkerProcess, mlflowVersion version: String) {
        condition.lock()
        if reportedVersion.isEmpty { reportedVersion = version }
        workers[worker.slot] = worker
        condition.unlock()
    }

    /// The worker's thread: take jobs, exchange frames, deliver answers, until the worker dies.
    private func serveJobs(on worker: WorkerProcess) {
        while let jobs = nextJobs(for: worker) {
            let frame: [UInt8]
            if case .raw(let contentType, let body) = jobs[0].payload {
                frame = WorkerFrame.raw(contentType: contentType, body: body)
            } else {
                frame = WorkerFrame.batch(jobs.map { job in
                    guard case .typed(let request, _) = job.payload else { preconditionFailure("typed batch") }
                    return request
                })
            }
            worker.markBusy(until: .now + timeout)
            let reply = worker.exchange(frame)
            worker.markIdle()
            if let reply, let answers = WorkerFrame.answers(reply), answers.count == jobs.count {
                for (job, answer) in zip(jobs, answers) { job.finish(.success(answer)) }
                continue
            }
            let reason = worker.timedOut
                ? "The model worker did not answer within \(timeout.components.seconds) seconds and was restarted."
                : "The model worker exited unexpectedly (\(worker.exitDescription())) and was restarted."
            logger.error("\(reason)")
            for job in jobs { job.finish(.failure(Self.unavailable(reason))) }
            replace(worker)
            return
        }
    }

    /// Blocks until there is work (nil when the pool stops). Expired jobs are failed here.
    private func nextJobs(for worker: WorkerProcess) -> [WorkerJob]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return nil }
            let now = ContinuousClock.now
            queue.removeAll { job in
                if job.isDone { return true }
                if job.deadline <= now {
                    job.finish(.failure(Self.unavailable("No model worker became free within \(max(timeout, Self.queueLimit).components.seconds) seconds.")))
                    return true
                }
                return false
            }
            if !queue.isEmpty { break }
            condition.wait()
        }
        let first = queue.removeFirst()
        guard batching, case .typed(let request, let key) = first.payload, request.batchable else { return [first] }
        var jobs = [first]
        var rows = request.rowCount
        var kept: [WorkerJob] = []
        for job in queue {
            if case .typed(let other, let otherKey) = job.payload, otherKey == key, other.batchable,
               rows + other.rowCount <= maxBatchRows {
                jobs.append(job)
                rows += other.rowCount
            } else {
                kept.append(job)
            }
        }
        queue = kept
        return jobs
    }

    private func replace(_ worker: WorkerProcess) {
        worker.kill()
        condition.lock()
        let stop = stopping
        condition.unlock()
        guard !stop else { return }
        Task {
            var delay = Duration.milliseconds(100)
            while true {
                do {
                    try await spawn(slot: worker.slot)
                    logger.info("Model worker \(worker.slot) restarted.")
                    return
                } catch {
                    logger.error("Model worker \(worker.slot) failed to restart: \(error)")
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(10))
                }
            }
        }
    }

    /// Kills workers that overrun their deadline and fails queued jobs whose deadline passed.
    private func watchdog() {
        while true {
            Thread.sleep(forTimeInterval: 0.1)
            condition.lock()
            if stopping { condition.unlock(); return }
            let all = Array(workers.values)
            let expired = queue.contains { $0.deadline <= .now }
            if expired { condition.broadcast() }
            condition.unlock()
            for worker in all where worker.overran { worker.killForTimeout() }
            if expired { failExpired() }
        }
    }

    private func failExpired() {
        condition.lock()
        let now = ContinuousClock.now
        var expired: [WorkerJob] = []
        queue.removeAll { job in
            if job.deadline <= now { expired.append(job); return true }
            return job.isDone
        }
        condition.unlock()
        for job in expired {
            job.finish(.failure(Self.unavailable("No model worker became free within \(max(timeout, Self.queueLimit).components.seconds) seconds.")))
        }
    }
}
