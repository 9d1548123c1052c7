import SQLKit
import SwiftflowCore
import Synchronization

/// Group commit for metric-only writes (log-metric, metric-only log-batch).
///
/// Requests that arrive while a write is running wait together and go to the database as one
/// statement, which is atomic: every request in it is acknowledged only after it committed. If the
/// combined statement fails (one run was deleted meanwhile, say), each request is retried alone so
/// that one bad request never fails another.
package final class MetricCoalescer: Sendable {
    package typealias Insert = @Sendable (any SQLDatabase, [(runId: String, metrics: [Metric])]) async throws -> Void

    private struct Pending {
        var runId: String
        var metrics: [Metric]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let executor: any DatabaseExecutor
    private let insert: Insert
    /// The most points one combined statement carries.
    private let maxPoints: Int

    package init(executor: any DatabaseExecutor, maxPoints: Int = 10_000, insert: @escaping Insert) {
        self.executor = executor
        self.maxPoints = maxPoints
        self.insert = insert
    }

    /// Writes `metrics` for `runId`; returns once they are committed.
    package func write(runId: String, metrics: [Metric]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startDraining = state.withLock { state -> Bool in
                state.pending.append(Pending(runId: runId, metrics: metrics, continuation: continuation))
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDraining {
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                guard !state.pending.isEmpty else {
                    state.draining = false
                    return []
                }
                var taken = 0
                var count = 0
                for item in state.pending {
                    if count > 0 && taken + item.metrics.count > maxPoints { break }
                    taken += item.metrics.count
                    count += 1
                }
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            await flush(batch)
        }
    }

    private func flush(_ batch: [Pending]) async {
        let items = batch.map { (runId: $0.runId, metrics: $0.metrics) }
        do {
            try await executor.writeStatement { db in try await self.insert(db, items) }
            for item in batch { item.continuation.resume() }
        } catch {
            // An unreachable database would fail each one alone too, each after its own wait.
            if batch.count == 1 || (error as? SwiftflowError)?.code == .temporarilyUnavailable {
                for item in batch { item.continuation.resume(throwing: error) }
                return
            }
            for item in batch {
                do {
                    try await executor.writeStatement { db in try await self.insert(db, [(item.runId, item.metrics)]) }
                    item.continuation.resume()
                } catch {
                    item.continuation.resume(throwing: error)
                }
            }
        }
    }
}
