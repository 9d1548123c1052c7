import Foundation
import SwiftflowCore
import Yams

/// An MLflow file store (`mlruns/`): experiments as folders with `meta.yaml`, deleted ones under
/// `.trash/`, runs inside them with `params/`, `tags/`, `metrics/` (one line per point:
/// `timestamp value step`), `inputs/` and `outputs/`; datasets and logged models per experiment;
/// registered models under `models/`. Keys containing `/` are nested folders.
final class FileStoreSource: MLflowSource {
    let root: String
    /// Every run folder, by run id, in id order.
    private let runFolders: [(id: String, path: String, experimentId: Int64)]
    private let runIndex: [String: Int]
    private let experimentFolders: [(id: Int64, path: String)]

    var description: String { root }

    init(root: String) throws {
        self.root = root
        let manager = FileManager.default
        guard manager.fileExists(atPath: (root as NSString).appendingPathComponent("0/meta.yaml"))
            || (try? manager.contentsOfDirectory(atPath: root))?.contains(where: { Int64($0) != nil }) == true
        else {
            throw SwiftflowError.invalidParameter("\(root) is not an MLflow file store: it holds no experiment folders.")
        }
        var experiments: [(Int64, String)] = []
        for parent in [root, (root as NSString).appendingPathComponent(".trash")] {
            for name in (try? manager.contentsOfDirectory(atPath: parent)) ?? [] {
                guard let id = Int64(name) else { continue }
                let path = (parent as NSString).appendingPathComponent(name)
                if manager.fileExists(atPath: (path as NSString).appendingPathComponent("meta.yaml")) {
                    experiments.append((id, path))
                }
            }
        }
        experiments.sort { $0.0 < $1.0 }
        experimentFolders = experiments
        var runs: [(String, String, Int64)] = []
        for (experimentId, path) in experiments {
            for name in (try? manager.contentsOfDirectory(atPath: path)) ?? [] {
                let runPath = (path as NSString).appendingPathComponent(name)
                guard !["tags", "datasets", "models", "traces"].contains(name),
                      manager.fileExists(atPath: (runPath as NSString).appendingPathComponent("meta.yaml")) else { continue }
                runs.append((name, runPath, experimentId))
            }
        }
        runs.sort { $0.0 < $1.0 }
        runFolders = runs
        runIndex = Dictionary(runs.enumerated().map { ($0.element.0, $0.offset) }, uniquingKeysWith: { first, _ in first })
    }

    func close() async {}

    func counts() async throws -> SourceCounts {
        var counts = SourceCounts()
        counts.experiments = experimentFolders.count
        counts.runs = runFolders.count
        counts.loggedModels = experimentFolders.reduce(0) { $0 + Self.children(($1.path as NSString).appendingPathComponent("models")).count }
        counts.registeredModels = Self.children((root as NSString).appendingPathComponent("models")).count
        return counts
    }

    // MARK: - Files

    static func children(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func meta(_ folder: String) throws -> [String: Any] {
        let path = (folder as NSString).appendingPathComponent("meta.yaml")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let meta = try Yams.load(yaml: text) as? [String: Any] else {
            throw SwiftflowError(.internalError, "\(path) is not an MLflow meta.yaml.")
        }
        return meta
    }

    /// The files under `folder`, keyed by their path relative to it (`a/b` for a nested key).
    static func keyedFiles(_ folder: String) -> [(key: String, path: String)] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [(String, String)] = []
        while let relative = enumerator.nextObject() as? String {
            let path = (folder as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append((relative, path))
            }
        }
        return files.sorted { $0.0 < $1.0 }
    }

    static func keyValues(_ folder: String) -> [KeyValue] {
        keyedFiles(folder).compactMap { key, path in
            (try? String(contentsOfFile: path, encoding: .utf8)).map { KeyValue(key: key, value: $0) }
        }
    }

    static func string(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let number as Int: String(number)
        case let number as Double: String(number)
        case let flag as Bool: String(flag)
        default: nil
        }
    }

    static func int(_ value: Any?) -> Int64? {
        switch value {
        case let number as Int: Int64(number)
        case let text as String: Int64(text)
        case let number as Double: Int64(exactly: number)
        default: nil
        }
    }

    /// MLflow's run statuses as the file store numbers them.
    static let runStatuses: [Int64: String] = [1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"]

    // MARK: - Entities

    func experiments() async throws -> [ExperimentRecord] {
        try experimentFolders.map { id, path in
            let meta = try Self.meta(path)
            let created = Self.int(meta["creation_time"]) ?? 0
            return ExperimentRecord(
                id: id, name: Self.string(meta["name"]) ?? String(id),
                artifactLocation: Self.string(meta["artifact_location"]) ?? "",
                lifecycleStage: Self.string(meta["lifecycle_stage"]) ?? "active", creationTime: created,
                lastUpdateTime: Self.int(meta["last_update_time"]) ?? created,
                tags: Self.keyValues((path as NSString).appendingPathComponent("tags")))
        }
    }

    func runIds(after: String?, limit: Int) async throws -> [String] {
        var start = 0
        if let after {
            // First id greater than `after` (ids are sorted).
            var low = 0, high = runFolders.count
            while low < high {
                let mid = (low + high) / 2
                if runFolders[mid].id <= after { low = mid + 1 } else { high = mid }
            }
            start = low
        }
        return runFolders[start..<min(start + limit, runFolders.count)].map(\.id)
    }

    func runs(_ ids: [String]) async throws -> [RunRecord] {
        try ids.compactMap { id -> RunRecord? in
            guard let at = runIndex[id] else { return nil }
            let (_, path, experimentId) = runFolders[at]
            let meta = try Self.meta(path)
            let tags = Self.keyValues((path as NSString).appendingPathComponent("tags"))
            var run = RunRecord(
                id: id, experimentId: experimentId,
                name: Self.string(meta["run_name"]) ?? tags.first { $0.key == "mlflow.runName" }?.value ?? "",
                userId: Self.string(meta["user_id"]) ?? "",
                status: Self.int(meta["status"]).flatMap { Self.runStatuses[$0] } ?? Self.string(meta["status"]) ?? "RUNNING",
                startTime: Self.int(meta["start_time"]) ?? 0, endTime: Self.int(meta["end_time"]),
                lifecycleStage: Self.string(meta["lifecycle_stage"]) ?? "active",
                artifactUri: Self.string(meta["artifact_uri"]) ?? "", deletedTime: Self.int(meta["deleted_time"]))
            run.params = Self.keyValues((path as NSString).appendingPathComponent("params"))
            run.tags = tags
            for (key, file) in Self.keyedFiles((path as NSString).appendingPathComponent("metrics")) {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                for line in text.split(whereSeparator: \.isNewline) {
                    let parts = line.split(separator: " ")
                    guard parts.count >= 2, let timestamp = Int64(parts[0]), let value = Double(parts[1]) else {
                        throw SwiftflowError(.internalError, "The metric file \(file) has a malformed line: '\(line)'.")
                    }
                    let step = parts.count >= 3 ? Int64(parts[2]) ?? 0 : 0
                    run.metrics.append(MetricPoint(
                        key: key, value: value.isNaN ? 0 : value, timestamp: timestamp, step: step, isNaN: value.isNaN))
                }
            }
            let inputs = (path as NSString).appendingPathComponent("inputs")
            for name in Self.children(inputs) {
                let input = try Self.meta((inputs as NSString).appendingPathComponent(name))
                guard let sourceId = Self.string(input["source_id"]) else { continue }
                switch Self.string(input["source_type"]) {
                case "DATASET":
                    let tags = (input["tags"] as? [String: Any] ?? [:]).compactMap { key, value in
                        Self.string(value).map { KeyValue(key: key, value: $0) }
                    }.sorted { $0.key < $1.key }
                    run.inputs.append(RunInputRecord(datasetId: sourceId, tags: tags))
                case "MODEL":
                    run.modelInputs.append(sourceId)
                default:
                    continue
                }
            }
            let outputs = (path as NSString).appendingPathComponent("outputs")
            for name in Self.children(outputs) {
                let output = try Self.meta((outputs as NSString).appendingPathComponent(name))
                // MLflow writes the model as the source of a RUN_OUTPUT edge (its folder is named after it too).
                let modelId = Self.string(output["source_id"]) ?? name
                run.modelOutputs.append(ModelOutputRecord(modelId: modelId, step: Self.int(output["step"]) ?? 0))
            }
            return run
        }
    }

    func datasets() async throws -> [DatasetRecord] {
        var datasets: [DatasetRecord] = []
        for (experimentId, path) in experimentFolders {
            let folder = (path as NSString).appendingPathComponent("datasets")
            for name in Self.children(folder) {
                let meta = try Self.meta((folder as NSString).appendingPathComponent(name))
                datasets.append(DatasetRecord(
                    id: name, experimentId: experimentId, name: Self.string(meta["name"]) ?? "",
                    digest: Self.string(meta["digest"]) ?? "", sourceType: Self.string(meta["source_type"]) ?? "",
                    source: Self.string(meta["source"]) ?? "", schema: Self.string(meta["schema"]),
                    profile: Self.string(meta["profile"])))
            }
        }
        return datasets
    }

    func loggedModels() async throws -> [LoggedModelRecord] {
        var models: [LoggedModelRecord] = []
        for (experimentId, path) in experimentFolders {
            let folder = (path as NSString).appendingPathComponent("models")
            for name in Self.children(folder) {
                let modelPath = (folder as NSString).appendingPathComponent(name)
                let meta = try Self.meta(modelPath)
                let created = Self.int(meta["creation_timestamp"]) ?? 0
                var model = LoggedModelRecord(
                    id: Self.string(meta["model_id"]) ?? name, experimentId: experimentId, name: Self.string(meta["name"]) ?? "",
                    artifactLocation: Self.string(meta["artifact_location"]) ?? "", creationTime: created,
                    lastUpdatedTime: Self.int(meta["last_updated_timestamp"]) ?? created,
                    status: Self.int(meta["status"]) ?? 0, lifecycleStage: Self.string(meta["lifecycle_stage"]) ?? "active",
                    modelType: Self.string(meta["model_type"]), sourceRunId: Self.string(meta["source_run_id"]),
                    statusMessage: Self.string(meta["status_message"]))
                model.params = Self.keyValues((modelPath as NSString).appendingPathComponent("params"))
                model.tags = Self.keyValues((modelPath as NSString).appendingPathComponent("tags"))
                for (key, file) in Self.keyedFiles((modelPath as NSString).appendingPathComponent("metrics")) {
                    let text = try String(contentsOfFile: file, encoding: .utf8)
                    for line in text.split(whereSeparator: \.isNewline) {
                        // timestamp value step run_id [dataset_name dataset_digest]
                        let parts = line.split(separator: " ").map(String.init)
                        guard parts.count >= 4, let timestamp = Int64(parts[0]), let value = Double(parts[1]),
                              let step = Int64(parts[2]) else {
                            throw SwiftflowError(.internalError, "The metric file \(file) has a malformed line: '\(line)'.")
                        }
                        model.metrics.append(LoggedModelMetricRecord(
                            key: key, value: value, timestamp: timestamp, step: step, runId: parts[3],
                            datasetName: parts.count >= 6 ? parts[4] : nil, datasetDigest: parts.count >= 6 ? parts[5] : nil))
                    }
                }
                models.append(model)
            }
        }
        return models.sorted { ($0.creationTime, $0.id) < ($1.creationTime, $1.id) }
    }

    func registeredModels() async throws -> [RegisteredModelRecord] {
        let folder = (root as NSString).appendingPathComponent("models")
        return try Self.children(folder).map { name in
            let path = (folder as NSString).appendingPathComponent(name)
            let meta = try Self.meta(path)
            let created = Self.int(meta["creation_timestamp"]) ?? 0
            var model = RegisteredModelRecord(
                name: Self.string(meta["name"]) ?? name, creationTime: created,
                lastUpdatedTime: Self.int(meta["last_updated_timestamp"]) ?? created,
                description: Self.string(meta["description"]), lastVersion: 0)
            model.tags = Self.keyValues((path as NSString).appendingPathComponent("tags"))
            for child in Self.children(path) where child.hasPrefix("version-") {
                let versionPath = (path as NSString).appendingPathComponent(child)
                let version = try Self.meta(versionPath)
                guard let number = Self.int(version["version"]) ?? Int64(child.dropFirst("version-".count)) else { continue }
                model.lastVersion = max(model.lastVersion, number)
                let stage = Self.string(version["current_stage"]) ?? "None"
                if stage == "Deleted_Internal" { continue }
                let versionCreated = Self.int(version["creation_timestamp"]) ?? 0
                model.versions.append(ModelVersionRecord(
                    version: number, creationTime: versionCreated,
                    lastUpdatedTime: Self.int(version["last_updated_timestamp"]) ?? versionCreated,
                    description: Self.string(version["description"]), userId: Self.string(version["user_id"]),
                    currentStage: stage, source: Self.string(version["source"]),
                    storageLocation: Self.string(version["storage_location"]), runId: Self.string(version["run_id"]),
                    runLink: Self.string(version["run_link"]), status: Self.string(version["status"]) ?? "READY",
                    statusMessage: Self.string(version["status_message"]),
                    tags: Self.keyValues((versionPath as NSString).appendingPathComponent("tags"))))
            }
            model.versions.sort { $0.version < $1.version }
            var aliases: [String: Int64] = [:]
            for (alias, value) in meta["aliases"] as? [String: Any] ?? [:] {
                if let version = Self.int(value) { aliases[alias] = version }
            }
            for entry in Self.keyValues((path as NSString).appendingPathComponent("aliases")) {
                if let version = Int64(entry.value.trimmingCharacters(in: .whitespacesAndNewlines)) { aliases[entry.key] = version }
            }
            model.aliases = aliases.sorted { $0.key < $1.key }
                .filter { alias in model.versions.contains { $0.version == alias.value } }
                .map { AliasRecord(alias: $0.key, version: $0.value) }
            return model
        }
    }

    func skipped() async throws -> [SkippedItem] {
        var traces = 0
        for (_, path) in experimentFolders {
            traces += Self.children((path as NSString).appendingPathComponent("traces")).count
        }
        var skipped: [SkippedItem] = []
        if traces > 0 { skipped.append(SkippedItem(what: "traces", count: traces, reason: "not supported by Swiftflow")) }
        var deletedVersions = 0
        let models = (root as NSString).appendingPathComponent("models")
        for name in Self.children(models) {
            let path = (models as NSString).appendingPathComponent(name)
            for child in Self.children(path) where child.hasPrefix("version-") {
                let meta = try? Self.meta((path as NSString).appendingPathComponent(child))
                if Self.string(meta?["current_stage"]) == "Deleted_Internal" { deletedVersions += 1 }
            }
        }
        if deletedVersions > 0 {
            skipped.append(SkippedItem(
                what: "deleted model versions", count: deletedVersions,
                reason: "MLflow keeps only their numbers, which stay taken after the import"))
        }
        return skipped
    }
}
