import NIOHTTP1
import SwiftflowCore

extension MlflowClient {
    /// Creates an experiment and answers its id.
    /// - Throws: `RESOURCE_ALREADY_EXISTS` when the name is taken.
    public func createExperiment(
        name: String, artifactLocation: String? = nil, tags: [String: String] = [:]
    ) async throws(SwiftflowError) -> String {
        let answer = try await send(.POST, Self.api + "/experiments/create") { w in
            w.field("name", name)
            w.optionalField("artifact_location", artifactLocation)
            w.keyValues("tags", Self.sorted(tags))
        }
        return try WireReader(answer, "answer").required("experiment_id")
    }

    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for an unknown id.
    public func getExperiment(id: String) async throws(SwiftflowError) -> Experiment {
        try await Experiment(wire: get(Self.api + "/experiments/get", query: [("experiment_id", id)])["experiment"])
    }

    /// The experiment named `name`, or nil when there is none.
    public func getExperiment(byName name: String) async throws(SwiftflowError) -> Experiment? {
        do {
            return try await Experiment(
                wire: get(Self.api + "/experiments/get-by-name", query: [("experiment_name", name)])["experiment"])
        } catch where error.code == .resourceDoesNotExist {
            return nil
        }
    }

    /// One page of experiments matching `filter` (MLflow's search syntax, e.g. `name LIKE 'demo%'`).
    public func searchExperiments(
        filter: String? = nil, viewType: ViewType = .activeOnly, maxResults: Int = 1000, orderBy: [String] = [],
        pageToken: String? = nil
    ) async throws(SwiftflowError) -> Page<Experiment> {
        let answer = try await send(.POST, Self.api + "/experiments/search") { w in
            w.field("max_results", Int64(maxResults))
            w.optionalField("filter", filter)
            w.field("view_type", viewType.rawValue)
            w.repeatedField("order_by", orderBy) { $0.string($1) }
            w.optionalField("page_token", pageToken)
        }
        var experiments: [Experiment] = []
        for item in try WireReader(answer, "answer").array("experiments") { experiments.append(try Experiment(wire: item)) }
        return Page(items: experiments, nextPageToken: .pageToken(answer))
    }

    /// Marks the experiment (and its runs) deleted; ``restoreExperiment(id:)`` undoes it.
    public func deleteExperiment(id: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/experiments/delete") { $0.field("experiment_id", id) }
    }

    public func restoreExperiment(id: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/experiments/restore") { $0.field("experiment_id", id) }
    }

    public func renameExperiment(id: String, newName: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/experiments/update") { w in
            w.field("experiment_id", id)
            w.field("new_name", newName)
        }
    }

    public func setExperimentTag(experimentId: String, key: String, value: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/experiments/set-experiment-tag") { w in
            w.field("experiment_id", experimentId)
            w.field("key", key)
            w.field("value", value)
        }
    }

    public func deleteExperimentTag(experimentId: String, key: String) async throws(SwiftflowError) {
        _ = try await send(.POST, Self.api + "/experiments/delete-experiment-tag") { w in
            w.field("experiment_id", experimentId)
            w.field("key", key)
        }
    }

    /// Tags in key order, so that requests are reproducible.
    static func sorted(_ tags: [String: String]) -> [KeyValue] {
        tags.sorted { $0.key < $1.key }.map { KeyValue($0.key, $0.value) }
    }
}
