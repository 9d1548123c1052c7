import Foundation
import Logging
import SQLKit
import SwiftflowCore
import SwiftflowStore
import Synchronization
import Testing

/// A fresh folder under the system temp directory, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "swiftflow-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A database backend the store tests run against: SQLite always, PostgreSQL when
/// `SWIFTFLOW_TEST_POSTGRES_URL` names a database (`scripts/postgres.sh start` makes one).
enum Backend: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    /// Every backend available here.
    static let all: [Backend] = postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]

    static let postgresURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["SWIFTFLOW_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }()

    var testDescription: String { rawValue }
}

/// Runs `body` with a store on a new, empty database: a new SQLite file, or a new schema of the
/// PostgreSQL test database (dropped afterwards), so tests stay independent. `body` gets the SQLite
/// file's path or the PostgreSQL URI.
func withStore<T>(
    _ backend: Backend = .sqlite, _ body: (SQLTrackingStore, String) async throws -> T
) async throws -> T {
    switch backend {
    case .sqlite:
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/mlflow.db"
        let store = try await SQLTrackingStore.openSQLite(
            path: path, defaultArtifactRoot: "mlflow-artifacts:/", logger: Logger(label: "test"))
        return try await run(store, path, body)
    case .postgres:
        let schema = try await PostgresTestSchema.create()
        do {
            let store = try await SQLTrackingStore.openPostgres(
                uri: schema.uri, poolSize: 4, defaultArtifactRoot: "mlflow-artifacts:/", logger: Logger(label: "test"))
            let result = try await run(store, schema.uri, body)
            try await schema.drop()
            return result
        } catch {
            try? await schema.drop()
            throw error
        }
    }
}

private func run<T>(
    _ store: SQLTrackingStore, _ location: String, _ body: (SQLTrackingStore, String) async throws -> T
) async throws -> T {
    do {
        let result = try await body(store, location)
        await store.shutdown()
        return result
    } catch {
        await store.shutdown()
        throw error
    }
}

/// A schema of its own in the PostgreSQL test database, named in the URI's `search_path`.
struct PostgresTestSchema {
    let name: String
    let uri: String

    static func create() async throws -> PostgresTestSchema {
        guard let base = Backend.postgresURL else { throw SwiftflowError(.internalError, "SWIFTFLOW_TEST_POSTGRES_URL is not set") }
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await admin(base, "CREATE SCHEMA \(name)")
        return PostgresTestSchema(name: name, uri: base + (base.contains("?") ? "&" : "?") + "search_path=\(name)")
    }

    func drop() async throws {
        guard let base = Backend.postgresURL else { return }
        try await Self.admin(base, "DROP SCHEMA \(name) CASCADE")
    }

    private static func admin(_ uri: String, _ statement: String) async throws {
        let executor = try await PostgresExecutor.open(uri: uri, poolSize: 1, logger: Logger(label: "test"))
        do {
            try await executor.write { db in try await db.raw(SQLQueryString(statement)).run() }
            await executor.shutdown()
        } catch {
            await executor.shutdown()
            throw error
        }
    }
}

/// The MLflow error code `body` throws, or nil if it succeeds.
func errorCode(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch let error as SwiftflowError {
        return error.code.rawValue
    } catch {
        return "unexpected \(error)"
    }
}

/// `errorCode` as a `SwiftflowError.Code`, for comparing with the named codes.
func thrownCode(_ body: () async throws -> Void) async -> SwiftflowError.Code? {
    await errorCode(body).map(SwiftflowError.Code.init)
}

/// `body`'s result, or a failure after `limit`, even if `body` never returns (it is left running):
/// for tests whose regression is a hang.
func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let resumed = Mutex(false)
        let finish: @Sendable (Result<T, any Error>) -> Void = { result in
            if !resumed.withLock({ done in defer { done = true }; return done }) { continuation.resume(with: result) }
        }
        Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: limit)
            finish(.failure(SwiftflowError(.internalError, "no answer within \(limit)")))
        }
    }
}
