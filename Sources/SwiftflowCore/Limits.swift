/// MLflow's validation limits (mlflow/utils/validation.py), defined once.
public enum Limits {
    public static let maxEntityKeyLength = 250
    public static let maxParamValueLength = 6000
    public static let maxTagValueLength = 8000
    public static let maxExperimentNameLength = 500
    public static let maxExperimentTagKeyLength = 250
    public static let maxExperimentTagValueLength = 20000
    public static let maxParamsTagsPerBatch = 100
    public static let maxMetricsPerBatch = 1000
    public static let maxEntitiesPerBatch = 1000
    public static let maxDatasetsPerBatch = 1000
    public static let maxBatchLogRequestSize = 1_000_000
    public static let maxExperimentsListedPerPage = 50000
    public static let maxRunsSearchResults = 50000
    public static let maxDatasetNameSize = 500
    public static let maxDatasetDigestSize = 36
    public static let maxDatasetSchemaSize = 1_048_575
    public static let maxDatasetSourceSize = 65535
    public static let maxDatasetProfileSize = 16_777_215
    public static let maxInputTagKeySize = 255
    public static let maxInputTagValueSize = 500
    public static let maxRunNameLength = 250
    /// Runs per `get-history-bulk` / `get-history-bulk-interval` request.
    public static let maxRunsPerHistoryBulk = 100
    /// Points per run `get-history-bulk-interval` samples at most (its default).
    public static let maxSampledPointsPerRun = 2500
    /// Points `get-history-bulk` returns at most.
    public static let maxHistoryBulkPoints = 25000
    /// The largest request body the server reads; MLflow's log-batch cap plus room for JSON syntax.
    public static let maxRequestBodySize = 16 * 1024 * 1024
}
