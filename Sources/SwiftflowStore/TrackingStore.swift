import SwiftflowCore

/// Experiments, runs and everything logged to them, MLflow 3 logged models included.
///
/// Every method that writes is one transaction. Errors are `SwiftflowError`s with MLflow's codes:
/// `RESOURCE_DOES_NOT_EXIST` for unknown ids, `RESOURCE_ALREADY_EXISTS` for taken names,
/// `INVALID_PARAMETER_VALUE` for input MLflow rejects (changed params, writes to deleted runs, ...).
public protocol TrackingStore: LoggedModelStore {
    // MARK: - Experiments

    /// - Returns: the new experiment's id.
    func createExperiment(name: String, artifactLocation: String?, tags: [ExperimentTag]) async throws -> String
    func getExperiment(id: String) async throws -> Experiment
    /// - Returns: the experiment, deleted or not, or nil if no experiment has that name.
    func getExperiment(name: String) async throws -> Experiment?
    func renameExperiment(id: String, newName: String) async throws
    func deleteExperiment(id: String) async throws
    func restoreExperiment(id: String) async throws
    func setExperimentTag(id: String, tag: ExperimentTag) async throws
    func deleteExperimentTag(id: String, key: String) async throws
    /// - Parameter visibility: the experiments the caller may read; the others are left out of every page.
    func searchExperiments(
        filter: SearchFilter, viewType: ViewType, maxResults: Int, orderBy: [OrderByClause], pageToken: String?,
        visibility: Visibility
    ) async throws -> Page<Experiment>

    // MARK: - Runs

    func createRun(
        experimentId: String, userId: String, startTime: Int64, runName: String?, tags: [RunTag]
    ) async throws -> Run
    func getRun(id: String) async throws -> Run
    /// The experiment of a run, deleted or not, or nil if there is no such run (for authorization).
    func experimentId(ofRun runId: String) async throws -> String?
    /// - Returns: the run's info after the change.
    func updateRun(id: String, status: RunStatus?, endTime: Int64?, runName: String?) async throws -> RunInfo
    func deleteRun(id: String) async throws
    func restoreRun(id: String) async throws
    func setTag(runId: String, tag: RunTag) async throws
    func deleteTag(runId: String, key: String) async throws
    /// Logs metrics, params and tags in one transaction; params never change once logged. A metric whose
    /// `link` names a logged model is also recorded on that model.
    /// - Throws: `BAD_REQUEST` if a linked model does not exist or already has a different value for the
    ///   point (same key, timestamp, step and run).
    func logBatch(runId: String, metrics: [Metric], params: [Param], tags: [RunTag]) async throws
    /// Links datasets and logged models (which need not exist, as in MLflow) to the run as its inputs.
    func logInputs(runId: String, inputs: [DatasetInput], models: [LoggedModelInput]) async throws
    /// Every point of one metric, ordered as MLflow orders them (timestamp, step, value).
    func metricHistory(runId: String, key: String, maxResults: Int?, pageToken: String?) async throws -> Page<Metric>
    func searchRuns(
        experimentIds: [String], filter: SearchFilter, viewType: ViewType, maxResults: Int,
        orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<Run>

    /// Up to `maxResults` points of one metric per run, for charts: the points in `steps` (all if nil)
    /// ordered by step, timestamp, value, split into `maxResults` equal buckets, the first point of
    /// each kept and the last point always included. Unknown runs contribute nothing.
    func sampledMetricHistory(
        runIds: [String], key: String, maxResults: Int, steps: ClosedRange<Int64>?
    ) async throws -> [MetricWithRunId]
    /// The first `maxResults` points of one metric over several runs, ordered by run id, then
    /// timestamp, step and value. Unknown runs contribute nothing.
    func metricHistoryBulk(runIds: [String], key: String, maxResults: Int) async throws -> [MetricWithRunId]
    /// The distinct (dataset, context) pairs the experiments' runs used, at most 1,000.
    func searchDatasets(experimentIds: [String]) async throws -> [DatasetSummary]
}

extension TrackingStore {
    /// Links datasets to the run as its inputs.
    public func logInputs(runId: String, inputs: [DatasetInput]) async throws {
        try await logInputs(runId: runId, inputs: inputs, models: [])
    }
}

extension TrackingStore {
    /// Every experiment matching, whoever asks.
    public func searchExperiments(
        filter: SearchFilter, viewType: ViewType, maxResults: Int, orderBy: [OrderByClause], pageToken: String?
    ) async throws -> Page<Experiment> {
        try await searchExperiments(
            filter: filter, viewType: viewType, maxResults: maxResults, orderBy: orderBy, pageToken: pageToken,
            visibility: .all)
    }
}
