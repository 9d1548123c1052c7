import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import SwiftflowArtifacts
import SwiftflowCore
import SwiftflowServer
import SwiftflowStore

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the tracking server (MLflow REST API 2.0).",
        discussion: """
            With no options the server stores runs in ./mlflow.db (SQLite) and artifacts in ./mlartifacts, \
            and listens on http://127.0.0.1:5000, like `mlflow server`.
            """)

    @Option(name: [.customShort("h"), .long], help: "The network address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .shortAndLong, help: "The port to listen on.")
    var port = 5000

    @Option(help: ArgumentHelp(
        "Where runs are stored: sqlite:///relative.db, sqlite:////absolute.db, a plain file path, or "
            + "postgresql://user:pass@host:port/db (also postgresql+psycopg2://; ?sslmode=disable|require|verify-full).",
        valueName: "uri"))
    var backendStoreUri = "sqlite:///mlflow.db"

    @Option(help: ArgumentHelp("The most PostgreSQL connections the server holds open at once.", valueName: "n"))
    var dbPoolSize = 10

    @Option(help: ArgumentHelp(
        "The artifact root for new experiments (default: mlflow-artifacts:/ when serving artifacts, else ./mlruns).",
        valueName: "uri"))
    var defaultArtifactRoot: String?

    @Option(help: ArgumentHelp(
        "Where proxied artifacts are stored: a folder, or s3://bucket/prefix (credentials, region and endpoint "
            + "from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, "
            + "MLFLOW_S3_ENDPOINT_URL, MLFLOW_S3_IGNORE_TLS).",
        valueName: "uri"))
    var artifactsDestination = "./mlartifacts"

    @Flag(inversion: .prefixedNo, help: "Proxy artifact uploads and downloads through the server.")
    var serveArtifacts = true

    @Flag(help: "Serve only the artifacts proxy: no tracking API, and no backend store is opened.")
    var artifactsOnly = false

    @Option(help: ArgumentHelp("Accepted for compatibility with `mlflow server`; one process serves all requests.",
                               visibility: .hidden))
    var workers: Int?

    @Option(help: ArgumentHelp(
        "A folder of promotion policies (*.yaml, each naming its `model`), applied when a version is created.",
        valueName: "dir"))
    var registryPolicies: String?

    @Option(help: ArgumentHelp(
        "basic-auth: users and permissions as MLflow's basic-auth app (settings from the ini named by "
            + "MLFLOW_AUTH_CONFIG_PATH; admin from MLFLOW_AUTH_ADMIN_USERNAME / MLFLOW_AUTH_ADMIN_PASSWORD).",
        valueName: "name"))
    var appName: String?

    @Option(help: "The log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "swiftflow")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let root = defaultArtifactRoot ?? (serveArtifacts ? "mlflow-artifacts:/" : Self.absolute("./mlruns"))
        var policies: [String: PromotionPolicy] = [:]
        if let registryPolicies {
            do {
                policies = try PromotionPolicy.loadDirectory(registryPolicies)
            } catch {
                throw ValidationError(error.message)
            }
            logger.info("registry policies for: \(policies.keys.sorted().joined(separator: ", "))")
        }
        let isS3 = artifactsDestination.hasPrefix("s3://")
        let configuration = ServerConfiguration(
            host: host, port: port, serveArtifacts: serveArtifacts,
            artifactsDestination: isS3 ? artifactsDestination : Self.absolute(artifactsDestination),
            defaultArtifactRoot: root, registryPolicies: policies)
        // S3 requests share one HTTP client, shut down when the server stops.
        let s3 = try Self.s3Access(destination: configuration.artifactsDestination, root: root, logger: logger)
        let proxied: any ArtifactRepository
        if let s3, let location = s3.destination {
            proxied = S3ArtifactRepository(location: location, configuration: s3.configuration, client: s3.client)
        } else {
            proxied = LocalArtifactRepository(root: configuration.artifactsDestination)
        }
        var s3Repository: (@Sendable (S3Location) -> any ArtifactRepository)?
        if let s3 {
            let (configuration, client) = (s3.configuration, s3.client)
            s3Repository = { S3ArtifactRepository(location: $0, configuration: configuration, client: client) }
        }
        let artifacts = ArtifactStores(
            proxied: proxied, folder: { LocalArtifactRepository(root: $0) }, s3: s3Repository)
        do {
            try await serve(configuration: configuration, artifacts: artifacts, root: root, logger: logger)
        } catch {
            if let s3 { try? await s3.client.shutdown() }
            throw error
        }
        if let s3 { try await s3.client.shutdown() }
    }

    /// S3 as the server uses it: the proxied destination if it is a bucket, and the client and
    /// settings (MLflow's environment variables) for it and for runs whose artifact root is `s3://`.
    /// Nil when neither `--artifacts-destination` nor the default artifact root is in S3.
    static func s3Access(
        destination: String, root: String, logger: Logger
    ) throws -> (configuration: S3Configuration, client: HTTPClient, destination: S3Location?)? {
        guard destination.hasPrefix("s3://") || root.hasPrefix("s3://") else { return nil }
        let location: S3Location?
        let s3: S3Configuration
        do {
            location = destination.hasPrefix("s3://") ? try S3Location(uri: destination) : nil
            s3 = try S3Configuration(environment: ProcessInfo.processInfo.environment)
            if root.hasPrefix("s3://") { _ = try S3Location(uri: root) }
        } catch {
            throw ValidationError(error.message)
        }
        let client = S3ArtifactRepository.makeHTTPClient(for: s3)
        if let location {
            logger.info("proxied artifacts in \(location.uri) at \(s3.endpoint ?? "AWS S3") (\(s3.region))")
        }
        if root.hasPrefix("s3://") {
            logger.info("artifact root \(root): clients write to \(s3.endpoint ?? "AWS S3") themselves")
        }
        return (s3, client, location)
    }

    /// Runs the server until it stops: the artifacts proxy alone, or with the tracking store.
    private func serve(
        configuration: ServerConfiguration, artifacts: ArtifactStores, root: String, logger: Logger
    ) async throws {
        if artifactsOnly {
            // As `mlflow server`: an artifacts-only server has no store, so naming one is a mistake.
            guard Self.defaultBackendStoreURIs.contains(backendStoreUri) else {
                throw ValidationError(
                    "You are starting a tracking server in `--artifacts-only` mode and have provided a value for "
                        + "`--backend_store_uri`: '\(backendStoreUri)'. A tracking server in `--artifacts-only` mode "
                        + "cannot have a value set for `--backend_store_uri` to properly proxy access to the artifact "
                        + "storage location.")
            }
            logger.info("swiftflow \(SwiftflowVersion.string): artifacts only, in \(configuration.artifactsDestination)")
            let app = buildArtifactsOnlyApplication(configuration: configuration, artifacts: artifacts, logger: logger)
            try await app.runService()
            logger.info("swiftflow stopped")
            return
        }
        let location = try BackendStore.location(backendStoreUri)
        let store = try await BackendStore.open(
            uri: backendStoreUri, poolSize: dbPoolSize, defaultArtifactRoot: root, logger: logger)
        logger.info("swiftflow \(SwiftflowVersion.string): store \(location.description), artifact root \(root)")
        let registry = SQLRegistryStore(sharing: store)
        let authStore: SQLAuthStore?
        let access: AccessControl?
        do {
            (authStore, access) = try await openAccessControl(store: store, registry: registry, logger: logger)
        } catch {
            await store.shutdown()
            throw error
        }
        let app = buildApplication(
            configuration: configuration, store: store, registry: registry, artifacts: artifacts, logger: logger,
            access: access)
        do {
            try await app.runService()
        } catch {
            await authStore?.shutdown()
            await store.shutdown()
            throw error
        }
        await authStore?.shutdown()
        await store.shutdown()
        logger.info("swiftflow stopped")
    }

    /// The basic-auth app for `--app-name basic-auth`: its settings, its store (its own database unless
    /// `database_uri` names the backend store's), and the admin user created if missing. Returns the
    /// auth store to shut down when it is not the backend store's.
    private func openAccessControl(
        store: SQLTrackingStore, registry: SQLRegistryStore, logger: Logger
    ) async throws -> (SQLAuthStore?, AccessControl?) {
        guard let appName else { return (nil, nil) }
        guard appName == "basic-auth" else {
            throw ValidationError("Unknown app '\(appName)': the only app is basic-auth.")
        }
        let environment = ProcessInfo.processInfo.environment
        var config = AuthConfig()
        if let path = environment["MLFLOW_AUTH_CONFIG_PATH"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("Cannot read the auth configuration \(path).")
            }
            do { config = try AuthConfig.parse(ini: text) } catch { throw ValidationError(error.message) }
        }
        if let name = environment["MLFLOW_AUTH_ADMIN_USERNAME"] { config.adminUsername = name }
        if let password = environment["MLFLOW_AUTH_ADMIN_PASSWORD"] { config.adminPassword = password }
        if config.adminUsername.isEmpty {
            throw ValidationError("Authentication needs a username for the admin user, but none is configured.")
        }
        let separate: SQLAuthStore?
        let auth: SQLAuthStore
        if try BackendStore.location(config.databaseURI) == BackendStore.location(backendStoreUri) {
            auth = try await SQLAuthStore.open(sharing: store)
            separate = nil
        } else {
            auth = try await BackendStore.openAuth(uri: config.databaseURI, poolSize: dbPoolSize, logger: logger)
            separate = auth
        }
        do {
            try await AccessControl.bootstrapAdmin(config, store: auth)
        } catch let error as SwiftflowError {
            await separate?.shutdown()
            throw ValidationError(error.message)
        }
        let authLocation = try BackendStore.location(config.databaseURI).description
        logger.info("basic-auth: users in \(authLocation), default permission \(config.defaultPermission.rawValue)")
        return (separate, AccessControl(auth: auth, tracking: store, registry: registry, config: config))
    }

    /// The values `mlflow server` counts as "no backend store given" (`_is_default_backend_store_uri`).
    static let defaultBackendStoreURIs: Set<String> = ["sqlite:///mlflow.db", "./mlruns"]

    static func absolute(_ path: String) -> String { BackendStore.absolute(path) }
}
