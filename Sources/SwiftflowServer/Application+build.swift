import HTTPTypes
import Hummingbird
import Logging
import SwiftflowArtifacts
import SwiftflowCore
import SwiftflowStore

/// Builds the HTTP application: MLflow's REST API over `store` and `registry`, the artifacts proxy and the
/// artifact downloads over `artifacts`, the web UI, plus `/health` and `/version`.
///
/// With `access`, the basic-auth app guards every route but the health check and static assets, and
/// serves its users and permissions API.
///
/// Tests call this directly; `swiftflow server` runs what it returns.
public func buildApplication(
    configuration: ServerConfiguration, store: any TrackingStore, registry: any RegistryStore,
    artifacts: ArtifactStores, logger: Logger, access: AccessControl? = nil
) -> some ApplicationProtocol {
    let router = baseRouter(access: access)
    if let access { AuthRoutes(access: access).register(on: router) }
    let artifactRoutes = ArtifactRoutes(stores: artifacts, serveArtifacts: configuration.serveArtifacts)
    artifactRoutes.registerProxy(on: router)
    registerServerInfo(on: router, configuration: configuration, artifacts: artifacts)
    let api = APIRouter(router: router)
    ExperimentRoutes(store: store).register(on: api)
    RunRoutes(store: store).register(on: api)
    LoggedModelRoutes(store: store).register(on: api)
    let evaluator = PromotionEvaluator(tracking: store, registry: registry)
    var registryRoutes = RegistryRoutes(registry: registry, tracking: store)
    if !configuration.registryPolicies.isEmpty {
        registryRoutes.afterVersionCreated = PromotionRoutes.afterVersionCreated(
            policies: configuration.registryPolicies, evaluator: evaluator, logger: logger)
    }
    registryRoutes.register(on: api)
    PromotionRoutes(evaluator: evaluator).register(on: router)
    artifactRoutes.registerTracking(on: api, tracking: store, registry: registry)
    UIRoutes(store: store, registry: registry).register(on: router)
    return application(router, configuration, logger)
}

/// Builds the application of `swiftflow server --artifacts-only`: the artifacts proxy alone, with no
/// tracking store. Every tracking endpoint answers 503, as MLflow's do in that mode.
public func buildArtifactsOnlyApplication(
    configuration: ServerConfiguration, artifacts: ArtifactStores, logger: Logger
) -> some ApplicationProtocol {
    let router = baseRouter()
    ArtifactRoutes(stores: artifacts, serveArtifacts: configuration.serveArtifacts).registerProxy(on: router)
    let disabled: @Sendable (Request, ServerRequestContext) async throws -> Response = { request, _ in
        ArtifactRoutes.unavailable(
            "Endpoint: \(request.uri.path) disabled due to the mlflow server running in `--artifacts-only` mode. "
                + "To enable tracking server functionality, run `mlflow server` without `--artifacts-only`")
    }
    let paths = APIRouter.prefixes.map { $0 + "/**" } + ["/get-artifact", "/model-versions/get-artifact"]
    for path in paths {
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on(RouterPath(path), method: method, use: disabled)
        }
    }
    return application(router, configuration, logger)
}

private func baseRouter(access: AccessControl? = nil) -> Router<ServerRequestContext> {
    let router = Router(context: ServerRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    // Before any route: a route's responder is built with the middleware added so far.
    if let access { router.add(middleware: AuthMiddleware(access: access)) }
    router.get("/health") { _, _ in "OK" }
    router.get("/version") { _, _ in SwiftflowVersion.mlflowCompatible }
    return router
}

private func application(
    _ router: Router<ServerRequestContext>, _ configuration: ServerConfiguration, _ logger: Logger
) -> some ApplicationProtocol {
    Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "swiftflow"),
        logger: logger)
}

/// `server-info`: how the server is set up, which clients read before they sign in (so it needs no
/// credentials). The official client takes multipart uploads from it when the proxied store offers them.
private func registerServerInfo(
    on router: Router<ServerRequestContext>, configuration: ServerConfiguration, artifacts: ArtifactStores
) {
    let multipartUploads = configuration.serveArtifacts && artifacts.proxied is any MultipartUploadRepository
    let body = JSONResponse.flask { w in
        w.beginObject()
        w.key("features_enabled"); w.beginObject(); w.field("gateway", false); w.endObject()
        w.field("multipart_downloads_enabled", false)
        w.field("multipart_uploads_enabled", multipartUploads)
        // No presigned-upload-url endpoint here: clients keep uploading through the proxy.
        w.field("presigned_upload_model_id_supported", false)
        w.field("presigned_upload_run_id_supported", false)
        w.field("store_type", "SqlStore")
        w.field("trace_archival_enabled", false)
        w.field("workspaces_enabled", false)
        w.endObject()
    }
    for prefix in APIRouter.prefixes3 {
        router.get(RouterPath(prefix + "/server-info")) { _, _ in body }
    }
}
