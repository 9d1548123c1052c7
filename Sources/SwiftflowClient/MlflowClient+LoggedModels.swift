import NIOHTTP1
import Foundation
import SwiftflowCore

/// MLflow 3 logged models: a model's own id (`m-…`), params, tags, metrics and artifacts, apart from runs.
extension MlflowClient {
    /// One key of a logged-model search's order.
    public struct LoggedModelOrder: Sendable, Equatable {
        /// `creation_timestamp`, `name`, `metrics.<key>`, …
        public var field: String
        public var ascending: Bool

        public init(_ field: String, ascending: Bool = true) {
            self.field = field
            self.ascending = ascending
        }
    }

    /// Creates a logged model in `PENDING` state; ``finalizeLoggedModel(id:status:)`` marks it ready.
    public func createLoggedModel(
        experimentId: String, name: String? = nil, modelType: String? = nil, sourceRunId: String? = nil,
        params: [String: String] = [:], tags: [String: String] = [:]
    ) async throws(SwiftflowError) -> LoggedModel {
        let answer = try await send(.POST, Self.api + "/logged-models") { w in
            w.field("experiment_id", experimentId)
            w.optionalField("name", name)
            w.optionalField("model_type", modelType)
            w.optionalField("source_run_id", sourceRunId)
            w.keyValues("params", Self.sorted(params))
            w.keyValues("tags", Self.sorted(tags))
        }
        return try LoggedModel(wire: answer["model"])
    }

    public func getLoggedModel(id: String) async throws(SwiftflowError) -> LoggedModel {
        try await LoggedModel(wire: get(Self.api + "/logged-models/" + Self.escape(id))["model"])
    }

    /// Sets the model's final status (`ready`, or `uploadFailed`).
    @discardableResult
    public func finalizeLoggedModel(
        id: String, status: LoggedModelStatus = .ready
    ) async throws(SwiftflowError) -> LoggedModel {
        let answer = try await send(.PATCH, Self.api + "/logged-models/" + Self.escape(id)) { w in
            w.field("model_id", id)
            w.field("status", status.wireName)
        }
        return try LoggedModel(wire: answer["model"])
    }

    public func deleteLoggedModel(id: String) async throws(SwiftflowError) {
        _ = try await transport.json(.DELETE, Self.api + "/logged-models/" + Self.escape(id))
    }

    public func setLoggedModelTags(id: String, tags: [String: String]) async throws(SwiftflowError) {
        _ = try await send(.PATCH, Self.api + "/logged-models/\(Self.escape(id))/tags") { w in
            w.keyValues("tags", Self.sorted(tags))
        }
    }

    public func deleteLoggedModelTag(id: String, key: String) async throws(SwiftflowError) {
        _ = try await transport.json(.DELETE, Self.api + "/logged-models/\(Self.escape(id))/tags/\(Self.escape(key))")
    }

    public func logModelParams(id: String, params: [String: String]) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/logged-models/\(Self.escape(id))/params") { w in
            w.field("model_id", id)
            w.keyValues("params", Self.sorted(params))
        }
    }

    /// One page of logged models of `experimentIds` matching `filter` (e.g. `metrics.accuracy > 0.9`).
    public func searchLoggedModels(
        experimentIds: [String], filter: String? = nil, maxResults: Int = 100, orderBy: [LoggedModelOrder] = [],
        pageToken: String? = nil
    ) async throws(SwiftflowError) -> Page<LoggedModel> {
        let answer = try await send(.POST, Self.api + "/logged-models/search") { w in
            w.repeatedField("experiment_ids", experimentIds) { $0.string($1) }
            w.optionalField("filter", filter)
            w.field("max_results", Int64(maxResults))
            w.repeatedField("order_by", orderBy) { w, order in
                w.beginObject()
                w.field("field_name", order.field)
                w.field("ascending", order.ascending)
                w.endObject()
            }
            w.optionalField("page_token", pageToken)
        }
        var models: [LoggedModel] = []
        for item in WireReaderArray(answer["models"]) { models.append(try LoggedModel(wire: item)) }
        return Page(items: models, nextPageToken: .pageToken(answer))
    }

    /// Uploads `localFile` into the logged model's artifacts (e.g. `MLmodel`, weights).
    public func logModelArtifact(modelId: String, localFile: URL, artifactPath: String? = nil) async throws(SwiftflowError) {
        let model = try await getLoggedModel(id: modelId)
        try await logArtifact(localFile: localFile, artifactURI: model.artifactLocation, artifactPath: artifactPath)
    }

    /// Uploads every file below `localDirectory` into the logged model's artifacts.
    public func logModelArtifacts(modelId: String, localDirectory: URL) async throws(SwiftflowError) {
        let model = try await getLoggedModel(id: modelId)
        try await logArtifacts(localDirectory: localDirectory, artifactURI: model.artifactLocation)
    }
}
