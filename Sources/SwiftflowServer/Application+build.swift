import Hummingbird
import Logging
import SwiftflowCore
import SwiftflowStore

/// Builds the HTTP application: MLflow's REST API over `store` and `registry`, plus `/health` and `/version`.
///
/// Tests call this directly; `swiftflow server` runs what it returns.
public func buildApplication(
    configuration: ServerConfiguration, store: any TrackingStore, registry: any RegistryStore, logger: Logger
) -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    router.get("/health") { _, _ in "OK" }
    router.get("/version") { _, _ in SwiftflowVersion.mlflowCompatible }
    let api = APIRouter(router: router)
    ExperimentRoutes(store: store).register(on: api)
    RunRoutes(store: store).register(on: api)
    LoggedModelRoutes(store: store).register(on: api)
    RegistryRoutes(registry: registry, tracking: store).register(on: api)
    return Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "swiftflow"),
        logger: logger)
}
