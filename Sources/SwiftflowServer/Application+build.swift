import HTTPTypes
import Hummingbird
import Logging
import SwiftflowCore
import SwiftflowStore

/// Builds the HTTP application: MLflow's REST API over `store` and `registry`, the artifacts proxy and the
/// artifact downloads over `artifacts`, the web UI, plus `/health` and `/version`.
///
/// Tests call this directly; `swiftflow server` runs what it returns.
public func buildApplication(
    configuration: ServerConfiguration, store: any TrackingStore, registry: any RegistryStore,
    artifacts: ArtifactStores, logger: Logger
) -> some ApplicationProtocol {
    let router = baseRouter()
    let artifactRoutes = ArtifactRoutes(stores: artifacts, serveArtifacts: configuration.serveArtifacts)
    artifactRoutes.registerProxy(on: router)
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
    let paths = APIRouter<ServerRequestContext>.prefixes.map { $0 + "/**" } + ["/get-artifact", "/model-versions/get-artifact"]
    for path in paths {
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on(RouterPath(path), method: method, use: disabled)
        }
    }
    return application(router, configuration, logger)
}

private func baseRouter() -> Router<ServerRequestContext> {
    let router = Router(context: ServerRequestContext.self)
    router.add(middleware: ErrorMiddleware())
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
