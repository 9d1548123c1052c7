/// One point of a metric and the run it belongs to: the items of the bulk history endpoints.
public struct MetricWithRunId: Sendable, Equatable {
    public var runId: String
    public var metric: Metric

    public init(runId: String, metric: Metric) {
        self.runId = runId
        self.metric = metric
    }
}
