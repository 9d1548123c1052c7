/// A key and a value: the shape of every MLflow tag and param.
public struct KeyValue: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

public typealias ExperimentTag = KeyValue
public typealias RunTag = KeyValue
public typealias Param = KeyValue

/// `active` or `deleted`, as MLflow names them.
public enum LifecycleStage: String, Sendable, Equatable {
    case active
    case deleted
}

/// Which lifecycle stages a search returns (`ViewType` in service.proto).
public enum ViewType: String, Sendable, Equatable {
    case activeOnly = "ACTIVE_ONLY"
    case deletedOnly = "DELETED_ONLY"
    case all = "ALL"

    /// Parses the proto enum by name or number.
    public init?(wireValue: String) {
        switch wireValue.uppercased() {
        case "ACTIVE_ONLY", "1": self = .activeOnly
        case "DELETED_ONLY", "2": self = .deletedOnly
        case "ALL", "3": self = .all
        default: return nil
        }
    }

    /// The stages this view admits.
    public var stages: [LifecycleStage] {
        switch self {
        case .activeOnly: [.active]
        case .deletedOnly: [.deleted]
        case .all: [.active, .deleted]
        }
    }
}

/// The status of a run (`RunStatus` in service.proto).
public enum RunStatus: String, Sendable, Equatable, CaseIterable {
    case running = "RUNNING"
    case scheduled = "SCHEDULED"
    case finished = "FINISHED"
    case failed = "FAILED"
    case killed = "KILLED"

    /// Parses the proto enum by name or by number.
    public init?(wireValue: String) {
        switch wireValue {
        case "RUNNING", "1": self = .running
        case "SCHEDULED", "2": self = .scheduled
        case "FINISHED", "3": self = .finished
        case "FAILED", "4": self = .failed
        case "KILLED", "5": self = .killed
        default: return nil
        }
    }

    public var isTerminal: Bool { self == .finished || self == .failed || self == .killed }
}

/// An experiment: a named group of runs.
public struct Experiment: Sendable, Equatable {
    public var experimentId: String
    public var name: String
    public var artifactLocation: String
    public var lifecycleStage: LifecycleStage
    public var creationTime: Int64
    public var lastUpdateTime: Int64
    public var tags: [ExperimentTag]

    public init(
        experimentId: String, name: String, artifactLocation: String, lifecycleStage: LifecycleStage,
        creationTime: Int64, lastUpdateTime: Int64, tags: [ExperimentTag] = []
    ) {
        self.experimentId = experimentId
        self.name = name
        self.artifactLocation = artifactLocation
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.tags = tags
    }
}

/// One logged value of a metric.
public struct Metric: Sendable, Equatable {
    public var key: String
    public var value: Double
    public var timestamp: Int64
    public var step: Int64
    /// The logged model, dataset and run an MLflow 3 point names; nil for plain run metrics.
    public var link: MetricLink?

    public init(key: String, value: Double, timestamp: Int64, step: Int64, link: MetricLink? = nil) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
        self.link = link
    }
}

/// Everything a run has logged but its history.
public struct RunInfo: Sendable, Equatable {
    public var runId: String
    public var experimentId: String
    public var runName: String
    public var userId: String
    public var status: RunStatus
    public var startTime: Int64
    public var endTime: Int64?
    public var artifactUri: String
    public var lifecycleStage: LifecycleStage

    public init(
        runId: String, experimentId: String, runName: String, userId: String, status: RunStatus,
        startTime: Int64, endTime: Int64?, artifactUri: String, lifecycleStage: LifecycleStage
    ) {
        self.runId = runId
        self.experimentId = experimentId
        self.runName = runName
        self.userId = userId
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.artifactUri = artifactUri
        self.lifecycleStage = lifecycleStage
    }
}

/// A dataset as logged by `log-inputs`.
public struct Dataset: Sendable, Equatable {
    public var name: String
    public var digest: String
    public var sourceType: String
    public var source: String
    public var schema: String?
    public var profile: String?

    public init(name: String, digest: String, sourceType: String, source: String, schema: String?, profile: String?) {
        self.name = name
        self.digest = digest
        self.sourceType = sourceType
        self.source = source
        self.schema = schema
        self.profile = profile
    }
}

/// A dataset attached to a run, with the input's tags (e.g. `mlflow.data.context`).
public struct DatasetInput: Sendable, Equatable {
    public var dataset: Dataset
    public var tags: [KeyValue]

    public init(dataset: Dataset, tags: [KeyValue]) {
        self.dataset = dataset
        self.tags = tags
    }
}

/// A run with its latest metrics, params, tags, inputs and outputs.
public struct Run: Sendable, Equatable {
    public var info: RunInfo
    public var metrics: [Metric]
    public var params: [Param]
    public var tags: [RunTag]
    public var inputs: [DatasetInput]
    /// Logged models the run used, in logging order (`run.inputs.model_inputs`).
    public var modelInputs: [LoggedModelInput]
    /// Logged models the run produced, in logging order (`run.outputs.model_outputs`).
    public var modelOutputs: [LoggedModelOutput]

    public init(info: RunInfo, metrics: [Metric] = [], params: [Param] = [], tags: [RunTag] = [],
                inputs: [DatasetInput] = [], modelInputs: [LoggedModelInput] = [],
                modelOutputs: [LoggedModelOutput] = []) {
        self.info = info
        self.metrics = metrics
        self.params = params
        self.tags = tags
        self.inputs = inputs
        self.modelInputs = modelInputs
        self.modelOutputs = modelOutputs
    }
}

/// One page of a search and the token for the next.
public struct Page<Element: Sendable>: Sendable {
    public var items: [Element]
    public var nextPageToken: String?

    public init(items: [Element], nextPageToken: String?) {
        self.items = items
        self.nextPageToken = nextPageToken
    }
}

/// Tag keys MLflow gives meaning to.
public enum MLflowTags {
    public static let runName = "mlflow.runName"
    public static let user = "mlflow.user"
    /// Input tag naming what a dataset was used for (`training`, `eval`, ...).
    public static let datasetContext = "mlflow.data.context"
}
