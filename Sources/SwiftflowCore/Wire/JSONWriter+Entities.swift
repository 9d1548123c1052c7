/// MLflow's JSON form of each entity: proto field names, in proto field order, absent fields omitted.
extension JSONWriter {
    public mutating func keyValues(_ name: String, _ items: [KeyValue]) {
        repeatedField(name, items) { w, item in
            w.beginObject()
            w.field("key", item.key)
            w.field("value", item.value)
            w.endObject()
        }
    }

    public mutating func experiment(_ experiment: Experiment) {
        beginObject()
        field("experiment_id", experiment.experimentId)
        field("name", experiment.name)
        field("artifact_location", experiment.artifactLocation)
        field("lifecycle_stage", experiment.lifecycleStage.rawValue)
        field("last_update_time", experiment.lastUpdateTime)
        field("creation_time", experiment.creationTime)
        keyValues("tags", experiment.tags)
        field("workspace", "default")
        endObject()
    }

    public mutating func metric(_ metric: Metric) {
        beginObject()
        field("key", metric.key)
        field("value", metric.value)
        field("timestamp", metric.timestamp)
        field("step", metric.step)
        if let link = metric.link {
            optionalField("dataset_name", link.datasetName)
            optionalField("dataset_digest", link.datasetDigest)
            optionalField("model_id", link.modelId)
            optionalField("run_id", link.runId)
        }
        endObject()
    }

    /// `MetricWithRunId`: a metric's fields, then `run_id`.
    public mutating func metricWithRunId(_ point: MetricWithRunId) {
        beginObject()
        field("key", point.metric.key)
        field("value", point.metric.value)
        field("timestamp", point.metric.timestamp)
        field("step", point.metric.step)
        field("run_id", point.runId)
        endObject()
    }

    public mutating func runInfo(_ info: RunInfo) {
        beginObject()
        field("run_uuid", info.runId)
        field("experiment_id", info.experimentId)
        field("run_name", info.runName)
        field("user_id", info.userId)
        field("status", info.status.rawValue)
        field("start_time", info.startTime)
        optionalField("end_time", info.endTime)
        field("artifact_uri", info.artifactUri)
        field("lifecycle_stage", info.lifecycleStage.rawValue)
        field("run_id", info.runId)
        endObject()
    }

    public mutating func dataset(_ dataset: Dataset) {
        beginObject()
        field("name", dataset.name)
        field("digest", dataset.digest)
        field("source_type", dataset.sourceType)
        field("source", dataset.source)
        optionalField("schema", dataset.schema)
        optionalField("profile", dataset.profile)
        endObject()
    }

    public mutating func run(_ run: Run, includeOutputs: Bool = true) {
        beginObject()
        key("info")
        runInfo(run.info)
        key("data")
        beginObject()
        repeatedField("metrics", run.metrics) { w, item in w.metric(item) }
        keyValues("params", run.params)
        keyValues("tags", run.tags)
        endObject()
        key("inputs")
        beginObject()
        repeatedField("dataset_inputs", run.inputs) { w, input in
            w.beginObject()
            w.keyValues("tags", input.tags)
            w.key("dataset")
            w.dataset(input.dataset)
            w.endObject()
        }
        repeatedField("model_inputs", run.modelInputs) { w, input in
            w.beginObject()
            w.field("model_id", input.modelId)
            w.endObject()
        }
        endObject()
        if includeOutputs {
            key("outputs")
            beginObject()
            repeatedField("model_outputs", run.modelOutputs) { w, output in
                w.beginObject()
                w.field("model_id", output.modelId)
                w.field("step", output.step)
                w.endObject()
            }
            endObject()
        }
        endObject()
    }
}
