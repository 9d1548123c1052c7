import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftflowCore
import Testing

/// The logged-model routes over real HTTP, as the Python client calls them: ids in the path, deletes
/// without a body or content type, finalize reading the body's id.
@Suite("Live server: logged models", .serialized)
struct LoggedModelLiveTests {
    static func string(_ value: JSONValue?) -> String? {
        if case .string(let text)? = value { return text }
        return nil
    }

    /// A request without body or content type, as `requests` sends a DELETE.
    static func bare(_ method: String, _ url: String) async throws -> (JSONValue, Int) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        let (data, response) = try await HTTP.session.data(for: request)
        return ((try? JSONParser.parse([UInt8](data))) ?? .null, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    @Test("create, get, finalize, tag, param, search, list artifacts and delete through the REST paths")
    func lifecycle() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let api = server.api
        // A local artifact location, so that the model's artifacts can be listed without the proxy.
        let (experiment, _) = try await HTTP.send(
            "POST", api + "/experiments/create", json: #"{"name": "live", "artifact_location": "\#(folder.path)/art"}"#)
        let experimentId = try #require(Self.string(experiment["experiment_id"]))

        let (created, createdStatus) = try await HTTP.send(
            "POST", api + "/logged-models",
            json: #"{"experiment_id": "\#(experimentId)", "name": "m", "params": [{"key": "p", "value": "1"}]}"#)
        #expect(createdStatus == 200)
        let id = try #require(Self.string(created["model"]?["info"]?["model_id"]))
        #expect(Self.string(created["model"]?["info"]?["status"]) == "LOGGED_MODEL_PENDING")
        #expect(Self.string(created["model"]?["info"]?["artifact_uri"]) == "\(folder.path)/art/models/\(id)/artifacts")

        let (finalized, _) = try await HTTP.send(
            "PATCH", api + "/logged-models/\(id)", json: #"{"model_id": "\#(id)", "status": "LOGGED_MODEL_READY"}"#)
        #expect(Self.string(finalized["model"]?["info"]?["status"]) == "LOGGED_MODEL_READY")

        let (_, tagStatus) = try await HTTP.send(
            "PATCH", api + "/logged-models/\(id)/tags", json: #"{"tags": [{"key": "a b", "value": "v"}]}"#)
        #expect(tagStatus == 200)
        let (_, untagStatus) = try await Self.bare("DELETE", api + "/logged-models/\(id)/tags/a%20b")
        #expect(untagStatus == 200)
        let (untagAgain, untagAgainStatus) = try await Self.bare("DELETE", api + "/logged-models/\(id)/tags/a%20b")
        #expect(untagAgainStatus == 404)
        #expect(Self.string(untagAgain["message"]) == "No tag with key 'a b' found for model with ID '\(id)'.")

        let (_, paramStatus) = try await HTTP.send(
            "POST", api + "/logged-models/\(id)/params", json: #"{"model_id": "\#(id)", "params": [{"key": "q", "value": "2"}]}"#)
        #expect(paramStatus == 200)

        let (found, _) = try await HTTP.send(
            "POST", api + "/logged-models/search",
            json: #"{"experiment_ids": ["\#(experimentId)"], "filter": "params.q = '2' AND name = 'm'"}"#)
        if case .array(let models)? = found["models"] {
            #expect(models.count == 1)
        } else {
            Issue.record("no models in \(found)")
        }

        let root = "\(folder.path)/art/models/\(id)/artifacts"
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: root + "/MLmodel"))
        let (listing, _) = try await HTTP.send("GET", api + "/logged-models/\(id)/artifacts/directories")
        #expect(listing["files"] == .array([
            .object(JSONObject([("path", .string("MLmodel")), ("is_dir", .bool(false)), ("file_size", .number("6"))])),
            .object(JSONObject([("path", .string("sub")), ("is_dir", .bool(true))])),
        ]))
        let (_, escapeStatus) = try await HTTP.send(
            "GET", api + "/logged-models/\(id)/artifacts/directories?artifact_directory_path=../x")
        #expect(escapeStatus == 400)

        let (_, deleteStatus) = try await Self.bare("DELETE", api + "/logged-models/\(id)")
        #expect(deleteStatus == 200)
        let (missing, missingStatus) = try await HTTP.send("GET", api + "/logged-models/\(id)")
        #expect(missingStatus == 404)
        #expect(Self.string(missing["message"]) == "Logged model with ID '\(id)' not found.")
        let (_, allowedStatus) = try await HTTP.send("GET", api + "/logged-models/\(id)?allow_deleted=true")
        #expect(allowedStatus == 200)
        // POST still insists on a JSON content type, as MLflow's server does.
        let (_, bareCreateStatus) = try await Self.bare("POST", api + "/logged-models")
        #expect(bareCreateStatus == 400)
    }
}
