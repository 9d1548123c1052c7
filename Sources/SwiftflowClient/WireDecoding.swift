import SwiftflowCore

/// Reading MLflow's JSON answers into Core's entities. Lenient as protobuf's JSON reader is: int64 fields
/// may come as numbers or strings, absent fields take their defaults, unknown fields are ignored.
struct WireReader {
    let value: JSONValue
    let what: String

    init(_ value: JSONValue?, _ what: String) throws(SwiftflowError) {
        guard let value, case .object = value else {
            throw SwiftflowError(.internalError, "The tracking server's answer holds no \(what) object.")
        }
        self.value = value
        self.what = what
    }

    func string(_ key: String) -> String? {
        switch value[key] {
        case .string(let text)?: text
        case .number(let text)?: text
        case .bool(let flag)?: flag ? "true" : "false"
        default: nil
        }
    }

    func required(_ key: String) throws(SwiftflowError) -> String {
        guard let text = string(key) else {
            throw SwiftflowError(.internalError, "The tracking server's \(what) has no '\(key)'.")
        }
        return text
    }

    func int(_ key: String) -> Int64? {
        guard let text = string(key) else { return nil }
        return Int64(text) ?? Double(text).flatMap { $0.isFinite ? Int64($0) : nil }
    }

    func double(_ key: String) -> Double? {
        guard let text = string(key) else { return nil }
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(text)
        }
    }

    func bool(_ key: String) -> Bool? {
        if case .bool(let flag)? = value[key] { return flag }
        return nil
    }

    func array(_ key: String) -> [JSONValue] {
        if case .array(let items)? = value[key] { return items }
        return []
    }

    func object(_ key: String) -> JSONValue? {
        if case .object? = value[key] { return value[key] }
        return nil
    }

    func keyValues(_ key: String) -> [KeyValue] {
        array(key).compactMap { item in
            guard case .string(let k)? = item["key"] else { return nil }
            let v: String = switch item["value"] {
            case .string(let text)?: text
            case .number(let text)?: text
            default: ""
            }
            return KeyValue(k, v)
        }
    }
}

extension Experiment {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "experiment")
        self.init(
            experimentId: try r.required("experiment_id"), name: r.string("name") ?? "",
            artifactLocation: r.string("artifact_location") ?? "",
            lifecycleStage: LifecycleStage(rawValue: r.string("lifecycle_stage") ?? "") ?? .active,
            creationTime: r.int("creation_time") ?? 0, lastUpdateTime: r.int("last_update_time") ?? 0,
            tags: r.keyValues("tags"))
    }
}

extension Metric {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "metric")
        let modelId = r.string("model_id"), datasetName = r.string("dataset_name")
        let datasetDigest = r.string("dataset_digest"), runId = r.string("run_id")
        let linked = modelId != nil || datasetName != nil || datasetDigest != nil
        self.init(
            key: try r.required("key"), value: r.double("value") ?? 0, timestamp: r.int("timestamp") ?? 0,
            step: r.int("step") ?? 0,
            link: linked ? MetricLink(modelId: modelId, datasetName: datasetName, datasetDigest: datasetDigest,
                                      runId: runId) : nil)
    }
}

extension RunInfo {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "run info")
        guard let runId = r.string("run_id") ?? r.string("run_uuid") else {
            throw SwiftflowError(.internalError, "The tracking server's run info has no 'run_id'.")
        }
        self.init(
            runId: runId, experimentId: r.string("experiment_id") ?? "",
            runName: r.string("run_name") ?? "", userId: r.string("user_id") ?? "",
            status: RunStatus(wireValue: r.string("status") ?? "") ?? .running, startTime: r.int("start_time") ?? 0,
            endTime: r.int("end_time"), artifactUri: r.string("artifact_uri") ?? "",
            lifecycleStage: LifecycleStage(rawValue: r.string("lifecycle_stage") ?? "") ?? .active)
    }
}

extension Dataset {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "dataset")
        self.init(
            name: r.string("name") ?? "", digest: r.string("digest") ?? "", sourceType: r.string("source_type") ?? "",
            source: r.string("source") ?? "", schema: r.string("schema"), profile: r.string("profile"))
    }
}

extension Run {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "run")
        let data = try r.object("data").map { (value) throws(SwiftflowError) in try WireReader(value, "run data") }
        let inputs = try r.object("inputs").map { (value) throws(SwiftflowError) in try WireReader(value, "inputs") }
        let outputs = try r.object("outputs").map { (value) throws(SwiftflowError) in try WireReader(value, "outputs") }
        var datasets: [DatasetInput] = []
        for input in inputs?.array("dataset_inputs") ?? [] {
            let item = try WireReader(input, "dataset input")
            datasets.append(DatasetInput(dataset: try Dataset(wire: item.object("dataset")), tags: item.keyValues("tags")))
        }
        var metrics: [Metric] = []
        for metric in data?.array("metrics") ?? [] { metrics.append(try Metric(wire: metric)) }
        self.init(
            info: try RunInfo(wire: r.object("info")), metrics: metrics, params: data?.keyValues("params") ?? [],
            tags: data?.keyValues("tags") ?? [], inputs: datasets,
            modelInputs: (inputs?.array("model_inputs") ?? []).compactMap {
                guard case .string(let id)? = $0["model_id"] else { return nil }
                return LoggedModelInput(modelId: id)
            },
            modelOutputs: (outputs?.array("model_outputs") ?? []).compactMap {
                guard case .string(let id)? = $0["model_id"] else { return nil }
                let step: Int64 = switch $0["step"] {
                case .number(let text)?, .string(let text)?: Int64(text) ?? 0
                default: 0
                }
                return LoggedModelOutput(modelId: id, step: step)
            })
    }
}

extension ModelVersion {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "model version")
        guard let version = r.int("version") else {
            throw SwiftflowError(.internalError, "The tracking server's model version has no 'version'.")
        }
        self.init(
            name: try r.required("name"), version: version, creationTimestamp: r.int("creation_timestamp") ?? 0,
            lastUpdatedTimestamp: r.int("last_updated_timestamp"), userId: r.string("user_id"),
            currentStage: (try? ModelVersionStage(canonicalizing: r.string("current_stage") ?? "None")) ?? .none,
            description: r.string("description"), source: r.string("source"), runId: r.string("run_id"),
            status: ModelVersionStatus(rawValue: r.string("status") ?? "") ?? .ready,
            statusMessage: r.string("status_message"), tags: r.keyValues("tags"), runLink: r.string("run_link"),
            aliases: r.array("aliases").compactMap { if case .string(let alias) = $0 { alias } else { nil } })
    }
}

extension RegisteredModel {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "registered model")
        var latest: [ModelVersion] = []
        for version in r.array("latest_versions") { latest.append(try ModelVersion(wire: version)) }
        self.init(
            name: try r.required("name"), creationTimestamp: r.int("creation_timestamp") ?? 0,
            lastUpdatedTimestamp: r.int("last_updated_timestamp"), userId: r.string("user_id"),
            description: r.string("description"), latestVersions: latest, tags: r.keyValues("tags"),
            aliases: r.array("aliases").compactMap { item in
                guard case .string(let alias)? = item["alias"] else { return nil }
                let version: Int64? = switch item["version"] {
                case .string(let text)?, .number(let text)?: Int64(text)
                default: nil
                }
                return version.map { RegisteredModelAlias(alias: alias, version: $0) }
            })
    }
}

extension LoggedModel {
    init(wire json: JSONValue?) throws(SwiftflowError) {
        let r = try WireReader(json, "logged model")
        let info = try WireReader(r.object("info"), "logged model info")
        let data = r.object("data").flatMap { try? WireReader($0, "logged model data") }
        var metrics: [Metric] = []
        for metric in data?.array("metrics") ?? [] { metrics.append(try Metric(wire: metric)) }
        self.init(
            modelId: try info.required("model_id"), experimentId: info.string("experiment_id") ?? "",
            name: info.string("name") ?? "", artifactLocation: info.string("artifact_uri") ?? "",
            creationTimestamp: info.int("creation_timestamp_ms") ?? 0,
            lastUpdatedTimestamp: info.int("last_updated_timestamp_ms") ?? 0,
            status: LoggedModelStatus(lenientWireValue: info.string("status") ?? ""),
            lifecycleStage: LifecycleStage(rawValue: info.string("lifecycle_stage") ?? "") ?? .active,
            modelType: info.string("model_type"), sourceRunId: info.string("source_run_id"),
            statusMessage: info.string("status_message"), tags: info.keyValues("tags"),
            params: data?.keyValues("params") ?? [], metrics: metrics)
    }
}
