/// One point of a metric and the run it belongs to: the items of the bulk history endpoints.
public struct MetricWithRunId: Sendable, Equatable {
    public var runId: String
    public var metric: Metric

    public init(runId: String, metric: Metric) {
        self.runId = runId
        self.metric = metric
    }
}

/// A dataset some run of an experiment used, with the context it was used in (`search-datasets`).
public struct DatasetSummary: Sendable, Equatable {
    public var experimentId: String
    public var name: String
    public var digest: String
    public var context: String?

    public init(experimentId: String, name: String, digest: String, context: String?) {
        self.experimentId = experimentId
        self.name = name
        self.digest = digest
        self.context = context
    }
}
