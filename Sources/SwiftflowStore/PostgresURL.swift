import Foundation
import NIOSSL
import PostgresNIO
import SwiftflowCore

/// Reads a backend store URI in the spellings MLflow accepts for PostgreSQL.
///
/// `postgresql://user:pass@host:port/db`, `postgres://…` and SQLAlchemy's driver-qualified schemes
/// (`postgresql+psycopg2://…`, `postgresql+psycopg://…`, `postgresql+pg8000://…`). `sslmode` follows
/// libpq: `disable` (no TLS), `allow`/`prefer` (TLS if the server offers it), `require` (TLS, certificate
/// not checked), `verify-ca` (certificate checked, not the host name), `verify-full` (both); `prefer`
/// when absent. `search_path=name` puts the tables in that schema (the tests give each case its own).
package enum PostgresURL {
    /// True if `uri` names a PostgreSQL database.
    package static func matches(_ uri: String) -> Bool {
        guard let scheme = uri.split(separator: ":", maxSplits: 1).first?.lowercased() else { return false }
        return scheme == "postgresql" || scheme == "postgres" || scheme.hasPrefix("postgresql+")
            || scheme.hasPrefix("postgres+")
    }

    /// The client configuration for `uri`.
    /// - Throws: `INVALID_PARAMETER_VALUE` if the URI is not a PostgreSQL URI or lacks a user or host.
    package static func configuration(_ uri: String, poolSize: Int = 10) throws -> PostgresClient.Configuration {
        guard matches(uri), let components = URLComponents(string: uri) else {
            throw SwiftflowError.invalidParameter("Not a PostgreSQL URI: \(redacted(uri))")
        }
        guard let host = components.host, !host.isEmpty else {
            throw SwiftflowError.invalidParameter("The PostgreSQL URI \(redacted(uri)) names no host")
        }
        let query = components.queryItems ?? []
        let username = components.user ?? query.last(where: { $0.name == "user" })?.value ?? "postgres"
        let password = components.password ?? query.last(where: { $0.name == "password" })?.value
        var database = components.path
        while database.hasPrefix("/") { database.removeFirst() }
        let mode = query.last(where: { $0.name.lowercased() == "sslmode" })?.value?.lowercased() ?? "prefer"
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: username, password: password,
            database: database.isEmpty ? nil : database, tls: try tls(mode))
        configuration.options.maximumConnections = max(1, poolSize)
        // The server's statements are short and many run at once: starting parallel workers cost a
        // search 10 ms on top of 4 ms of work, and takes cores from the other requests.
        configuration.options.additionalStartupParameters.append(("max_parallel_workers_per_gather", "0"))
        if let schema = query.last(where: { $0.name == "search_path" })?.value, !schema.isEmpty {
            configuration.options.additionalStartupParameters.append(("search_path", schema))
        }
        return configuration
    }

    private static func tls(_ mode: String) throws -> PostgresClient.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case "disable":
            return .disable
        case "allow", "prefer":
            tls.certificateVerification = .none
            return .prefer(tls)
        case "require":
            tls.certificateVerification = .none
            return .require(tls)
        case "verify-ca":
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case "verify-full":
            return .require(tls)
        default:
            throw SwiftflowError.invalidParameter(
                "Unknown sslmode '\(mode)' (disable, allow, prefer, require, verify-ca or verify-full)")
        }
    }

    /// `uri` without its password, for messages and logs.
    package static func redacted(_ uri: String) -> String {
        guard var components = URLComponents(string: uri), components.password != nil else { return uri }
        components.password = "***"
        return components.string ?? uri
    }
}
