import ArgumentParser
import Foundation
import Logging
import SwiftflowStore

/// The one place that turns a `--backend-store-uri` into a concrete store.
///
/// `postgresql://…` (and MLflow's `postgresql+psycopg2://…` / `postgresql+psycopg://…`) open a pool of
/// PostgreSQL connections; `sqlite:///…` or a plain path open the embedded SQLite file.
enum BackendStore {
    enum Location: Equatable {
        case sqlite(path: String)
        case postgres(uri: String)

        /// For logs: the file, or the URI without its password.
        var description: String {
            switch self {
            case .sqlite(let path): path
            case .postgres(let uri): PostgresURL.redacted(uri)
            }
        }
    }

    /// Where `uri` points.
    /// - Throws: `ValidationError` for a URI of no supported backend.
    static func location(_ uri: String) throws -> Location {
        if PostgresURL.matches(uri) { return .postgres(uri: uri) }
        return .sqlite(path: try sqlitePath(from: uri))
    }

    /// Opens (migrating) the tracking store at `uri`.
    static func open(uri: String, poolSize: Int, defaultArtifactRoot: String, logger: Logger) async throws
        -> SQLTrackingStore
    {
        switch try location(uri) {
        case .sqlite(let path):
            return try await SQLTrackingStore.openSQLite(path: path, defaultArtifactRoot: defaultArtifactRoot, logger: logger)
        case .postgres(let uri):
            return try await SQLTrackingStore.openPostgres(
                uri: uri, poolSize: poolSize, defaultArtifactRoot: defaultArtifactRoot, logger: logger)
        }
    }

    /// Opens (migrating) the basic-auth app's tables in the database at `uri`.
    static func openAuth(uri: String, poolSize: Int, logger: Logger) async throws -> SQLAuthStore {
        switch try location(uri) {
        case .sqlite(let path): try await SQLAuthStore.openSQLite(path: path, logger: logger)
        case .postgres(let uri): try await SQLAuthStore.openPostgres(uri: uri, poolSize: poolSize, logger: logger)
        }
    }

    /// Applies pending migrations to the database at `uri`.
    /// - Returns: the ids applied.
    static func upgrade(uri: String, logger: Logger) async throws -> [String] {
        switch try location(uri) {
        case .sqlite(let path): try await SQLTrackingStore.upgradeSQLite(path: path, logger: logger)
        case .postgres(let uri): try await SQLTrackingStore.upgradePostgres(uri: uri, logger: logger)
        }
    }

    /// Turns a backend URI into a SQLite file path.
    static func sqlitePath(from uri: String) throws -> String {
        if uri.hasPrefix("sqlite://") {
            let rest = String(uri.dropFirst("sqlite://".count))
            // sqlite:///relative.db has one slash before the path, sqlite:////abs.db two.
            guard rest.hasPrefix("/") else { throw ValidationError("Unsupported SQLite URI '\(uri)'.") }
            let path = String(rest.dropFirst())
            return absolute(path.isEmpty ? "mlflow.db" : path)
        }
        if uri.contains("://") {
            throw ValidationError(
                "Backend store '\(uri)' is not supported; use sqlite:///path, a file path or postgresql://user:pass@host/db.")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: uri, isDirectory: &isDirectory), isDirectory.boolValue {
            return absolute((uri as NSString).appendingPathComponent("mlflow.db"))
        }
        return absolute(uri)
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardizedFileURL.path
    }
}
