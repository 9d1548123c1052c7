import NIOConcurrencyHelpers
import SwiftflowCore

/// Collects a run's metric points and sends them in the background in `log-batch` requests.
///
/// `add` appends under a lock and returns at once: no actor hop per point, so a training loop pays
/// nanoseconds per logged value. A sender task sends up to ``batchSize`` points per request, waiting
/// ``linger`` for a batch to fill when points come slowly. The queue is bounded: when ``capacity`` points
/// wait, `add` waits for the sender, so memory stays bounded whatever the rate. A failed request (after the
/// transport's retries) stops the sender; the next `add` or ``flush()`` throws its error.
final class MetricBatcher: Sendable {
    private struct State {
        var pending: [Metric] = []
        var sending = false
        var urgent = false
        var failure: SwiftflowError?
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var sentPoints = 0
        var requests = 0
    }

    let client: MlflowClient
    let runId: String
    let batchSize: Int
    let capacity: Int
    let linger: Duration
    private let state = NIOLockedValueBox(State())

    init(client: MlflowClient, runId: String, batchSize: Int = MlflowClient.BatchLimits.metrics,
         capacity: Int = 50_000, linger: Duration = .milliseconds(50)) {
        self.client = client
        self.runId = runId
        self.batchSize = max(1, min(batchSize, MlflowClient.BatchLimits.metrics))
        self.capacity = max(capacity, self.batchSize)
        self.linger = linger
    }

    /// Points sent and requests made so far.
    var traffic: (points: Int, requests: Int) { state.withLockedValue { ($0.sentPoints, $0.requests) } }

    nonisolated(nonsending) func add(_ metric: Metric) async throws(SwiftflowError) {
        try await add(CollectionOfOne(metric))
    }

    private enum Outcome { case added(startSender: Bool), full, failed(SwiftflowError) }

    nonisolated(nonsending) func add<Points: Collection<Metric>>(_ metrics: Points) async throws(SwiftflowError) {
        while true {
            let outcome = state.withLockedValue { state -> Outcome in
                if let failure = state.failure { return .failed(failure) }
                if state.pending.count >= capacity { return .full }
                state.pending.append(contentsOf: metrics)
                guard !state.sending else { return .added(startSender: false) }
                state.sending = true
                return .added(startSender: true)
            }
            switch outcome {
            case .added(let start):
                if start { startSender() }
                return
            case .failed(let error):
                throw error
            case .full:
                await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                    let now = state.withLockedValue { state -> Bool in
                        guard state.pending.count >= capacity, state.failure == nil, state.sending else { return true }
                        state.spaceWaiters.append(waiter)
                        return false
                    }
                    if now { waiter.resume() }
                }
            }
        }
    }

    /// Sends every queued point now; throws the error of a failed request.
    func flush() async throws(SwiftflowError) {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let (now, start) = state.withLockedValue { state -> (Bool, Bool) in
                if state.failure != nil || (state.pending.isEmpty && !state.sending) { return (true, false) }
                state.urgent = true
                state.drainWaiters.append(waiter)
                guard !state.sending else { return (false, false) }
                state.sending = true
                return (false, true)
            }
            if now { waiter.resume() }
            if start { startSender() }
        }
        if let failure = state.withLockedValue({ $0.failure }) { throw failure }
    }

    private func startSender() {
        Task { await self.send() }
    }

    private func send() async {
        while true {
            if state.withLockedValue({ $0.pending.count < batchSize && !$0.urgent }) {
                try? await Task.sleep(for: linger)
            }
            var waiters: [CheckedContinuation<Void, Never>] = []
            let batch = state.withLockedValue { state -> [Metric]? in
                if state.failure != nil || state.pending.isEmpty {
                    // Stopping: whoever adds next starts a new sender.
                    state.sending = false
                    state.urgent = false
                    waiters = state.spaceWaiters + state.drainWaiters
                    state.spaceWaiters = []
                    state.drainWaiters = []
                    return nil
                }
                var batch: [Metric] = []
                if state.pending.count <= batchSize {
                    swap(&batch, &state.pending)
                } else {
                    batch = Array(state.pending.prefix(batchSize))
                    state.pending.removeFirst(batchSize)
                }
                waiters = state.spaceWaiters
                state.spaceWaiters = []
                return batch
            }
            for waiter in waiters { waiter.resume() }
            guard let batch else { return }
            do {
                try await client.logBatch(runId: runId, metrics: batch)
                state.withLockedValue {
                    $0.sentPoints += batch.count
                    $0.requests += 1
                }
            } catch {
                state.withLockedValue { $0.failure = error }
            }
        }
    }
}
