import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes
import SwiftflowArtifacts
import SwiftflowCore
import SwiftflowStore

/// MLflow's artifact endpoints: the artifacts proxy of `mlflow_artifacts.proto` (under `/api/2.0/mlflow-artifacts`
/// and `/ajax-api/2.0/mlflow-artifacts`), the listing of a run's artifacts (`/mlflow/artifacts/list`) and the
/// UI's downloads (`/get-artifact`, `/model-versions/get-artifact`).
///
/// Every path from a client goes through `ArtifactPath(validating:)` before it reaches a repository.
struct ArtifactRoutes {
    let stores: ArtifactStores
    /// `--serve-artifacts`: whether the proxy answers, and whether `mlflow-artifacts:` run roots can be read.
    let serveArtifacts: Bool

    static let proxyPrefixes = ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"]

    // MARK: - The artifacts proxy

    /// The `mlflow-artifacts` service. With `--no-serve-artifacts` each endpoint answers 503, as MLflow's do.
    func registerProxy(on router: Router<ServerRequestContext>) {
        let repository = stores.proxied
        for prefix in Self.proxyPrefixes {
            proxyRoute(router, .get, prefix, "/artifacts/", rule: "/artifacts/<path:artifact_path>") { request, _, raw in
                try await ArtifactDownload.response(repository, try ArtifactPath(validating: raw), request: request)
            }
            proxyRoute(router, .put, prefix, "/artifacts/", rule: "/artifacts/<path:artifact_path>") { request, context, raw in
                let path = try ArtifactPath(validating: raw)
                if path.isRoot || path.endsWithSeparator {
                    throw SwiftflowError.invalidParameter("Artifact path must include a filename (cannot end with '/').")
                }
                if request.headers[.expect]?.lowercased() == "100-continue" {
                    try await context.channel.writeAndFlush(HTTPResponsePart.head(HTTPResponse(status: .continue))).get()
                }
                try await repository.write(path, contents: request.body)
                return Response(status: .ok)  // MLflow answers an upload with an empty body
            }
            proxyRoute(router, .delete, prefix, "/artifacts/", rule: "/artifacts/<path:artifact_path>") { _, _, raw in
                try await repository.delete(try ArtifactPath(validating: raw))
                return JSONResponse.empty
            }
            proxyRoute(router, .get, prefix, "/artifacts", rule: "/artifacts") { request, context, _ in
                // The router also sends `/artifacts/` here: that is a download of the root, a folder.
                if request.uri.path.hasSuffix("/") {
                    return try await ArtifactDownload.response(repository, .root, request: request)
                }
                let fields = try await APIRouter.decode(request, context: context)
                let path = try Self.first(fields, "path").map { text throws(SwiftflowError) in
                    try ArtifactPath(validating: text)
                } ?? .root
                let files = try await repository.list(path)
                return JSONResponse.make { w in
                    w.beginObject()
                    w.repeatedField("files", files) { w, file in w.fileInfo(file, path: file.path.name ?? "") }
                    w.endObject()
                }
            }
            for action in ["create", "complete", "abort"] {
                proxyRoute(router, .post, prefix, "/mpu/\(action)/", rule: "/mpu/\(action)/<path:artifact_path>") {
                    request, context, raw in
                    let folder = try ArtifactPath(validating: raw)
                    let fields = try await APIRouter.decode(request, context: context)
                    let localFile = try fields.requiredString("path")
                    // Each action reads its own fields, as MLflow's handlers do (absent ones are the proto's defaults).
                    var numParts: Int64 = 0
                    var uploadId = ""
                    var parts: [MultipartUploadPart] = []
                    switch action {
                    case "create":
                        numParts = try fields.int64("num_parts") ?? 0
                    case "complete":
                        uploadId = try fields.string("upload_id") ?? ""
                        guard fields.value("parts") != nil else {
                            throw SwiftflowError.invalidParameter(Validation.missingValue("parts"))
                        }
                        parts = try fields.objects("parts").map { part throws(SwiftflowError) in
                            MultipartUploadPart(
                                number: Int(try part.int64("part_number") ?? 0), etag: try part.string("etag") ?? "")
                        }
                    default:
                        uploadId = try fields.string("upload_id") ?? ""
                    }
                    // MLflow's local artifact store has no multipart uploads either; clients fall back to PUT.
                    guard let uploads = repository as? any MultipartUploadRepository else {
                        throw SwiftflowError(
                            .notImplemented, "Multipart upload is not supported for the current artifact repository")
                    }
                    // The file keeps the name of the client's local file, in the folder of the route (as MLflow's S3 store names it).
                    let name = localFile.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
                    let path = folder.appending(try ArtifactPath(validating: name))
                    if name.isEmpty || path.isRoot {
                        throw SwiftflowError.invalidParameter("Artifact path must include a filename (cannot end with '/').")
                    }
                    switch action {
                    case "create":
                        let upload = try await uploads.createMultipartUpload(path, parts: Int(clamping: numParts))
                        return JSONResponse.make { w in
                            w.beginObject()
                            w.field("upload_id", upload.uploadId)
                            w.repeatedField("credentials", Array(upload.partURLs.enumerated())) { w, part in
                                w.beginObject()
                                w.field("url", part.element)
                                w.field("part_number", Int64(part.offset + 1))
                                w.endObject()
                            }
                            w.endObject()
                        }
                    case "complete":
                        try await uploads.completeMultipartUpload(path, uploadId: uploadId, parts: parts)
                    default:
                        try await uploads.abortMultipartUpload(path, uploadId: uploadId)
                    }
                    return JSONResponse.empty
                }
            }
            proxyRoute(router, .get, prefix, "/presigned/", rule: "/presigned/<path:artifact_path>") { _, _, raw in
                _ = try ArtifactPath(validating: raw)
                throw SwiftflowError(
                    .notImplemented, "Multipart download is not supported for the current artifact repository")
            }
        }
    }

    /// Adds one proxy endpoint at `prefix + route`, followed by the artifact path when `route` ends in `/`;
    /// `rule` is the route as MLflow's Flask names it. The handler gets the raw text of the artifact path,
    /// still percent-encoded: `ArtifactPath(validating:)` decodes it as MLflow does.
    private func proxyRoute(
        _ router: Router<ServerRequestContext>, _ method: HTTPRequest.Method, _ prefix: String, _ route: String,
        rule: String, _ handler: @escaping @Sendable (Request, ServerRequestContext, String) async throws -> Response
    ) {
        let serveArtifacts = self.serveArtifacts
        let literal = prefix + route
        let fullRule = prefix + rule
        router.on(RouterPath(literal.hasSuffix("/") ? literal + "**" : literal), method: method) { request, context in
            guard serveArtifacts else {
                return Self.unavailable(
                    "Endpoint: \(fullRule) disabled due to the mlflow server running with `--no-serve-artifacts`. "
                        + "To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`")
            }
            let path = request.uri.path
            let raw = literal.hasSuffix("/") && path.hasPrefix(literal) ? String(path.dropFirst(literal.count)) : ""
            return try await handler(request, context, raw)
        }
    }

    /// MLflow's answer from an endpoint its mode turns off: 503 with a sentence.
    static func unavailable(_ message: String) -> Response {
        Response(
            status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: message)))
    }

    // MARK: - Run and model version artifacts

    /// `artifacts/list` for runs, and the UI's downloads of run and model version artifacts.
    func registerTracking(
        on api: APIRouter, tracking: any TrackingStore, registry: any RegistryStore
    ) {
        let routes = self
        api.on(.get, "/artifacts/list") { request in
            let relative = try Self.first(request, "path").map { text throws(SwiftflowError) in
                try ArtifactPath(validating: text)
            } ?? .root
            let run = try await tracking.getRun(id: try request.requiredString("run_id", "run_uuid"))
            return try await routes.listing(run.info.artifactUri, relative, tracking: tracking)
        }
        api.on(.get, "/logged-models/{model_id}/artifacts/directories") { request in
            let relative = try request.string("artifact_directory_path").map { text throws(SwiftflowError) in
                try ArtifactPath(validating: text)
            } ?? .root
            let model = try await tracking.getLoggedModel(id: request.pathParameter("model_id"), allowDeleted: false)
            return try await routes.listing(model.artifactLocation, relative, tracking: tracking)
        }
        api.router.get("/get-artifact") { request, context in
            let fields = try await APIRouter.decode(request, context: context)
            let path = try ArtifactPath(validating: try Self.required(fields, "path"))
            var runId = try Self.first(fields, "run_id") ?? ""
            if runId.isEmpty { runId = try Self.first(fields, "run_uuid") ?? "" }
            let run = try await tracking.getRun(id: runId)
            let (repository, root) = try await routes.resolve(run.info.artifactUri, tracking: tracking)
            return try await ArtifactDownload.response(repository, root.appending(path), request: request)
        }
        api.router.get("/model-versions/get-artifact") { request, context in
            let fields = try await APIRouter.decode(request, context: context)
            let path = try ArtifactPath(validating: try Self.required(fields, "path"))
            let uri = try await registry.getModelVersionDownloadURI(
                name: try Self.first(fields, "name") ?? "", version: try Self.first(fields, "version") ?? "")
            let (repository, root) = try await routes.resolve(uri, tracking: tracking)
            return try await ArtifactDownload.response(repository, root.appending(path), request: request)
        }
    }

    /// `{"root_uri": ..., "files": [...]}` for the folder `relative` under the artifact root `uri`; paths
    /// are given from the root, as the client passed them in.
    func listing(_ uri: String, _ relative: ArtifactPath, tracking: any TrackingStore) async throws -> Response {
        let (repository, root) = try await resolve(uri, tracking: tracking)
        let files = try await repository.list(root.appending(relative))
        return JSONResponse.make { w in
            w.beginObject()
            w.field("root_uri", uri)
            w.repeatedField("files", files) { w, file in
                let name = file.path.name ?? ""
                w.fileInfo(file, path: relative.isRoot ? name : relative.string + "/" + name)
            }
            w.endObject()
        }
    }

    /// The repository holding the artifacts at `uri` and the path of `uri` inside it.
    ///
    /// - Throws: `INVALID_STATE` for a proxied URI when the proxy is off; `NOT_IMPLEMENTED` for stores
    ///   this server does not reach (MLflow answers both with a 500).
    func resolve(
        _ uri: String, tracking: any TrackingStore, followRuns: Bool = true
    ) async throws -> (any ArtifactRepository, ArtifactPath) {
        switch try ArtifactLocation(uri: uri) {
        case .proxied(let path):
            guard serveArtifacts else {
                throw SwiftflowError(
                    .invalidState,
                    "The artifacts at '\(uri)' are kept by the artifacts proxy, which this server runs without "
                        + "(--no-serve-artifacts).")
            }
            return (stores.proxied, path)
        case .folder(let folder):
            return (stores.folder(folder), .root)
        case .s3(let location):
            guard let s3 = stores.s3 else {
                throw SwiftflowError(
                    .notImplemented,
                    "The artifacts at '\(uri)' cannot be read by this server: it was started without an S3 "
                        + "configuration (an s3:// --default-artifact-root or --artifacts-destination).")
            }
            return (s3(location), .root)
        case .run(let id, let path) where followRuns:
            let run = try await tracking.getRun(id: id)
            let (repository, root) = try await resolve(run.info.artifactUri, tracking: tracking, followRuns: false)
            return (repository, root.appending(path))
        case .run:
            throw SwiftflowError(.notImplemented, "The artifact URI '\(uri)' points at another run's URI.")
        case .unsupported(let scheme):
            throw SwiftflowError(
                .notImplemented, "The artifacts at '\(uri)' cannot be read by this server: '\(scheme)' stores are not supported.")
        }
    }

    /// A query parameter the handler cannot do without (MLflow's Flask raises a bare 400 for these).
    static func required(_ fields: MLflowRequest, _ name: String) throws(SwiftflowError) -> String {
        guard let value = try first(fields, name) else { throw .invalidParameter(Validation.missingValue(name)) }
        return value
    }

    /// A query parameter given once or more: the first value counts, as Flask's `request.args` has it.
    static func first(_ fields: MLflowRequest, _ name: String) throws(SwiftflowError) -> String? {
        if case .array(let values) = fields.value(name), let value = values.first {
            guard case .string(let text) = value else { throw MLflowRequest.invalidType(name, value) }
            return text
        }
        return try fields.string(name)
    }
}

extension JSONWriter {
    /// MLflow's `FileInfo`: `file_size` is left out for folders and for empty files, as MLflow's server does.
    mutating func fileInfo(_ file: ArtifactFileInfo, path: String) {
        beginObject()
        field("path", path)
        field("is_dir", file.isDirectory)
        if let size = file.fileSize, size != 0 { field("file_size", size) }
        endObject()
    }
}
