import Foundation
import SwiftflowCore
import Testing

/// The artifact endpoints over real HTTP: MLflow's answers, and no way out of the artifact root.
@Suite("Live server: artifacts", .serialized)
struct ArtifactServerTests {
    static let proxy = "/api/2.0/mlflow-artifacts/artifacts"

    /// A run created through the API: its id and the path of its artifacts inside the proxy's store.
    static func createRun(_ server: ServerProcess) async throws -> (id: String, artifactPath: String, uri: String) {
        let (experiment, _) = try await HTTP.send(
            "POST", server.api + "/experiments/create", json: #"{"name": "artifacts-\#(UUID().uuidString)"}"#)
        guard case .string(let experimentId) = experiment["experiment_id"] else { throw SwiftflowError(.internalError, "\(experiment)") }
        let (created, _) = try await HTTP.send(
            "POST", server.api + "/runs/create", json: #"{"experiment_id": "\#(experimentId)"}"#)
        guard case .string(let runId) = created["run"]?["info"]?["run_id"],
              case .string(let uri) = created["run"]?["info"]?["artifact_uri"]
        else { throw SwiftflowError(.internalError, "\(created)") }
        return (runId, String(uri.dropFirst("mlflow-artifacts:/".count)), uri)
    }

    static func put(_ server: ServerProcess, _ path: String, _ text: String) throws -> RawHTTP.Reply {
        try RawHTTP.send(port: server.port, "PUT", proxy + "/" + path, body: Array(text.utf8))
    }

    static func get(_ server: ServerProcess, _ target: String, headers: [String: String] = [:]) throws -> RawHTTP.Reply {
        try RawHTTP.send(port: server.port, "GET", target, headers: headers)
    }

    /// Every file under `folder`, relative to it.
    static func files(under folder: String) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    // MARK: - Proxy

    @Test("upload, download, list and delete through mlflow-artifacts, with MLflow's headers")
    func proxyRoundTrip() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }

        // As curl does for large bodies: the body is sent only once the server said "100 Continue".
        let upload = try RawHTTP.send(
            port: server.port, "PUT", Self.proxy + "/d/hello.txt", body: Array("hello\n".utf8), awaitContinue: true)
        #expect(upload.interimStatus == 100)
        #expect(upload.status == 200)
        #expect(upload.body.isEmpty)

        let download = try Self.get(server, Self.proxy + "/d/hello.txt")
        #expect(download.status == 200)
        #expect(download.text == "hello\n")
        #expect(download.headers["content-type"] == "text/plain")
        #expect(download.headers["content-disposition"] == "attachment; filename=hello.txt")
        #expect(download.headers["x-content-type-options"] == "nosniff")
        #expect(download.headers["content-length"] == "6")

        let part = try Self.get(server, Self.proxy + "/d/hello.txt", headers: ["Range": "bytes=1-3"])
        #expect(part.status == 206)
        #expect(part.text == "ell")
        #expect(part.headers["content-range"] == "bytes 1-3/6")
        #expect(try Self.get(server, Self.proxy + "/d/hello.txt", headers: ["Range": "bytes=10-"]).status == 416)

        _ = try Self.put(server, "d/model/MLmodel", "flavors: {}\n")
        _ = try Self.put(server, "d/w.pkl", "binary")
        _ = try Self.put(server, "d/%C3%BCn%C3%AF.txt", "unicode")
        #expect(try Self.get(server, Self.proxy + "/d/model/MLmodel").headers["content-type"] == "text/plain")
        #expect(try Self.get(server, Self.proxy + "/d/w.pkl").headers["content-type"] == "application/octet-stream")
        #expect(try Self.get(server, Self.proxy + "/d/%C3%BCn%C3%AF.txt").headers["content-disposition"]
            == "attachment; filename=uni.txt; filename*=UTF-8''%C3%BCn%C3%AF.txt")

        for prefix in ["/api/2.0", "/ajax-api/2.0"] {
            let listing = try Self.get(server, prefix + "/mlflow-artifacts/artifacts?path=d")
            #expect(listing.status == 200)
            #expect(listing.json == (try JSONParser.parse(Array("""
                {"files": [{"path": "hello.txt", "is_dir": false, "file_size": 6}, {"path": "model", "is_dir": true},
                 {"path": "w.pkl", "is_dir": false, "file_size": 6}, {"path": "ünï.txt", "is_dir": false, "file_size": 7}]}
                """.utf8))))
        }

        let deleted = try RawHTTP.send(port: server.port, "DELETE", Self.proxy + "/d")
        #expect(deleted.status == 200)
        #expect(deleted.json == .object(JSONObject()))
        #expect(try Self.get(server, Self.proxy + "?path=d").text == "{}")
        #expect(Self.files(under: folder.path + "/artifacts").isEmpty)
    }

    // MARK: - Safety

    /// Request targets that try to leave the artifact root, as sent on the wire.
    static let escapes = [
        "../ESCAPE", "a/../../ESCAPE", "%2e%2e/ESCAPE", "%2E%2E%2FESCAPE", "a%2f..%2f..%2fESCAPE",
        "%252e%252e/ESCAPE", "%25252e%25252e%25252fESCAPE", "/ESCAPE", "%2fESCAPE", "%2F%2E%2E%2FESCAPE",
        "C:%5CESCAPE", "C:/ESCAPE", "%5C%5Cserver%5Cshare%5CESCAPE", "file:///ESCAPE", "file:%2E%2E/ESCAPE", "a%23ESCAPE",
    ]

    @Test("traversal is refused with 400 Invalid path on every artifact endpoint, and nothing lands outside the root")
    func traversal() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let run = try await Self.createRun(server)
        let name = "escape-\(UUID().uuidString).txt"

        for escape in Self.escapes {
            let target = escape.replacingOccurrences(of: "ESCAPE", with: name)
            let query = target.replacingOccurrences(of: "#", with: "%23")
            let requests: [(String, String, [String: String], [UInt8])] = [
                ("PUT", Self.proxy + "/" + target, [:], Array("x".utf8)),
                ("GET", Self.proxy + "/" + target, [:], []),
                ("DELETE", Self.proxy + "/" + target, [:], []),
                ("GET", Self.proxy + "?path=" + query, [:], []),
                ("POST", "/api/2.0/mlflow-artifacts/mpu/create/" + target, ["Content-Type": "application/json"],
                 Array(#"{"path": "big.bin", "num_parts": 2}"#.utf8)),
                ("GET", "/api/2.0/mlflow-artifacts/presigned/" + target, [:], []),
                ("GET", "/api/2.0/mlflow/artifacts/list?run_id=\(run.id)&path=" + query, [:], []),
                ("GET", "/get-artifact?run_id=\(run.id)&path=" + query, [:], []),
            ]
            for (method, path, headers, body) in requests {
                let reply = try RawHTTP.send(port: server.port, method, path, headers: headers, body: body)
                #expect(reply.status == 400, "\(method) \(path): \(reply.status) \(reply.text)")
                #expect(reply.errorCode == "INVALID_PARAMETER_VALUE", "\(method) \(path)")
                #expect(reply.json["message"] == .string("Invalid path"), "\(method) \(path): \(reply.text)")
            }
        }
        // The escapes aim at the data folder (one level up), the temporary folder (two) and "/".
        #expect(Self.files(under: folder.path + "/artifacts").isEmpty)
        #expect(!Self.files(under: folder.path).contains(where: { $0.hasSuffix(name) }))
        for place in [NSTemporaryDirectory(), "/tmp", "/"] {
            #expect(!FileManager.default.fileExists(atPath: (place as NSString).appendingPathComponent(name)))
        }
    }

    @Test("symbolic links leading out of the artifact root are refused")
    func symlinks() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let outside = folder.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder.path + "/artifacts", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/artifacts/out", withDestinationPath: outside)
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }

        let replies = [
            try Self.put(server, "out/new.txt", "x"),
            try Self.put(server, "out/secret.txt", "overwritten"),
            try Self.get(server, Self.proxy + "/out/secret.txt"),
            try Self.get(server, Self.proxy + "?path=out"),
            try RawHTTP.send(port: server.port, "DELETE", Self.proxy + "/out/secret.txt"),
            try RawHTTP.send(port: server.port, "DELETE", Self.proxy + "/out"),
        ]
        for reply in replies {
            #expect(reply.status == 400)
            #expect(reply.json["message"] == .string("Invalid path: resolved path is outside the artifact directory"))
        }
        #expect(Self.files(under: outside) == ["secret.txt"])
        #expect(try String(contentsOfFile: outside + "/secret.txt", encoding: .utf8) == "secret")
    }

    @Test("malformed requests get clear 4xx answers, never a 500")
    func malformed() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let run = try await Self.createRun(server)
        _ = try Self.put(server, "d/f.txt", "f")
        let json = ["Content-Type": "application/json"]
        let unknownRun = "0123456789abcdef0123456789abcdef"

        let cases: [(String, String, [String: String], String, Int, String?)] = [
            ("GET", "/api/2.0/mlflow/artifacts/list", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("GET", "/api/2.0/mlflow/artifacts/list?run_id=", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("GET", "/api/2.0/mlflow/artifacts/list?run_id=\(unknownRun)", [:], "", 404, "RESOURCE_DOES_NOT_EXIST"),
            ("GET", Self.proxy + "/d/missing.txt", [:], "", 404, "RESOURCE_DOES_NOT_EXIST"),
            ("GET", Self.proxy + "/d", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("GET", Self.proxy + "/", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("PUT", Self.proxy + "/d/", [:], "x", 400, "INVALID_PARAMETER_VALUE"),
            ("PUT", Self.proxy + "/d/.artifact.uploading.x", [:], "x", 400, "INVALID_PARAMETER_VALUE"),
            ("PUT", Self.proxy + "/d/f.txt/under-a-file.txt", [:], "x", 400, "INVALID_PARAMETER_VALUE"),
            ("PUT", Self.proxy + "/d", [:], "x", 400, "INVALID_PARAMETER_VALUE"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/create/d", json, #"{"path": "big.bin", "num_parts": 2}"#, 501, "NOT_IMPLEMENTED"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/complete/d", json, #"{"path": "big.bin", "upload_id": "u", "parts": []}"#,
             501, "NOT_IMPLEMENTED"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/abort/d", json, #"{"path": "big.bin", "upload_id": "u"}"#, 501, "NOT_IMPLEMENTED"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/create/d", json, "{}", 400, "INVALID_PARAMETER_VALUE"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/create/d", json, #"{"path": 5}"#, 400, "INVALID_PARAMETER_VALUE"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/create/d", json, #"{"path": "#, 400, "INVALID_PARAMETER_VALUE"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/create/d", [:], #"{"path": "x"}"#, 400, "INVALID_PARAMETER_VALUE"),
            ("POST", "/api/2.0/mlflow-artifacts/mpu/complete/d", json, #"{"path": "big.bin"}"#, 400, "INVALID_PARAMETER_VALUE"),
            ("GET", "/api/2.0/mlflow-artifacts/presigned/d/f.txt", [:], "", 501, "NOT_IMPLEMENTED"),
            ("GET", "/get-artifact?run_id=\(run.id)", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("GET", "/get-artifact?path=f.txt", [:], "", 404, "RESOURCE_DOES_NOT_EXIST"),
            ("GET", "/get-artifact?path=f.txt&run_id=\(unknownRun)", [:], "", 404, "RESOURCE_DOES_NOT_EXIST"),
            ("GET", "/get-artifact?path=missing.txt&run_id=\(run.id)", [:], "", 404, "RESOURCE_DOES_NOT_EXIST"),
            ("GET", "/model-versions/get-artifact?path=MLmodel", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("GET", "/model-versions/get-artifact?name=m&version=1", [:], "", 400, "INVALID_PARAMETER_VALUE"),
            ("GET", "/model-versions/get-artifact?path=MLmodel&name=nope&version=1", [:], "", 404, "RESOURCE_DOES_NOT_EXIST"),
        ]
        for (method, target, headers, body, status, code) in cases {
            let reply = try RawHTTP.send(port: server.port, method, target, headers: headers, body: Array(body.utf8))
            #expect(reply.status == status, "\(method) \(target): \(reply.status) \(reply.text)")
            #expect(reply.errorCode == code, "\(method) \(target): \(reply.text)")
        }

        // Listing what is not there is not an error, as in MLflow.
        let missing = try Self.get(server, "/api/2.0/mlflow/artifacts/list?run_id=\(run.id)&path=does/not/exist")
        #expect(missing.status == 200)
        #expect(missing.json == .object(JSONObject([("root_uri", .string(run.uri))])))
        #expect(try Self.get(server, Self.proxy + "?path=does/not/exist").text == "{}")
        #expect(Self.files(under: folder.path + "/artifacts") == ["d", "d/f.txt"])
    }

    // MARK: - Runs and model versions

    @Test("run and model version artifacts are listed and downloaded through their artifact URIs")
    func runArtifacts() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let run = try await Self.createRun(server)
        _ = try Self.put(server, run.artifactPath + "/a.txt", "hello\n")
        _ = try Self.put(server, run.artifactPath + "/model/MLmodel", "flavors: {}\n")
        _ = try Self.put(server, run.artifactPath + "/model/sub/w.json", "{}")

        let top = try Self.get(server, "/api/2.0/mlflow/artifacts/list?run_uuid=\(run.id)")
        #expect(top.json["root_uri"] == .string(run.uri))
        #expect(top.json["files"] == (try JSONParser.parse(Array("""
            [{"path": "a.txt", "is_dir": false, "file_size": 6}, {"path": "model", "is_dir": true}]
            """.utf8))))
        let inner = try Self.get(server, "/ajax-api/2.0/mlflow/artifacts/list?run_id=\(run.id)&path=model")
        #expect(inner.json["files"] == (try JSONParser.parse(Array("""
            [{"path": "model/MLmodel", "is_dir": false, "file_size": 12}, {"path": "model/sub", "is_dir": true}]
            """.utf8))))
        let download = try Self.get(server, "/get-artifact?path=model/MLmodel&run_id=\(run.id)")
        #expect(download.status == 200)
        #expect(download.text == "flavors: {}\n")
        #expect(download.headers["content-disposition"] == "attachment; filename=MLmodel")

        let model = "model-\(UUID().uuidString)"
        _ = try await HTTP.send("POST", server.api + "/registered-models/create", json: #"{"name": "\#(model)"}"#)
        for source in [run.uri + "/model", "runs:/\(run.id)/model"] {
            let (created, status) = try await HTTP.send(
                "POST", server.api + "/model-versions/create",
                json: #"{"name": "\#(model)", "source": "\#(source)", "run_id": "\#(run.id)"}"#)
            #expect(status == 200, "\(created)")
        }
        for version in ["1", "2"] {
            let reply = try Self.get(server, "/model-versions/get-artifact?path=sub/w.json&name=\(model)&version=\(version)")
            #expect(reply.status == 200, "version \(version): \(reply.text)")
            #expect(reply.text == "{}")
        }
    }

    // MARK: - Server modes

    @Test("--no-serve-artifacts turns the proxy off with 503; runs in local folders are still served")
    func noServeArtifacts() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(
            dataFolder: folder.path,
            options: ["--backend-store-uri", "sqlite:///\(folder.path)/mlflow.db", "--no-serve-artifacts"])
        defer { server.stop() }

        for (method, target) in [("PUT", Self.proxy + "/x.txt"), ("GET", Self.proxy + "/x.txt"), ("GET", Self.proxy),
                                 ("DELETE", Self.proxy + "/x.txt"), ("POST", "/api/2.0/mlflow-artifacts/mpu/create/x")] {
            let reply = try RawHTTP.send(port: server.port, method, target, body: method == "PUT" ? [1] : [])
            #expect(reply.status == 503, "\(method) \(target)")
            #expect(reply.text.contains("--no-serve-artifacts"))
        }

        // The client writes straight into the run's folder; the server lists and serves it.
        let (created, _) = try await HTTP.send("POST", server.api + "/runs/create", json: #"{"experiment_id": "0"}"#)
        guard case .string(let runId) = created["run"]?["info"]?["run_id"],
              case .string(let uri) = created["run"]?["info"]?["artifact_uri"]
        else { throw SwiftflowError(.internalError, "\(created)") }
        #expect(uri.hasPrefix(folder.path) || uri.hasPrefix("/"))
        try FileManager.default.createDirectory(atPath: uri + "/m", withIntermediateDirectories: true)
        try "local".write(toFile: uri + "/m/file.txt", atomically: true, encoding: .utf8)
        let listing = try Self.get(server, "/api/2.0/mlflow/artifacts/list?run_id=\(runId)&path=m")
        #expect(listing.json["files"] == (try JSONParser.parse(Array(
            #"[{"path": "m/file.txt", "is_dir": false, "file_size": 5}]"#.utf8))))
        #expect(try Self.get(server, "/get-artifact?path=m/file.txt&run_id=\(runId)").text == "local")
    }

    @Test("--artifacts-only serves the proxy alone; tracking endpoints answer 503 and no store is opened")
    func artifactsOnly() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try await ServerProcess.started(
            dataFolder: folder.path, options: ["--artifacts-destination", folder.path + "/artifacts", "--artifacts-only"])
        defer { server.stop() }

        #expect(try Self.put(server, "m/a.txt", "only").status == 200)
        #expect(try Self.get(server, Self.proxy + "/m/a.txt").text == "only")
        #expect(try Self.get(server, Self.proxy + "?path=m").json["files"] != nil)
        for (method, target) in [("POST", "/api/2.0/mlflow/experiments/create"), ("GET", "/api/2.0/mlflow/runs/get?run_id=x"),
                                 ("GET", "/ajax-api/2.0/mlflow/artifacts/list?run_id=x"), ("GET", "/get-artifact?path=a&run_id=x"),
                                 ("GET", "/model-versions/get-artifact?path=a&name=m&version=1")] {
            let reply = try RawHTTP.send(port: server.port, method, target)
            #expect(reply.status == 503, "\(method) \(target)")
            #expect(reply.text.contains("`--artifacts-only`"))
        }
        #expect(try Self.get(server, "/health").text == "OK")
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/mlflow.db"))
    }

    @Test("--artifacts-only refuses a backend store, as mlflow server does")
    func artifactsOnlyWithStore() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let server = try ServerProcess(
            dataFolder: folder.path, options: ["--backend-store-uri", "sqlite:///\(folder.path)/x.db", "--artifacts-only"])
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus != 0)
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/x.db"))
    }
}
