/// MLflow's JSON form of a logged model (`LoggedModel` in service.proto), in proto field order.
///
/// As MLflow's `LoggedModel.to_proto`: `model_type`, `source_run_id` and `status_message` appear whenever
/// stored (even empty), `status` always, tags, params and metrics only when there are some.
extension JSONWriter {
    public mutating func loggedModel(_ model: LoggedModel) {
        beginObject()
        key("info")
        beginObject()
        field("model_id", model.modelId)
        field("experiment_id", model.experimentId)
        field("name", model.name)
        field("creation_timestamp_ms", model.creationTimestamp)
        field("last_updated_timestamp_ms", model.lastUpdatedTimestamp)
        field("artifact_uri", model.artifactLocation)
        field("status", model.status.wireName)
        optionalField("model_type", model.modelType)
        optionalField("source_run_id", model.sourceRunId)
        optionalField("status_message", model.statusMessage)
        keyValues("tags", model.tags)
        endObject()
        key("data")
        beginObject()
        keyValues("params", model.params)
        repeatedField("metrics", model.metrics) { w, metric in w.metric(metric) }
        endObject()
        endObject()
    }
}
