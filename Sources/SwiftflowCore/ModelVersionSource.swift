import Foundation

/// The checks MLflow's server makes on a new model version's `source` (`server/handlers.py`), so that
/// a client cannot register, and later download through the server, files it has no claim to.
///
/// A `runs:/<id>/...` source must name the request's `run_id`; an `mlflow-artifacts:` source (or an
/// http(s) URL of the artifacts proxy) and a local path must lie under that run's artifact root;
/// nothing may climb out with `..`; host-addressed schemes (`http`, `ftp`, `mlflow-artifacts://host`...)
/// are refused unless the operator allows them.
public enum ModelVersionSource {
    /// Schemes whose artifact repositories connect to the host named in the URI.
    static let hostAddressedSchemes: Set<String> = [
        "ftp", "sftp", "hdfs", "viewfs", "http", "https", "mlflow-artifacts", "r2", "b2", "abfss",
    ]

    /// `_validate_artifact_uri_scheme`: refuses a source that would make the server connect to a host.
    ///
    /// - Parameters:
    ///   - allowedSchemes: schemes the operator allows (`MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`).
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateHostPolicy(
        _ source: String, field: String = "source", allowedSchemes: Set<String> = allowedSchemesFromEnvironment()
    ) throws(SwiftflowError) {
        let parts = URLParts(source)
        guard hostAddressedSchemes.contains(parts.scheme) else { return }
        if parts.scheme == "mlflow-artifacts", parts.netloc.isEmpty { return }
        if allowedSchemes.contains(parts.scheme) { return }
        throw .invalidParameter(
            "'\(field)' cannot use the '\(parts.scheme)' scheme: the '\(parts.scheme)' scheme addresses a host other "
                + "than the tracking server's configured artifact storage, so the server would connect to the host "
                + "named in the URI. Set the MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES environment variable on "
                + "the server to allow it.")
    }

    /// The schemes listed in `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES` (comma-separated).
    public static func allowedSchemesFromEnvironment() -> Set<String> {
        let value = ProcessInfo.processInfo.environment["MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES"] ?? ""
        return Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty })
    }

    /// `_validate_source_run`: checks that `source` belongs to the run `runId`.
    ///
    /// - Parameters:
    ///   - runArtifactURI: the artifact URI of a run, or nil if there is no such run.
    /// - Throws: `INVALID_PARAMETER_VALUE` with MLflow's messages; whatever `runArtifactURI` throws.
    public static func validateRunSource(
        _ source: String, runId: String, runArtifactURI: (String) async throws -> String?
    ) async throws {
        let parts = URLParts(source)
        if parts.scheme.isEmpty || parts.scheme == "file" {
            var shown = source
            if !runId.isEmpty {
                guard let artifactURI = try await runArtifactURI(runId) else { throw invalidSource(source, "run_id") }
                let path = resolvedLocalPath(source)
                shown = path
                if isLocal(path, inside: artifactURI) { return }
            }
            throw SwiftflowError.invalidParameter(
                "Invalid model version source: '\(shown)'. To use a local path as a model version source, the run_id "
                    + "request parameter has to be specified and the local path has to be contained within the "
                    + "artifact directory of the run specified by the run_id.")
        }
        try rejectRelativePaths(source)
        switch parts.scheme {
        case "runs":
            guard parts.netloc.isEmpty, let sourceRunId = runIdOfRunsURI(parts), !runId.isEmpty, sourceRunId == runId
            else { throw invalidSource(source, "run_id") }
            return
        case "models":
            guard parts.netloc.isEmpty else { throw invalidSource(source, "model_id") }
            let parsed: ModelsURI
            do {
                parsed = try ModelsURI.parse(source)
            } catch {
                throw invalidSource(source, "model_id")
            }
            if case .modelId = parsed { throw invalidSource(source, "model_id") }
        default:
            break
        }
        if isArtifactProxySource(source) {
            if !runId.isEmpty, let artifactURI = try await runArtifactURI(runId), isURI(source, within: artifactURI) {
                return
            }
            throw invalidSource(source, "run_id")
        }
    }

    /// The registered model version a `models:/` source refers to, or nil when the source is not a
    /// `models:/` URI or names a logged model (`_resolve_registered_model_source_lineage`, first half).
    /// - Throws: `INVALID_PARAMETER_VALUE` for a `models://host/...` source or an improper `models:/` URI.
    public static func registeredModelReference(_ source: String) throws(SwiftflowError) -> ModelsURI? {
        let parts = URLParts(source)
        guard parts.scheme == "models" else { return nil }
        if !parts.netloc.isEmpty {
            throw .invalidParameter(
                "Invalid model version source: '\(source)'. Registered model sources must use the active model registry.")
        }
        let parsed: ModelsURI
        do {
            parsed = try ModelsURI.parse(source)
        } catch {
            throw invalidSource(source, "model_id")
        }
        if case .modelId = parsed { return nil }
        return parsed
    }

    /// MLflow's error for a source its `run_id` / `model_id` does not vouch for.
    public static func invalidSource(_ source: String, _ idName: String) -> SwiftflowError {
        .invalidParameter(
            "Invalid model version source: '\(source)'. The \(idName) request parameter must identify the resource "
                + "that contains the source.")
    }

    // MARK: - Pieces

    /// `_validate_non_local_source_contains_relative_paths`: no `..`, no NUL, an absolute normal path.
    static func rejectRelativePaths(_ original: String) throws(SwiftflowError) {
        var source = original
        while true {
            let unquoted = unquote(source, plus: true)
            if unquoted == source { break }
            source = unquoted
        }
        var path = URLParts(source).path
        while path.hasSuffix("/") { path.removeLast() }
        var collapsed = ""
        for character in path where !(character == "/" && collapsed.hasSuffix("/")) { collapsed.append(character) }
        let invalid = collapsed.contains("\0") || source.split(separator: "/", omittingEmptySubsequences: false).contains("..")
            || !collapsed.hasPrefix("/") || Validation.normalizePosixPath(collapsed) != collapsed
        if invalid {
            throw .invalidParameter(
                "Invalid model version source: '\(source)'. If supplying a source as an http, https, local file path, "
                    + "ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative "
                    + "path references present. Please provide an absolute path.")
        }
    }

    /// The run id of `runs:/<id>/path`, or nil if the URI is not proper.
    static func runIdOfRunsURI(_ parts: URLParts) -> String? {
        guard parts.path.hasPrefix("/"), parts.path.count > 1 else { return nil }
        let runId = parts.path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)[0]
        return runId.isEmpty ? nil : String(runId)
    }

    /// `_is_mlflow_artifact_source`: `mlflow-artifacts:` or an http(s) URL of the artifacts proxy.
    static func isArtifactProxySource(_ source: String) -> Bool {
        let (scheme, _, path) = normalizedParts(source)
        if scheme == "mlflow-artifacts" { return true }
        guard scheme == "http" || scheme == "https" else { return false }
        let route = ["api", "2.0", "mlflow-artifacts", "artifacts"]
        guard path.count >= route.count else { return false }
        return (0...(path.count - route.count)).contains { Array(path[$0..<($0 + route.count)]) == route }
    }

    /// `_is_uri_within_root`: same scheme and authority, and the root's path segments prefix the source's.
    static func isURI(_ source: String, within root: String) -> Bool {
        let source = normalizedParts(source)
        let root = normalizedParts(root)
        return source.scheme == root.scheme && source.authority == root.authority && !root.path.isEmpty
            && source.path.count >= root.path.count && Array(source.path.prefix(root.path.count)) == root.path
    }

    private static func normalizedParts(_ uri: String) -> (scheme: String, authority: String, path: [String]) {
        let parts = URLParts(uri)
        let segments = parts.path.split(separator: "/").map { segment -> String in
            var text = String(segment)
            while true {
                let unquoted = unquote(text, plus: false)
                if unquoted == text { return text }
                text = unquoted
            }
        }
        return (parts.scheme, parts.netloc.lowercased(), segments)
    }

    /// Whether the resolved local `path` is the local artifact root `root` or inside it.
    static func isLocal(_ path: String, inside root: String) -> Bool {
        let parts = URLParts(root)
        guard parts.scheme.isEmpty || parts.scheme == "file" else { return false }
        let rootPath = resolvedLocalPath(root)
        return path == rootPath || path.hasPrefix(rootPath.hasSuffix("/") ? rootPath : rootPath + "/")
    }

    /// `Path(local_file_uri_to_path(uri)).resolve()` without following symlinks.
    static func resolvedLocalPath(_ uri: String) -> String {
        var path = uri.hasPrefix("file:") ? URLParts(uri).path : uri
        path = unquote(path, plus: false)
        if !path.hasPrefix("/") {
            path = FileManager.default.currentDirectoryPath + "/" + path
        }
        return Validation.normalizePosixPath(path)
    }

    /// Python's `urllib.parse.unquote` (or `unquote_plus`): `%XX` decoded as UTF-8, invalid bytes replaced.
    package static func unquote(_ text: String, plus: Bool) -> String {
        guard text.contains("%") || (plus && text.contains("+")) else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        let hex = Hex.digit
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let high = hex(utf8[utf8.startIndex]),
               let low = hex(utf8[utf8.startIndex + 1]) {
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else if plus, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
