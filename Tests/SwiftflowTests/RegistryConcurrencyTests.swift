import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftflowCore
import Testing

/// Version numbers and params under concurrent calls, over real HTTP to a live server; on PostgreSQL to
/// two servers (replicas) on the same database, the clients split between them.
@Suite("Live server: concurrent model version numbers", .serialized)
struct RegistryConcurrencyTests {
    static let clients = 16
    static let createsPerClient = 10

    /// A session that lets all clients have their own connection at once.
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.httpMaximumConnectionsPerHost = clients
        return URLSession(configuration: configuration)
    }()

    static func send(_ method: String, _ url: String, json: String) async throws -> (JSONValue, Int) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await session.data(for: request)
        let value = (try? JSONParser.parse([UInt8](data))) ?? .null
        return (value, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    /// Creates one version; its number, or nil (recorded as an issue) when the server refused.
    static func createVersion(_ api: String, model: String) async throws -> Int? {
        let (created, status) = try await Self.send(
            "POST", api + "/model-versions/create",
            json: #"{"name": "\#(model)", "source": "s3://bucket/models/\#(model)"}"#)
        guard status == 200, case .string(let text)? = created["model_version"]?["version"], let number = Int(text)
        else {
            Issue.record("model-versions/create answered \(status): \(created)")
            return nil
        }
        return number
    }

    /// `count` creates on `clients` concurrent clients, client `i` calling `apis[i % apis.count]`; the
    /// numbers handed out, sorted.
    static func createConcurrently(_ apis: [String], model: String, clients: Int, each: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: [Int].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var numbers: [Int] = []
                    for _ in 0..<each {
                        if let number = try await createVersion(apis[client % apis.count], model: model) { numbers.append(number) }
                    }
                    return numbers
                }
            }
            var all: [Int] = []
            for try await numbers in group { all += numbers }
            return all.sorted()
        }
    }

    /// The version numbers the server lists for `model`, sorted.
    static func listedVersions(_ api: String, model: String) async throws -> [Int] {
        let filter = "name%20%3D%20%27\(model)%27"
        let (found, status) = try await HTTP.send(
            "GET", api + "/model-versions/search?filter=\(filter)&max_results=1000")
        #expect(status == 200)
        guard case .array(let versions)? = found["model_versions"] else { return [] }
        return versions.compactMap { version -> Int? in
            if case .string(let text)? = version["version"] { return Int(text) }
            return nil
        }.sorted()
    }

    @Test(
        "16 concurrent clients get version numbers 1...160 with no gap or duplicate, and numbers are never reused",
        arguments: Backend.all)
    func concurrentVersionNumbers(backend: Backend) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var options: [String]?
        var schema: PostgresTestSchema?
        if backend == .postgres {
            schema = try await PostgresTestSchema.create()
            options = ["--backend-store-uri", schema!.uri, "--artifacts-destination", folder.path + "/artifacts"]
        }
        let server = try await ServerProcess.started(dataFolder: folder.path, options: options)
        defer { server.stop() }
        let api = server.api
        // On PostgreSQL a second replica on the same database takes every other client.
        let secondFolder = try TemporaryFolder()
        defer { secondFolder.remove() }
        var second: ServerProcess?
        if let options { second = try await ServerProcess.started(dataFolder: secondFolder.path, options: options) }
        defer { second?.stop() }
        let apis = [api] + (second.map { [$0.api] } ?? [])
        let model = "concurrent-model"
        let (_, createdStatus) = try await Self.send("POST", api + "/registered-models/create", json: #"{"name": "\#(model)"}"#)
        #expect(createdStatus == 200)

        let total = Self.clients * Self.createsPerClient
        let numbers = try await Self.createConcurrently(
            apis, model: model, clients: Self.clients, each: Self.createsPerClient)
        #expect(numbers == Array(1...total))
        #expect(try await Self.listedVersions(api, model: model) == Array(1...total))

        // Delete the highest number and one in the middle: neither comes back.
        for deleted in [total, 5] {
            let (_, status) = try await Self.send(
                "DELETE", api + "/model-versions/delete", json: #"{"name": "\#(model)", "version": "\#(deleted)"}"#)
            #expect(status == 200)
        }
        let next = try await Self.createVersion(api, model: model)
        #expect(next == total + 1)

        // Another concurrent round after the deletions continues from there.
        let more = try await Self.createConcurrently(apis, model: model, clients: Self.clients, each: 1)
        #expect(more == Array((total + 2)...(total + 1 + Self.clients)))

        var expected = Array(1...(total + 1 + Self.clients))
        expected.removeAll { $0 == total || $0 == 5 }
        #expect(try await Self.listedVersions(api, model: model) == expected)

        let (registered, status) = try await HTTP.send(
            "GET", api + "/registered-models/get?name=\(model)")
        #expect(status == 200)
        guard case .array(let latest)? = registered["registered_model"]?["latest_versions"] else {
            Issue.record("no latest_versions in \(registered)")
            return
        }
        #expect(latest.first?["version"] == .string(String(total + 1 + Self.clients)))
        // A schema left behind by a failed run is harmless: the test database is thrown away.
        server.stop()
        second?.stop()
        try await schema?.drop()
    }

    @Test(
        "PostgreSQL: 16 clients on two replicas log one param with 16 values: one is kept, the others are refused",
        .enabled(if: Backend.postgresURL != nil, "SWIFTFLOW_TEST_POSTGRES_URL is not set"))
    func concurrentParamThroughReplicas() async throws {
        let schema = try await PostgresTestSchema.create()
        let folders = [try TemporaryFolder(), try TemporaryFolder()]
        defer { for folder in folders { folder.remove() } }
        var servers: [ServerProcess] = []
        defer { for server in servers { server.stop() } }
        for folder in folders {
            servers.append(try await ServerProcess.started(
                dataFolder: folder.path,
                options: ["--backend-store-uri", schema.uri, "--artifacts-destination", folder.path + "/artifacts"]))
        }
        let (created, createdStatus) = try await Self.send(
            "POST", servers[0].api + "/runs/create", json: #"{"experiment_id": "0"}"#)
        #expect(createdStatus == 200)
        guard case .string(let runId)? = created["run"]?["info"]?["run_id"] else {
            Issue.record("no run id in \(created)")
            return
        }
        let apis = servers.map(\.api)
        let answers = try await withThrowingTaskGroup(of: (String, Int, JSONValue).self) { group in
            for client in 0..<Self.clients {
                group.addTask {
                    let value = "v\(client)"
                    let (answer, status) = try await Self.send(
                        "POST", apis[client % 2] + "/runs/log-parameter",
                        json: #"{"run_id": "\#(runId)", "key": "lr", "value": "\#(value)"}"#)
                    return (value, status, answer)
                }
            }
            var all: [(String, Int, JSONValue)] = []
            for try await answer in group { all.append(answer) }
            return all
        }
        let kept = answers.filter { $0.1 == 200 }.map(\.0)
        #expect(kept.count == 1)
        for (_, status, answer) in answers where status != 200 {
            #expect(status == 400)
            #expect(answer["error_code"] == .string("INVALID_PARAMETER_VALUE"))
        }
        // Either replica reads the value that was acknowledged.
        for server in servers {
            let (run, status) = try await HTTP.send("GET", server.api + "/runs/get?run_id=\(runId)")
            #expect(status == 200)
            guard case .array(let params)? = run["run"]?["data"]?["params"] else {
                Issue.record("no params in \(run)")
                continue
            }
            #expect(params.count == 1)
            #expect(params.first?["value"] == kept.first.map { .string($0) })
        }
        for server in servers { server.stop() }
        try await schema.drop()
    }
}
