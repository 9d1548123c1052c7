import Foundation
import Logging
import SwiftflowCore
import SwiftflowStore

/// A fresh folder under the system temp directory, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "swiftflow-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` with an embedded store on a new database file.
func withStore<T>(_ body: (SQLTrackingStore, String) async throws -> T) async throws -> T {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let path = folder.path + "/mlflow.db"
    let store = try await SQLTrackingStore.openSQLite(
        path: path, defaultArtifactRoot: "mlflow-artifacts:/", logger: Logger(label: "test"))
    do {
        let result = try await body(store, path)
        await store.shutdown()
        return result
    } catch {
        await store.shutdown()
        throw error
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
