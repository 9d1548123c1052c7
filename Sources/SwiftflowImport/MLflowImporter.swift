import Foundation
import Logging
import SwiftflowCore
import SwiftflowStore

/// What to import, from where to where.
public struct ImportOptions: Sendable {
    /// An MLflow database (`sqlite:///…`, `postgresql://…`) or file store folder (`./mlruns`, `file:///…`).
    public var from: String
    /// Our store: `sqlite:///…`, a file path, or `postgresql://…`.
    public var to: String
    /// The folder behind the source server's `mlflow-artifacts:/` locations (its `--artifacts-destination`).
    public var artifactsFrom: String?
    public var copyArtifacts = false
    /// Where copied artifacts go: the target server's `--artifacts-destination`.
    public var artifactsTo: String?
    /// MLflow's basic-auth database, and ours.
    public var authFrom: String?
    public var authTo: String?
    public var dryRun = false
    public var runsPerTransaction = 500
    public var progress = true

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }
}

/// Copies an MLflow store into ours with every id kept. See `ImportTarget` for why it is idempotent.
public struct MLflowImporter: Sendable {
    let options: ImportOptions
    let logger: Logger

    public init(options: ImportOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs the import and returns the summary to print.
    /// - Throws: `INVALID_PARAMETER_VALUE` when the target holds different data under the same ids or
    ///   names (nothing is written then), or when a store cannot be read.
    public func run() async throws -> String {
        try validateOptions()
        let source = try await Self.openSource(options.from, logger: logger)
        do {
            let summary = try await run(source)
            await source.close()
            return summary
        } catch {
            await source.close()
            throw error
        }
    }

    private func validateOptions() throws {
        if options.runsPerTransaction < 1 {
            throw SwiftflowError.invalidParameter("--runs-per-transaction must be at least 1.")
        }
        if options.copyArtifacts {
            guard let from = options.artifactsFrom, let to = options.artifactsTo else {
                throw SwiftflowError.invalidParameter("--copy-artifacts needs --artifacts-from and --artifacts-to (local folders).")
            }
            for folder in [from, to] where folder.contains("://") && !folder.hasPrefix("file://") {
                throw SwiftflowError.invalidParameter("--copy-artifacts copies between local folders; '\(folder)' is not one.")
            }
        }
        if (options.authFrom == nil) != (options.authTo == nil) {
            throw SwiftflowError.invalidParameter("--auth-from and --auth-to go together.")
        }
    }

    static func openSource(_ uri: String, logger: Logger) async throws -> any MLflowSource {
        if PostgresURL.matches(uri) {
            return try await DatabaseSource.open(try await SourceDatabase.openPostgres(uri: uri, logger: logger))
        }
        if uri.hasPrefix("sqlite:") {
            return try await DatabaseSource.open(try await SourceDatabase.openSQLite(path: try sqlitePath(uri), logger: logger))
        }
        let path = uri.hasPrefix("file://") ? String(uri.dropFirst("file://".count)) : uri
        if uri.contains("://") && !uri.hasPrefix("file://") {
            throw SwiftflowError.invalidParameter(
                "Cannot import from '\(uri)': give an MLflow database (sqlite:///…, postgresql://…) or an mlruns folder.")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SwiftflowError.invalidParameter("Nothing to import at '\(uri)'.")
        }
        if isDirectory.boolValue { return try FileStoreSource(root: absolute(path)) }
        return try await DatabaseSource.open(try await SourceDatabase.openSQLite(path: absolute(path), logger: logger))
    }

    /// `sqlite:///relative.db` or `sqlite:////absolute.db`, as SQLAlchemy and MLflow spell them.
    static func sqlitePath(_ uri: String) throws -> String {
        guard uri.hasPrefix("sqlite:///") else { throw SwiftflowError.invalidParameter("Unsupported SQLite URI '\(uri)'.") }
        let rest = String(uri.dropFirst("sqlite:///".count))
        guard !rest.isEmpty else { throw SwiftflowError.invalidParameter("The SQLite URI '\(uri)' names no file.") }
        return absolute(rest.hasPrefix("/") ? rest : rest)
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardizedFileURL.path
    }

    /// The target's tracking store, migrated (created if new).
    static func openTarget(_ uri: String, logger: Logger) async throws -> SQLTrackingStore {
        if PostgresURL.matches(uri) {
            return try await SQLTrackingStore.openPostgres(uri: uri, poolSize: 2, defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
        }
        let path: String
        if uri.hasPrefix("sqlite:") {
            path = try sqlitePath(uri)
        } else if uri.contains("://") {
            throw SwiftflowError.invalidParameter("Cannot import into '\(uri)': give sqlite:///path, a file path or postgresql://….")
        } else {
            path = absolute(uri)
        }
        return try await SQLTrackingStore.openSQLite(path: path, defaultArtifactRoot: "mlflow-artifacts:/", logger: logger)
    }

    /// Whether the target exists already; a dry run never creates one.
    static func targetExists(_ uri: String) throws -> Bool {
        if PostgresURL.matches(uri) { return true }
        let path = uri.hasPrefix("sqlite:") ? try sqlitePath(uri) : absolute(uri)
        return FileManager.default.fileExists(atPath: path)
    }

    // MARK: - The import

    private func run(_ source: any MLflowSource) async throws -> String {
        let progress = ImportProgress(style: ImportProgress.automatic(enabled: options.progress))
        let counts = try await source.counts()
        let experiments = try await source.experiments()
        let registered = try await source.registeredModels()
        let skipped = try await source.skipped()
        var summary = ImportSummary(source: source.description, target: Self.redacted(options.to), dryRun: options.dryRun)
        summary.skipped = skipped

        // Nothing is written until the target is known to agree with the source on every id and name.
        let store: SQLTrackingStore?
        if options.dryRun {
            store = try Self.targetExists(options.to) ? try await Self.openTarget(options.to, logger: logger) : nil
        } else {
            store = try await Self.openTarget(options.to, logger: logger)
        }
        do {
            let result = try await run(source, store: store, counts: counts, experiments: experiments,
                                       registered: registered, summary: summary, progress: progress)
            if let store { await store.shutdown() }
            return result
        } catch {
            if let store { await store.shutdown() }
            throw error
        }
    }

    private func run(
        _ source: any MLflowSource, store: SQLTrackingStore?, counts: SourceCounts, experiments: [ExperimentRecord],
        registered: [RegisteredModelRecord], summary: ImportSummary, progress: ImportProgress
    ) async throws -> String {
        var summary = summary
        let target = store.map { ImportTarget(executor: $0.executor) }
        let plan = try await Self.plan(experiments: experiments, registered: registered, target: target)
        summary.add("experiments", new: plan.newExperiments.count + (plan.replaceDefault == nil ? 0 : 1),
                    present: plan.presentExperiments)
        summary.add("registered models", new: plan.newModels, present: plan.presentModels)

        if options.dryRun {
            summary.add("runs", new: counts.runs, present: 0)
            summary.add("logged models", new: counts.loggedModels, present: 0)
            summary.add("model versions", new: registered.reduce(0) { $0 + $1.versions.count }, present: 0)
            if let authFrom = options.authFrom {
                let auth = try await SourceDatabase.open(authFrom, logger: logger)
                let result: AuthImport.Counts
                do {
                    result = try await AuthImport(source: auth, target: nil).run(dryRun: true)
                } catch {
                    await auth.close()
                    throw error
                }
                await auth.close()
                summary.add("users", new: result.users, present: 0)
                summary.add("role permissions", new: result.permissions, present: 0)
            }
            summary.artifactNote = artifactNote(experiments)
            return summary.render()
        }
        guard let target else { throw SwiftflowError(.internalError, "The target store is not open.") }

        try await target.write(experiments: plan.newExperiments, replaceDefault: plan.replaceDefault)
        let datasetIds = try await target.write(datasets: try await source.datasets())

        progress.begin("runs", total: counts.runs)
        var newRuns = 0
        var points = 0
        var seen = 0
        let batch = options.runsPerTransaction
        // The next batch is read while this one is written: the source and the target are different
        // connections on different threads.
        var currentIds = try await source.runIds(after: nil, limit: batch)
        var reading: Task<[RunRecord], any Error>? =
            currentIds.isEmpty ? nil : Task { [currentIds] in try await source.runs(currentIds) }
        while let current = reading {
            let runs = try await current.value
            let count = currentIds.count
            let nextIds = try await source.runIds(after: currentIds.last, limit: batch)
            currentIds = nextIds
            reading = nextIds.isEmpty ? nil : Task { [nextIds] in try await source.runs(nextIds) }
            let written: (runs: Int, points: Int)
            do {
                written = try await target.write(runs: runs, datasetIds: datasetIds)
            } catch {
                reading?.cancel()
                throw error
            }
            newRuns += written.runs
            points += written.points
            seen += count
            progress.advance(by: count)
        }
        progress.finish()
        summary.add("runs", new: newRuns, present: seen - newRuns)
        summary.add("metric points", new: points, present: nil)

        let loggedModels = try await source.loggedModels()
        var newModels = 0
        for start in stride(from: 0, to: loggedModels.count, by: 200) {
            newModels += try await target.write(loggedModels: Array(loggedModels[start..<min(start + 200, loggedModels.count)]))
        }
        summary.add("logged models", new: newModels, present: loggedModels.count - newModels)

        var versions = 0
        for model in registered {
            versions += try await target.write(registeredModel: model)
        }
        let sourceVersions = registered.reduce(0) { $0 + $1.versions.count }
        summary.add("model versions", new: versions, present: sourceVersions - versions)

        if let authFrom = options.authFrom, let authTo = options.authTo {
            let auth = try await SourceDatabase.open(authFrom, logger: logger)
            do {
                let authStore = try await Self.openAuthTarget(authTo, logger: logger)
                let result = try await AuthImport(source: auth, target: authStore.executor).run(dryRun: false)
                await authStore.shutdown()
                summary.add("users", new: result.users, present: result.usersKept)
                summary.add("roles", new: result.roles, present: nil)
                summary.add("role permissions", new: result.permissions, present: nil)
                summary.add("role assignments", new: result.assignments, present: nil)
            } catch {
                await auth.close()
                throw error
            }
            await auth.close()
        }

        if options.copyArtifacts, let from = options.artifactsFrom, let to = options.artifactsTo {
            let copied = try ArtifactCopy(from: Self.localPath(from), to: Self.localPath(to))
                .copy(locations: experiments.map(\.artifactLocation))
            summary.artifactNote = "artifacts: \(copied.files) files (\(copied.bytes) bytes) copied, \(copied.present) already there"
                + "; serve them with --artifacts-destination \(Self.localPath(to))"
        } else {
            summary.artifactNote = artifactNote(experiments)
        }
        return summary.render()
    }

    private func artifactNote(_ experiments: [ExperimentRecord]) -> String? {
        let proxied = experiments.contains { $0.artifactLocation.hasPrefix("mlflow-artifacts:") }
        guard proxied else { return "artifacts: left where they are (their locations are kept)" }
        let folder = options.artifactsFrom.map(Self.localPath) ?? "<the MLflow server's --artifacts-destination>"
        return "artifacts: left in place; start swiftflow server with --artifacts-destination \(folder) to serve mlflow-artifacts:/ locations"
    }

    static func localPath(_ folder: String) -> String {
        absolute(folder.hasPrefix("file://") ? String(folder.dropFirst("file://".count)) : folder)
    }

    static func openAuthTarget(_ uri: String, logger: Logger) async throws -> SQLAuthStore {
        if PostgresURL.matches(uri) { return try await SQLAuthStore.openPostgres(uri: uri, poolSize: 2, logger: logger) }
        let path = uri.hasPrefix("sqlite:") ? try sqlitePath(uri) : absolute(uri)
        return try await SQLAuthStore.openSQLite(path: path, logger: logger)
    }

    static func redacted(_ uri: String) -> String { PostgresURL.matches(uri) ? PostgresURL.redacted(uri) : uri }

    // MARK: - Planning

    struct Plan {
        var newExperiments: [ExperimentRecord] = []
        var replaceDefault: ExperimentRecord?
        var presentExperiments = 0
        var newModels = 0
        var presentModels = 0
    }

    /// Sorts the source's experiments and registered models into new and already imported, and
    /// refuses the import when the target holds something else under the same id or name.
    static func plan(
        experiments: [ExperimentRecord], registered: [RegisteredModelRecord], target: ImportTarget?
    ) async throws -> Plan {
        var plan = Plan()
        let existing = try await target?.experiments() ?? [:]
        let byName = Dictionary(existing.map { ($0.value.name, $0.key) }, uniquingKeysWith: { first, _ in first })
        var conflicts: [String] = []
        for experiment in experiments {
            if let there = existing[experiment.id] {
                if there.name == experiment.name && there.creationTime == experiment.creationTime {
                    plan.presentExperiments += 1
                } else if experiment.id == 0 && there.pristineDefault {
                    plan.replaceDefault = experiment
                } else if experiment.id == 0 {
                    // A target already in use keeps its own Default experiment; the source's runs join it.
                    plan.presentExperiments += 1
                } else {
                    conflicts.append(
                        "experiment \(experiment.id) is '\(there.name)' in the target but '\(experiment.name)' in the source")
                }
            } else if let otherId = byName[experiment.name] {
                conflicts.append(
                    "experiment '\(experiment.name)' has id \(otherId) in the target but \(experiment.id) in the source")
            } else {
                plan.newExperiments.append(experiment)
            }
        }
        let models = try await target?.registeredModels() ?? [:]
        for model in registered {
            if let created = models[model.name] {
                if created == model.creationTime {
                    plan.presentModels += 1
                } else {
                    conflicts.append("registered model '\(model.name)' already exists in the target and is another model")
                }
            } else {
                plan.newModels += 1
            }
        }
        if !conflicts.isEmpty {
            let shown = conflicts.prefix(10).map { "  - \($0)" }.joined(separator: "\n")
            let more = conflicts.count > 10 ? "\n  … and \(conflicts.count - 10) more" : ""
            throw SwiftflowError.invalidParameter(
                "The target already holds other data under the source's ids or names; nothing was imported:\n\(shown)\(more)\n"
                    + "Import into a new store, or rename or delete these in the target first.")
        }
        return plan
    }
}

extension SourceDatabase {
    /// An MLflow database named the way `--auth-from` takes it.
    static func open(_ uri: String, logger: Logger) async throws -> SourceDatabase {
        if PostgresURL.matches(uri) { return try await openPostgres(uri: uri, logger: logger) }
        let path = uri.hasPrefix("sqlite:") ? try MLflowImporter.sqlitePath(uri) : MLflowImporter.absolute(uri)
        return try await openSQLite(path: path, logger: logger)
    }
}

/// The summary printed at the end: counts per entity, then what was left behind and why.
struct ImportSummary {
    struct Line {
        var entity: String
        var new: Int
        var present: Int?
    }

    let source: String
    let target: String
    let dryRun: Bool
    var lines: [Line] = []
    var skipped: [SkippedItem] = []
    var artifactNote: String?

    mutating func add(_ entity: String, new: Int, present: Int?) {
        lines.append(Line(entity: entity, new: new, present: present))
    }

    func render() -> String {
        var out = dryRun ? "Dry run: nothing written. \(source) holds:\n" : "Imported \(source) into \(target):\n"
        let width = lines.map(\.entity.count).max() ?? 0
        for line in lines {
            let name = line.entity.padding(toLength: width, withPad: " ", startingAt: 0)
            var text = "  \(name)  \(line.new)"
            if dryRun {
                text += line.present.map { $0 > 0 ? " (\($0) already in the target)" : "" } ?? ""
            } else {
                text += " imported"
                if let present = line.present, present > 0 { text += ", \(present) already there" }
            }
            out += text + "\n"
        }
        if skipped.isEmpty {
            out += "Skipped: nothing\n"
        } else {
            out += "Skipped:\n"
            for item in skipped { out += "  \(item.what): \(item.count) (\(item.reason))\n" }
        }
        if let artifactNote { out += artifactNote + "\n" }
        return out
    }
}
