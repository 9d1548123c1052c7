import HTTPTypes
import Hummingbird
import NIOCore
import SwiftflowCore
import SwiftflowStore

/// The basic-auth app's gate: every request but the public ones needs valid Basic credentials; a
/// non-admin's request to a route outside the REST API (artifact proxy, UI downloads and pages,
/// promotion) must pass the path's rule here, REST routes pass theirs in `APIRouter`.
///
/// Answers are MLflow's: 401 with `WWW-Authenticate: Basic realm="mlflow"` and its sentence, 403 with
/// the text `Permission denied`. A browser shows its own login prompt on the 401.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let access: AccessControl

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if Self.isPublic(path) { return try await next(request, context) }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let signIn: SignIn
        do {
            signIn = try await access.authenticator.authenticate(
                authorization: request.headers[.authorization], address: address)
        } catch let error as SwiftflowError where error.code == .unauthenticated {
            return Self.text(.unauthorized, error.message, headers: [.wwwAuthenticate: "Basic realm=\"mlflow\""])
        } catch let throttled as Authenticator.LoginThrottled {
            var response = ErrorMiddleware<Context>.response(for: throttled.error)
            response.headers[.retryAfter] = String(throttled.seconds)
            return response
        }
        let user = signIn.user
        var context = context
        let auth = RequestAuth(user: user, access: access, grants: signIn.permissions)
        context.auth = auth
        do {
            if !user.isAdmin { try await Self.authorizeOutsideAPI(request, path: path, auth: auth) }
            return try await next(request, context)
        } catch is PermissionDenied {
            return Self.text(.forbidden, "Permission denied")
        } catch let error as HTTPError where !user.isAdmin && (error.status == .notFound || error.status == .methodNotAllowed) {
            // MLflow refuses non-admins any route it has no rule for, unknown ones included.
            return Self.text(.forbidden, "Permission denied")
        }
    }

    /// What needs no credentials, as in MLflow: health checks and static assets.
    static func isPublic(_ path: String) -> Bool {
        path == "/health" || path.hasPrefix("/static") || path == "/favicon.ico"
            || path == "/api/3.0/mlflow/server-info" || path == "/ajax-api/3.0/mlflow/server-info"
    }

    static func text(_ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    // MARK: - Rules by path

    private static let artifactPrefixes = ["/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"]

    private static func authorizeOutsideAPI(_ request: Request, path: String, auth: RequestAuth) async throws {
        let query = UIQuery(query: request.uri.query ?? "")
        if let prefix = artifactPrefixes.first(where: { path.hasPrefix($0) }) {
            try await authorizeArtifactProxy(request.method, String(path.dropFirst(prefix.count)), query: query, auth: auth)
            return
        }
        switch path {
        case "/get-artifact":
            if let runId = query.string("run_id") ?? query.string("run_uuid") { try await auth.requireRun(runId, .read) }
        case "/model-versions/get-artifact":
            if let name = query.string("name") { try await auth.requireModelVersion(name, .notDenied) }
        case "/metric", "/compare", "/ui/api/metric-series":
            let ids = (query.strings("run") + query.strings("runs") + query.strings("run_id"))
                .flatMap { $0.split(separator: ",").map(String.init) }
            for id in Set(ids) { try await auth.requireRun(id, .read) }
        default:
            let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { UIQuery.pathSegment(String($0)) }
            switch (parts.first, parts.count) {
            case ("experiments", 2): try await auth.requireExperiment(parts[1], .read)
            case ("runs", 2): try await auth.requireRun(parts[1], .read)
            case ("models", 2): try await auth.requireRegisteredModel(parts[1], .read)
            case ("models", 4): try await auth.requireModelVersion(parts[1], .notDenied)
            default: break
            }
        }
    }

    /// MLflow's rule for the artifacts proxy: the path's first segment, if a number, is the experiment;
    /// the next says which of its tiers (logged models, traces, runs) the file belongs to. Reading needs
    /// READ, writing UPDATE, deleting MANAGE.
    private static func authorizeArtifactProxy(
        _ method: HTTPRequest.Method, _ route: String, query: UIQuery, auth: RequestAuth
    ) async throws {
        let need: Permission.Need = switch method {
        case .get, .head: .read
        case .delete: .manage
        default: .update
        }
        var raw = route
        for prefix in ["artifacts/", "mpu/create/", "mpu/complete/", "mpu/abort/", "presigned/"] where raw.hasPrefix(prefix) {
            raw = String(raw.dropFirst(prefix.count))
            break
        }
        if route == "artifacts" { raw = query.string("path") ?? "" }
        var segments = raw.split(separator: "/").map { UIQuery.pathSegment(String($0)) }
        if segments.first == "workspaces", segments.count >= 2 { segments.removeFirst(2) }
        guard let experimentId = segments.first, Int64(experimentId) != nil else {
            if !auth.access.defaultPermission.allows(need) { throw PermissionDenied() }
            return
        }
        let tier: AuthResourceType? =
            if segments.count > 1, segments[1] == "models" { .loggedModel }
            else if segments.count > 1, segments[1] == "traces" { .trace }
            else if segments.count > 2, segments[2] == "artifacts" { .run }
            else if segments.count > 1, segments[1].count == 32, segments[1].allSatisfy(\.isHexDigit) { .run }
            else { nil }
        if let tier {
            try await auth.requireTier(tier, experimentId: experimentId, need)
        } else {
            try await auth.requireExperiment(experimentId, need)
        }
    }
}
