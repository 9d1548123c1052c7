/// MLflow 3 logged models (`LoggedModel` in service.proto): a model with its own id, artifacts, params,
/// tags and metrics, created by `mlflow.<flavor>.log_model` and addressed as `models:/<model_id>`.

public typealias LoggedModelTag = KeyValue
public typealias LoggedModelParameter = KeyValue

/// The status of a logged model (`LoggedModelStatus` in service.proto).
///
/// Stored as its proto number, as MLflow's SQL store does: filters such as `status = '2'` compare numbers.
public enum LoggedModelStatus: Int64, Sendable, Equatable, CaseIterable {
    case unspecified = 0
    case pending = 1
    case ready = 2
    case uploadFailed = 3

    /// The proto enum name, as MLflow's JSON writes it.
    public var wireName: String {
        switch self {
        case .unspecified: "LOGGED_MODEL_STATUS_UNSPECIFIED"
        case .pending: "LOGGED_MODEL_PENDING"
        case .ready: "LOGGED_MODEL_READY"
        case .uploadFailed: "LOGGED_MODEL_UPLOAD_FAILED"
        }
    }

    /// Reads a status by name or number. MLflow's server parses requests with unknown enum values ignored,
    /// so anything it does not know becomes `unspecified` rather than an error.
    public init(lenientWireValue text: String) {
        if let known = Self.allCases.first(where: { $0.wireName == text }) {
            self = known
        } else if let number = Int64(text), let known = Self(rawValue: number) {
            self = known
        } else {
            self = .unspecified
        }
    }
}

/// The MLflow 3 fields a metric point may carry: the logged model it measures, the dataset it was
/// computed on, and (on a logged model's metrics) the run that logged it.
///
/// A class so that plain run metrics, by far the most common and kept by the hundred thousand in
/// histories, stay as small as before: they carry `nil` here.
public final class MetricLink: Sendable, Equatable, CustomStringConvertible {
    public let modelId: String?
    public let datasetName: String?
    public let datasetDigest: String?
    public let runId: String?

    public init(modelId: String?, datasetName: String?, datasetDigest: String?, runId: String? = nil) {
        self.modelId = modelId
        self.datasetName = datasetName
        self.datasetDigest = datasetDigest
        self.runId = runId
    }

    /// The link a logged point names, or nil when it names none. Empty strings count as absent, as in
    /// MLflow (proto3 defaults).
    /// - Throws: `INVALID_PARAMETER_VALUE` when only one of dataset name and digest is given.
    public static func fromRequest(
        modelId: String?, datasetName: String?, datasetDigest: String?
    ) throws(SwiftflowError) -> MetricLink? {
        let modelId = modelId.flatMap { $0.isEmpty ? nil : $0 }
        let datasetName = datasetName.flatMap { $0.isEmpty ? nil : $0 }
        let datasetDigest = datasetDigest.flatMap { $0.isEmpty ? nil : $0 }
        if (datasetName == nil) != (datasetDigest == nil) {
            throw .invalidParameter("Both dataset_name and dataset_digest must be provided if one is provided")
        }
        if modelId == nil && datasetName == nil { return nil }
        return MetricLink(modelId: modelId, datasetName: datasetName, datasetDigest: datasetDigest)
    }

    public static func == (lhs: MetricLink, rhs: MetricLink) -> Bool {
        lhs.modelId == rhs.modelId && lhs.datasetName == rhs.datasetName && lhs.datasetDigest == rhs.datasetDigest
            && lhs.runId == rhs.runId
    }

    public var description: String {
        "MetricLink(model: \(modelId ?? "-"), dataset: \(datasetName ?? "-")/\(datasetDigest ?? "-"), run: \(runId ?? "-"))"
    }
}

/// A model logged to an experiment, with its params, tags and the metrics logged against it.
public struct LoggedModel: Sendable, Equatable {
    public var modelId: String
    public var experimentId: String
    public var name: String
    /// Where the model's files live: `<experiment artifact location>/models/<model_id>/artifacts`.
    public var artifactLocation: String
    public var creationTimestamp: Int64
    public var lastUpdatedTimestamp: Int64
    public var status: LoggedModelStatus
    public var lifecycleStage: LifecycleStage
    /// As the client sent it; MLflow's server stores (and answers) an empty string when none was given.
    public var modelType: String?
    /// As the client sent it; MLflow's server stores (and answers) an empty string when none was given.
    public var sourceRunId: String?
    public var statusMessage: String?
    /// Sorted by key.
    public var tags: [LoggedModelTag]
    /// Sorted by key.
    public var params: [LoggedModelParameter]
    /// In logging order; each carries a `MetricLink` with the model, run and dataset.
    public var metrics: [Metric]

    public init(
        modelId: String, experimentId: String, name: String, artifactLocation: String, creationTimestamp: Int64,
        lastUpdatedTimestamp: Int64, status: LoggedModelStatus, lifecycleStage: LifecycleStage = .active,
        modelType: String? = nil, sourceRunId: String? = nil, statusMessage: String? = nil,
        tags: [LoggedModelTag] = [], params: [LoggedModelParameter] = [], metrics: [Metric] = []
    ) {
        self.modelId = modelId
        self.experimentId = experimentId
        self.name = name
        self.artifactLocation = artifactLocation
        self.creationTimestamp = creationTimestamp
        self.lastUpdatedTimestamp = lastUpdatedTimestamp
        self.status = status
        self.lifecycleStage = lifecycleStage
        self.modelType = modelType
        self.sourceRunId = sourceRunId
        self.statusMessage = statusMessage
        self.tags = tags
        self.params = params
        self.metrics = metrics
    }

    /// `m-` and 32 hex digits, as MLflow's SQL store makes them.
    public static func newId() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        return "m-" + String((0..<32).map { _ in hex[Int(generator.next() % 16)] })
    }
}

/// A logged model a run produced (`ModelOutput`), at a step of the run.
public struct LoggedModelOutput: Sendable, Equatable {
    public var modelId: String
    public var step: Int64

    public init(modelId: String, step: Int64) {
        self.modelId = modelId
        self.step = step
    }
}

/// A logged model a run used (`ModelInput`).
public struct LoggedModelInput: Sendable, Equatable {
    public var modelId: String

    public init(modelId: String) {
        self.modelId = modelId
    }
}

/// Tag keys MLflow gives meaning to on logged models.
public enum LoggedModelTags {
    /// The registered model versions made from a logged model, as a JSON list of `{"name", "version"}`.
    public static let modelVersions = "mlflow.modelVersions"
}
