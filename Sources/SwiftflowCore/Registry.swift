/// Model Registry entities (`model_registry.proto`): registered models, their versions, tags and aliases.

public typealias RegisteredModelTag = KeyValue
public typealias ModelVersionTag = KeyValue

/// The stage of a model version. MLflow reads stages case-insensitively and writes them canonically.
///
/// Stages are deprecated in MLflow 3 in favour of aliases, but the API still serves them.
public enum ModelVersionStage: String, Sendable, Equatable, CaseIterable {
    case none = "None"
    case staging = "Staging"
    case production = "Production"
    case archived = "Archived"

    /// The stages `archive_existing_versions` may be used with.
    public static let active: [ModelVersionStage] = [.staging, .production]

    /// Parses a stage name in any case (`production`, `PRODUCTION`...), as MLflow's `get_canonical_stage`.
    /// - Throws: `INVALID_PARAMETER_VALUE` for anything else.
    public init(canonicalizing text: String) throws(SwiftflowError) {
        let lowered = text.lowercased()
        guard let stage = Self.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else {
            throw .invalidParameter(
                "Invalid Model Version stage: \(text). Value must be one of None, Staging, Production, Archived.")
        }
        self = stage
    }
}

/// The registration status of a model version; versions registered by a SQL store are READY at once.
public enum ModelVersionStatus: String, Sendable, Equatable {
    case pendingRegistration = "PENDING_REGISTRATION"
    case failedRegistration = "FAILED_REGISTRATION"
    case ready = "READY"
}

/// A named pointer from a registered model to one of its versions (`champion` -> 3).
public struct RegisteredModelAlias: Sendable, Equatable, Hashable {
    public var alias: String
    public var version: Int64

    public init(alias: String, version: Int64) {
        self.alias = alias
        self.version = version
    }
}

/// One version of a registered model.
///
/// Optional fields are absent from MLflow's JSON when nil; the SQL store keeps what the client sent,
/// so `description`, `run_id` and `run_link` are often present but empty.
public struct ModelVersion: Sendable, Equatable {
    public var name: String
    public var version: Int64
    public var creationTimestamp: Int64
    public var lastUpdatedTimestamp: Int64?
    public var userId: String?
    public var currentStage: ModelVersionStage
    public var description: String?
    public var source: String?
    public var runId: String?
    public var status: ModelVersionStatus
    public var statusMessage: String?
    public var tags: [ModelVersionTag]
    public var runLink: String?
    /// The aliases pointing at this version; MLflow fills them in only where it says so (get, get by
    /// alias, create, update, transition, latest versions), never in searches.
    public var aliases: [String]

    public init(
        name: String, version: Int64, creationTimestamp: Int64, lastUpdatedTimestamp: Int64?,
        userId: String? = nil, currentStage: ModelVersionStage = .none, description: String? = nil,
        source: String? = nil, runId: String? = nil, status: ModelVersionStatus = .ready,
        statusMessage: String? = nil, tags: [ModelVersionTag] = [], runLink: String? = nil, aliases: [String] = []
    ) {
        self.name = name
        self.version = version
        self.creationTimestamp = creationTimestamp
        self.lastUpdatedTimestamp = lastUpdatedTimestamp
        self.userId = userId
        self.currentStage = currentStage
        self.description = description
        self.source = source
        self.runId = runId
        self.status = status
        self.statusMessage = statusMessage
        self.tags = tags
        self.runLink = runLink
        self.aliases = aliases
    }
}

/// A registered model: a name, its tags and aliases, and the newest version in each stage.
public struct RegisteredModel: Sendable, Equatable {
    public var name: String
    public var creationTimestamp: Int64
    public var lastUpdatedTimestamp: Int64?
    public var userId: String?
    public var description: String?
    /// The newest version of each stage that has one (without aliases, as MLflow sends them).
    public var latestVersions: [ModelVersion]
    public var tags: [RegisteredModelTag]
    public var aliases: [RegisteredModelAlias]

    public init(
        name: String, creationTimestamp: Int64, lastUpdatedTimestamp: Int64?, userId: String? = nil,
        description: String? = nil, latestVersions: [ModelVersion] = [], tags: [RegisteredModelTag] = [],
        aliases: [RegisteredModelAlias] = []
    ) {
        self.name = name
        self.creationTimestamp = creationTimestamp
        self.lastUpdatedTimestamp = lastUpdatedTimestamp
        self.userId = userId
        self.description = description
        self.latestVersions = latestVersions
        self.tags = tags
        self.aliases = aliases
    }

    /// Whether this "model" is a prompt of MLflow's prompt registry (tag `mlflow.prompt.is_prompt=true`).
    public var isPrompt: Bool {
        tags.last(where: { $0.key == RegistryTags.isPrompt })?.value.lowercased() == "true"
    }
}

/// Registry tag keys and source placeholders MLflow gives meaning to.
public enum RegistryTags {
    /// Marks registered models and versions that are prompts; searches leave them out unless asked.
    public static let isPrompt = "mlflow.prompt.is_prompt"
    /// The sources a prompt version may be created with (it has no artifacts).
    public static let promptSourcePlaceholders: Set<String> = ["dummy-source", "prompt-template"]
}
