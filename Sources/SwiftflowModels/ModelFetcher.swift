import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import SwiftflowArtifacts
import SwiftflowClient
import SwiftflowCore

/// Turns a model URI into a local folder holding `MLmodel`.
///
/// Local paths are used in place. Everything else is resolved through the tracking server named by
/// `MLFLOW_TRACKING_URI` and downloaded once into a cache keyed by the final artifact location, so a
/// second start (or a second replica on the same machine) reuses the files.
public struct ModelFetcher: Sendable {
    public let environment: [String: String]
    public let cacheRoot: URL

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, cacheRoot: URL? = nil) {
        self.environment = environment
        self.cacheRoot = cacheRoot ?? SwiftflowCache.root(environment).appendingPathComponent("models")
    }

    /// The local folder of the model at `uri`.
    public func localDirectory(for uri: String) async throws(SwiftflowError) -> URL {
        try await resolve(uri, depth: 0)
    }

    private func client() throws(SwiftflowError) -> TrackingClient {
        guard let tracking = environment["MLFLOW_TRACKING_URI"], !tracking.isEmpty else {
            throw .invalidParameter("MLFLOW_TRACKING_URI must name the tracking server to resolve model URIs "
                                    + "(e.g. export MLFLOW_TRACKING_URI=http://127.0.0.1:5000).")
        }
        return try TrackingClient(trackingURI: tracking, environment: environment)
    }

    private func resolve(_ uri: String, depth: Int) async throws(SwiftflowError) -> URL {
        guard depth < 8 else { throw .invalidParameter("The model URI '\(uri)' resolves in a loop.") }
        let scheme = URLParts(uri).scheme
        switch scheme {
        case "models":
            return try await resolve(try await artifactURI(models: try ModelsURI.parse(uri)), depth: depth + 1)
        case "runs":
            return try await resolve(try await artifactURI(runs: uri), depth: depth + 1)
        default:
            break
        }
        switch try ArtifactLocation(uri: uri) {
        case .folder(let path):
            let url = URL(fileURLWithPath: path).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw .notFound("No model at '\(uri)': \(url.path) does not exist.")
            }
            return isDirectory.boolValue ? url : url.deletingLastPathComponent()
        case .proxied(let path):
            let tracking = try proxyClient(for: uri)
            return try await cached(key: tracking.baseURL + "/" + path.string) { directory throws(SwiftflowError) in
                try await tracking.downloadProxiedArtifacts(path.string, into: directory)
            }
        case .s3(let location):
            return try await cached(key: uri) { directory throws(SwiftflowError) in
                try await downloadS3(location, into: directory)
            }
        case .run(let id, let path):
            return try await resolve("runs:/\(id)/\(path.string)", depth: depth + 1)
        case .unsupported(let scheme):
            throw .invalidParameter("Model URIs with the scheme '\(scheme)' are not supported: '\(uri)'.")
        }
    }

    /// `mlflow-artifacts://host:port/...` names its server; `mlflow-artifacts:/...` means the tracking server.
    private func proxyClient(for uri: String) throws(SwiftflowError) -> TrackingClient {
        let parts = URLParts(uri)
        if parts.scheme == "mlflow-artifacts", !parts.netloc.isEmpty {
            let scheme = environment["MLFLOW_TRACKING_URI"]?.hasPrefix("https") == true ? "https" : "http"
            return try TrackingClient(trackingURI: "\(scheme)://\(parts.netloc)", environment: environment)
        }
        if parts.scheme == "http" || parts.scheme == "https" {
            return try TrackingClient(trackingURI: "\(parts.scheme)://\(parts.netloc)", environment: environment)
        }
        return try client()
    }

    private func artifactURI(models uri: ModelsURI) async throws(SwiftflowError) -> String {
        let client = try client()
        switch uri {
        case .modelId(let id):
            let model = try await client.get("/api/2.0/mlflow/logged-models/\(TrackingClient.escape(id))")
            guard case .string(let location)? = model["model"]?["info"]?["artifact_uri"] else {
                throw .notFound("Logged model '\(id)' has no artifact location.")
            }
            return location
        case .version(let name, let version):
            return try await downloadURI(client, name: name, version: version)
        case .alias(let name, let alias):
            let answer = try await client.get(
                "/api/2.0/mlflow/registered-models/alias", query: [("name", name), ("alias", alias)])
            guard case .string(let version)? = answer["model_version"]?["version"] else {
                throw .notFound("Registered model '\(name)' has no alias '\(alias)'.")
            }
            return try await downloadURI(client, name: name, version: version)
        case .latest(let name), .stage(let name, _):
            var body = JSONWriter(style: .compact)
            body.beginObject()
            body.field("name", name)
            if case .stage(_, let stage) = uri { body.repeatedField("stages", [stage]) { w, s in w.string(s) } }
            body.endObject()
            let answer = try await client.post("/api/2.0/mlflow/registered-models/get-latest-versions", body: body.bytes)
            var newest: (Int, String)?
            if case .array(let versions)? = answer["model_versions"] {
                for case .string(let text)? in versions.map({ $0["version"] }) {
                    if let number = Int(text), number > (newest?.0 ?? Int.min) { newest = (number, text) }
                }
            }
            guard let newest else {
                if case .stage(_, let stage) = uri {
                    throw .notFound("No versions of registered model '\(name)' in stage '\(stage)'.")
                }
                throw .notFound("Registered model '\(name)' has no versions.")
            }
            return try await downloadURI(client, name: name, version: newest.1)
        }
    }

    private func downloadURI(_ client: TrackingClient, name: String, version: String) async throws(SwiftflowError) -> String {
        let answer = try await client.get(
            "/api/2.0/mlflow/model-versions/get-download-uri", query: [("name", name), ("version", version)])
        guard case .string(let uri)? = answer["artifact_uri"] else {
            throw .notFound("Model version '\(name)' \(version) has no download location.")
        }
        return uri
    }

    /// MLflow 3 resolves `runs:/<run>/<name>` to the run's artifacts, or else to the logged model of
    /// that name created by the run.
    private func artifactURI(runs uri: String) async throws(SwiftflowError) -> String {
        let rest = URLParts(uri).path.drop(while: { $0 == "/" })
        let runId = String(rest.prefix(while: { $0 != "/" }))
        let path = String(rest.dropFirst(runId.count).drop(while: { $0 == "/" }))
        guard !runId.isEmpty else {
            throw .invalidParameter("Not a proper runs:/ URI: \(uri). Runs URIs must be of the form "
                                    + "'runs:/<run_id>/run-relative/path/to/artifact'")
        }
        let client = try client()
        let run = try await client.get("/api/2.0/mlflow/runs/get", query: [("run_id", runId)])
        guard case .string(let root)? = run["run"]?["info"]?["artifact_uri"],
              case .string(let experimentId)? = run["run"]?["info"]?["experiment_id"] else {
            throw .notFound("Run '\(runId)' has no artifact location.")
        }
        let inRun = path.isEmpty ? root : root + "/" + path
        if try await holdsMLmodel(inRun, client: client) { return inRun }
        if !path.isEmpty {
            var body = JSONWriter(style: .compact)
            body.beginObject()
            body.repeatedField("experiment_ids", [experimentId]) { w, id in w.string(id) }
            body.field("filter", "name = '\(path.replacingOccurrences(of: "'", with: "\\'"))'")
            body.endObject()
            let found = try await client.post("/api/2.0/mlflow/logged-models/search", body: body.bytes)
            if case .array(let models)? = found["models"] {
                for model in models where model["info"]?["source_run_id"] == .string(runId) {
                    if case .string(let location)? = model["info"]?["artifact_uri"] { return location }
                }
            }
        }
        return inRun
    }

    private func holdsMLmodel(_ uri: String, client: TrackingClient) async throws(SwiftflowError) -> Bool {
        switch try ArtifactLocation(uri: uri) {
        case .folder(let path):
            return FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent("MLmodel").path)
        case .proxied(let path):
            let listing = try await proxyClient(for: uri).get(
                "/api/2.0/mlflow-artifacts/artifacts", query: [("path", path.string)])
            guard case .array(let files)? = listing["files"] else { return false }
            return files.contains { file in
                if case .string(let name)? = file["path"] { return (name as NSString).lastPathComponent == "MLmodel" }
                return false
            }
        default:
            return true
        }
    }

    private func downloadS3(_ location: S3Location, into directory: URL) async throws(SwiftflowError) {
        let configuration = try S3Configuration(environment: environment)
        let http = S3ArtifactRepository.makeHTTPClient(for: configuration)
        let repository = S3ArtifactRepository(location: location, configuration: configuration, client: http)
        do {
            try await copyTree(repository, from: .root, into: directory)
            try await http.shutdown()
        } catch {
            try? await http.shutdown()
            if let error = error as? SwiftflowError { throw error }
            throw SwiftflowError(.temporarilyUnavailable, "Could not download the model from S3: \(error)", cause: error)
        }
    }

    private func copyTree(_ repository: some ArtifactRepository, from path: ArtifactPath, into directory: URL) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for entry in try await repository.list(path) {
            guard let name = entry.path.segments.last else { continue }
            let target = directory.appendingPathComponent(name)
            if entry.isDirectory {
                try await copyTree(repository, from: entry.path, into: target)
            } else {
                _ = FileManager.default.createFile(atPath: target.path, contents: nil)
                let handle = try FileHandle(forWritingTo: target)
                defer { try? handle.close() }
                try await repository.read(entry.path, range: nil) { buffer in
                    try handle.write(contentsOf: Data(buffer.readableBytesView))
                }
            }
        }
    }

    /// The cache folder for `key`, filled by `download` the first time (into a temporary folder renamed
    /// into place, so an interrupted download is never mistaken for a model).
    private func cached(key: String, _ download: (URL) async throws(SwiftflowError) -> Void) async throws(SwiftflowError) -> URL {
        let digest = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
        let target = cacheRoot.appendingPathComponent(String(digest.prefix(32)))
        let manager = FileManager.default
        if manager.fileExists(atPath: target.appendingPathComponent("MLmodel").path) { return target }
        let partial = cacheRoot.appendingPathComponent(".partial-\(digest.prefix(16))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try manager.createDirectory(at: partial, withIntermediateDirectories: true)
        } catch {
            throw SwiftflowError(.internalError, "Could not create the model cache \(cacheRoot.path): \(error)", cause: error)
        }
        do {
            try await download(partial)
        } catch {
            try? manager.removeItem(at: partial)
            throw error
        }
        guard manager.fileExists(atPath: partial.appendingPathComponent("MLmodel").path) else {
            try? manager.removeItem(at: partial)
            throw .notFound("No MLmodel file at '\(key)': not an MLflow model.")
        }
        if rename(partial.path, target.path) != 0 {
            // Another process filled the cache first; use its copy.
            try? manager.removeItem(at: partial)
            guard manager.fileExists(atPath: target.appendingPathComponent("MLmodel").path) else {
                throw SwiftflowError(.internalError, "Could not move the model into \(target.path).")
            }
        }
        return target
    }
}

/// Swiftflow's cache folder: `$SWIFTFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/swiftflow`, else `~/.cache/swiftflow`.
public enum SwiftflowCache {
    public static func root(_ environment: [String: String]) -> URL {
        if let dir = environment["SWIFTFLOW_CACHE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("swiftflow")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/swiftflow")
    }
}
