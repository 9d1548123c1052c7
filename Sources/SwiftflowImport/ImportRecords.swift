/// What an MLflow store holds, as the importer carries it from a source to our tables. The fields are
/// the source's own values: nothing is recomputed on the way but what our schema requires.

struct KeyValue: Sendable, Equatable {
    var key: String
    var value: String
}

struct ExperimentRecord: Sendable {
    var id: Int64
    var name: String
    var artifactLocation: String
    var lifecycleStage: String
    var creationTime: Int64
    var lastUpdateTime: Int64
    var tags: [KeyValue]
}

/// One logged point. NaN travels as `isNaN` with value 0, as MLflow's SQL store keeps it.
struct MetricPoint: Sendable {
    var key: String
    var value: Double
    var timestamp: Int64
    var step: Int64
    var isNaN: Bool
}

struct DatasetRecord: Sendable {
    var id: String
    var experimentId: Int64
    var name: String
    var digest: String
    var sourceType: String
    var source: String
    var schema: String?
    var profile: String?
}

struct RunInputRecord: Sendable {
    var datasetId: String
    var tags: [KeyValue]
}

struct ModelOutputRecord: Sendable {
    var modelId: String
    var step: Int64
}

struct RunRecord: Sendable {
    var id: String
    var experimentId: Int64
    var name: String
    var userId: String
    var status: String
    var startTime: Int64
    var endTime: Int64?
    var lifecycleStage: String
    var artifactUri: String
    var deletedTime: Int64?
    var params: [KeyValue] = []
    var tags: [KeyValue] = []
    var metrics: [MetricPoint] = []
    /// MLflow's `latest_metrics` rows when the source keeps them; otherwise our trigger derives them.
    var latestMetrics: [MetricPoint]? = nil
    var inputs: [RunInputRecord] = []
    var modelInputs: [String] = []
    var modelOutputs: [ModelOutputRecord] = []
}

struct LoggedModelMetricRecord: Sendable {
    var key: String
    var value: Double
    var timestamp: Int64
    var step: Int64
    var runId: String
    var datasetName: String?
    var datasetDigest: String?
}

struct LoggedModelRecord: Sendable {
    var id: String
    var experimentId: Int64
    var name: String
    var artifactLocation: String
    var creationTime: Int64
    var lastUpdatedTime: Int64
    var status: Int64
    var lifecycleStage: String
    var modelType: String?
    var sourceRunId: String?
    var statusMessage: String?
    var params: [KeyValue] = []
    var tags: [KeyValue] = []
    var metrics: [LoggedModelMetricRecord] = []
}

struct ModelVersionRecord: Sendable {
    var version: Int64
    var creationTime: Int64
    var lastUpdatedTime: Int64
    var description: String?
    var userId: String?
    var currentStage: String
    var source: String?
    var storageLocation: String?
    var runId: String?
    var runLink: String?
    var status: String
    var statusMessage: String?
    var tags: [KeyValue] = []
}

struct AliasRecord: Sendable {
    var alias: String
    var version: Int64
}

struct RegisteredModelRecord: Sendable {
    var name: String
    var creationTime: Int64
    var lastUpdatedTime: Int64
    var description: String?
    var tags: [KeyValue] = []
    var versions: [ModelVersionRecord] = []
    var aliases: [AliasRecord] = []
    /// The highest version number ever given, deleted versions included: numbers are never reused.
    var lastVersion: Int64
}

/// Something the source holds that the import leaves behind, with why.
struct SkippedItem: Sendable, Equatable {
    var what: String
    var count: Int
    var reason: String
}

/// How much a source holds, for progress and the dry run.
struct SourceCounts: Sendable {
    var experiments = 0
    var runs = 0
    var loggedModels = 0
    var registeredModels = 0
}

/// A readable MLflow store: a database in MLflow's schema, or a file store folder.
protocol MLflowSource: Sendable {
    /// For messages: the database or folder, without a password.
    var description: String { get }
    func counts() async throws -> SourceCounts
    func experiments() async throws -> [ExperimentRecord]
    /// Run ids in a stable order, `limit` at a time after `after`.
    func runIds(after: String?, limit: Int) async throws -> [String]
    /// The runs named, with everything logged to them.
    func runs(_ ids: [String]) async throws -> [RunRecord]
    /// Every dataset of the experiments imported (datasets belong to an experiment; runs link them).
    func datasets() async throws -> [DatasetRecord]
    func loggedModels() async throws -> [LoggedModelRecord]
    func registeredModels() async throws -> [RegisteredModelRecord]
    /// What the source holds that is not imported.
    func skipped() async throws -> [SkippedItem]
    func close() async
}
