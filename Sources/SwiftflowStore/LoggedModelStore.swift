import SwiftflowCore

/// MLflow 3 logged models: create, read, finalize, delete, tag, parametrize and search them, and link
/// them to the runs that produced them.
///
/// Every method that writes is one transaction. Errors are `SwiftflowError`s with MLflow's codes:
/// `RESOURCE_DOES_NOT_EXIST` ("Logged model with ID '…' not found.") for unknown ids,
/// `INVALID_PARAMETER_VALUE` for bad names and searches, `BAD_REQUEST` where MLflow's store trips over
/// a uniqueness rule (a param logged twice, a run output logged twice). Like MLflow, every method but
/// `getLoggedModel` and `searchLoggedModels` also acts on deleted models.
public protocol LoggedModelStore: Sendable {
    /// Creates a model in the `PENDING` state, under `<experiment artifact location>/models/<id>/artifacts`.
    /// - Parameters:
    ///   - name: nil for a generated name.
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for an unknown experiment, `INVALID_PARAMETER_VALUE` for a deleted
    ///   one or a bad name, `BAD_REQUEST` for a param or tag key given twice.
    func createLoggedModel(
        experimentId: String, name: String?, modelType: String?, sourceRunId: String?,
        params: [LoggedModelParameter], tags: [LoggedModelTag]
    ) async throws -> LoggedModel
    /// - Parameters:
    ///   - allowDeleted: whether a deleted model is found too.
    func getLoggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel
    /// Sets the model's status.
    /// - Returns: the model after the change.
    func finalizeLoggedModel(id: String, status: LoggedModelStatus) async throws -> LoggedModel
    /// Marks the model deleted: hidden from get and search, kept otherwise.
    func deleteLoggedModel(id: String) async throws
    /// Sets tags, overwriting existing values; a key given twice keeps its last value.
    func setLoggedModelTags(id: String, tags: [LoggedModelTag]) async throws
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` if the model or the tag does not exist.
    func deleteLoggedModelTag(id: String, key: String) async throws
    /// Adds params; params never change, so a key the model already has is `BAD_REQUEST`.
    func logLoggedModelParams(id: String, params: [LoggedModelParameter]) async throws
    /// One page of the active models of `search.experimentIds` that match, in the requested order.
    func searchLoggedModels(_ search: LoggedModelSearch) async throws -> Page<LoggedModel>
    /// Records models as outputs of an active run.
    /// - Throws: `BAD_REQUEST` if the run already has one of them as an output.
    func logOutputs(runId: String, models: [LoggedModelOutput]) async throws
    /// Adds `{"name": name, "version": version}` to the model's `mlflow.modelVersions` tag, as MLflow's
    /// server does when a registered model version is created from the model.
    func recordModelVersion(modelId: String, name: String, version: Int64) async throws
}
