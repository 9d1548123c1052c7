import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftflowCore

/// Starts the `swiftflow` binary built beside the test bundle, on a free port, over a data folder.
final class ServerProcess {
    let port: Int
    let process = Process()

    /// - Parameters:
    ///   - options: the server's options after `--port`; by default a database and an artifact folder in `dataFolder`.
    ///   - environment: variables added to the test's own for the server process.
    init(dataFolder: String, options: [String]? = nil, environment: [String: String] = [:]) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("swiftflow").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw SwiftflowError(.internalError, "no swiftflow binary at \(binary): build with --build-tests first")
        }
        port = try Self.freePort()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["server", "--port", String(port), "--log-level", "error"]
            + (options ?? Self.defaultOptions(dataFolder: dataFolder))
        process.currentDirectoryURL = URL(fileURLWithPath: dataFolder)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        try process.run()
    }

    static func defaultOptions(dataFolder: String) -> [String] {
        ["--backend-store-uri", "sqlite:///\(dataFolder)/mlflow.db", "--artifacts-destination", dataFolder + "/artifacts"]
    }

    var base: String { "http://127.0.0.1:\(port)" }
    var api: String { base + "/api/2.0/mlflow" }

    /// Starts a server over `dataFolder` and waits until it answers.
    static func started(
        dataFolder: String, options: [String]? = nil, environment: [String: String] = [:]
    ) async throws -> ServerProcess {
        let server = try ServerProcess(dataFolder: dataFolder, options: options, environment: environment)
        do {
            try await server.waitUntilReady()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Up to 30 s: on PostgreSQL, servers of tests running in parallel migrate one at a time (the
    /// advisory lock is the database's), which a busy machine stretches.
    func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let (_, status) = try? await HTTP.send("GET", base + "/health"), status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SwiftflowError(.internalError, "server on port \(port) did not start")
    }

    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw SwiftflowError(.internalError, "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum HTTP {
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        return URLSession(configuration: configuration)
    }()

    static func send(_ method: String, _ url: String, json: String? = nil) async throws -> (JSONValue, Int) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let value = (try? JSONParser.parse([UInt8](data))) ?? .null
        return (value, status)
    }
}
