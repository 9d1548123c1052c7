import Foundation
import SwiftflowCore
import Testing

/// Bad input over real HTTP: always MLflow's JSON error with a 4xx, never a 500, never a write.
@Suite("Live server: bad input and shutdown", .serialized)
struct LiveServerTests {
    static func errorCode(_ value: JSONValue) -> String? {
        if case .string(let code) = value["error_code"] { return code }
        return nil
    }

    @Test("bad requests get MLflow's JSON errors with 4xx statuses")
    func badRequests() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let api = server.api

        let (unknown, unknownStatus) = try await HTTP.send("GET", api + "/no/such/endpoint")
        #expect(unknownStatus == 404)
        #expect(Self.errorCode(unknown) == "ENDPOINT_NOT_FOUND")

        let (malformed, malformedStatus) = try await HTTP.send("POST", api + "/experiments/create", json: #"{"name": "#)
        #expect(malformedStatus == 400)
        #expect(Self.errorCode(malformed) == "INVALID_PARAMETER_VALUE")

        let (wrongType, wrongTypeStatus) = try await HTTP.send("POST", api + "/experiments/create", json: #"{"name": 5}"#)
        #expect(wrongTypeStatus == 400)
        #expect(Self.errorCode(wrongType) == "INVALID_PARAMETER_VALUE")

        let (missing, missingStatus) = try await HTTP.send("POST", api + "/experiments/create", json: "{}")
        #expect(missingStatus == 400)
        #expect(Self.errorCode(missing) == "INVALID_PARAMETER_VALUE")

        let huge = #"{"name": ""# + String(repeating: "x", count: Limits.maxRequestBodySize) + #""}"#
        let (tooLarge, tooLargeStatus) = try await HTTP.send("POST", api + "/experiments/create", json: huge)
        #expect(tooLargeStatus == 413)
        #expect(Self.errorCode(tooLarge) == "INVALID_PARAMETER_VALUE")

        // None of the above wrote anything: only the Default experiment exists.
        let (search, _) = try await HTTP.send(
            "POST", api + "/experiments/search", json: #"{"max_results": 100, "view_type": "ALL"}"#)
        if case .array(let experiments) = search["experiments"] {
            #expect(experiments.count == 1)
        } else {
            Issue.record("no experiments in \(search)")
        }
    }

    @Test("SIGTERM stops the server cleanly and the data stays readable")
    func sigtermDrains() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        _ = try await HTTP.send("POST", server.api + "/experiments/create", json: #"{"name": "kept"}"#)
        server.process.terminate()
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .exit)
        #expect(server.process.terminationStatus == 0)

        let restarted = try await ServerProcess.started(dataFolder: folder.path)
        defer { restarted.stop() }
        let (found, status) = try await HTTP.send(
            "GET", restarted.api + "/experiments/get-by-name?experiment_name=kept")
        #expect(status == 200)
        #expect(found["experiment"]?["name"] == .string("kept"))
    }
}
