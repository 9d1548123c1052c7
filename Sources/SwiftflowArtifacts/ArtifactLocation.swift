import SwiftflowCore

/// Where an artifact URI points: a run's `artifact_uri`, or a model version's download location.
public enum ArtifactLocation: Equatable, Sendable {
    /// Inside the artifacts proxy's store (`--artifacts-destination`): `mlflow-artifacts:/<path>` on any host,
    /// or an http(s) URL of `/api/2.0/mlflow-artifacts/artifacts/<path>`.
    case proxied(ArtifactPath)
    /// A folder on the server's machine: a plain path or a `file:` URI, as given (maybe relative).
    case folder(String)
    /// An S3 bucket and key prefix: the artifact root of runs when the server does not proxy artifacts
    /// (`--no-serve-artifacts --default-artifact-root s3://…`) and clients write to the bucket themselves.
    case s3(S3Location)
    /// `runs:/<run_id>/<path>`: a path inside another run's artifacts.
    case run(id: String, path: ArtifactPath)
    /// A store this server does not reach (`gs`, an http URL outside the artifacts API...): the scheme.
    case unsupported(scheme: String)

    /// The route MLflow anchors proxied http(s) artifact URIs on.
    static let proxyRoute = "/api/2.0/mlflow-artifacts/artifacts/"

    /// Reads `uri` as MLflow's server does (`_get_proxied_run_artifact_destination_path`).
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` "Invalid path" when the path inside a proxied or `runs:/` URI
    ///   climbs out with `..` or is absolute.
    public init(uri: String) throws(SwiftflowError) {
        let parts = URLParts(uri)
        switch parts.scheme {
        case "mlflow-artifacts":
            self = .proxied(try ArtifactPath(validating: String(parts.path.drop(while: { $0 == "/" }))))
        case "http", "https":
            guard let anchor = parts.path.firstRange(of: Self.proxyRoute) else {
                self = .unsupported(scheme: parts.scheme)
                return
            }
            let path = parts.path[anchor.upperBound...].drop(while: { $0 == "/" })
            self = .proxied(try ArtifactPath(validating: String(path)))
        case "file":
            self = .folder(ModelVersionSource.unquote(parts.path, plus: false))
        case "":
            self = .folder(uri)
        case "s3":
            self = .s3(try S3Location(uri: uri))
        case "runs":
            let rest = parts.path.drop(while: { $0 == "/" })
            let runId = rest.prefix(while: { $0 != "/" })
            guard !runId.isEmpty else { throw SwiftflowError.invalidParameter("Not a proper runs:/ URI: '\(uri)'.") }
            let path = rest.dropFirst(runId.count).drop(while: { $0 == "/" })
            self = .run(id: String(runId), path: try ArtifactPath(validating: String(path)))
        default:
            self = .unsupported(scheme: parts.scheme)
        }
    }
}
