import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwiftflowCore

/// A file or folder of a run's (or logged model's) artifacts.
public struct FileInfo: Sendable, Equatable {
    /// Relative to the artifact root, `/`-separated.
    public var path: String
    public var isDir: Bool
    /// Bytes; nil for folders.
    public var fileSize: Int64?

    public init(path: String, isDir: Bool, fileSize: Int64?) {
        self.path = path
        self.isDir = isDir
        self.fileSize = fileSize
    }
}

/// Artifacts: uploads, listings and downloads of a run's or a logged model's files.
///
/// Runs of a server that proxies artifacts (`mlflow-artifacts:/…`, the default of `swiftflow server` and
/// `mlflow server`) go through the server, streamed both ways; runs whose artifact root is a local folder
/// (`file://…` or a path) are read and written directly. Other roots (`s3://…` on a server started with
/// `--no-serve-artifacts`) are answered `NOT_IMPLEMENTED`: the SDK does not hold cloud credentials.
extension MlflowClient {
    /// Uploads `localFile` into the run's artifacts, under `artifactPath` (a folder) when given.
    public func logArtifact(runId: String, localFile: URL, artifactPath: String? = nil) async throws(SwiftflowError) {
        try await logArtifact(localFile: localFile, artifactURI: try await artifactURI(ofRun: runId), artifactPath: artifactPath)
    }

    /// Uploads every file below `localDirectory`, keeping the tree, under `artifactPath` when given.
    public func logArtifacts(
        runId: String, localDirectory: URL, artifactPath: String? = nil
    ) async throws(SwiftflowError) {
        let root = try await artifactURI(ofRun: runId)
        try await logArtifacts(localDirectory: localDirectory, artifactURI: root, artifactPath: artifactPath)
    }

    /// Writes `text` to the artifact file `artifactFile` (e.g. `notes/summary.txt`).
    public func logText(runId: String, _ text: String, artifactFile: String) async throws(SwiftflowError) {
        let root = try await artifactURI(ofRun: runId)
        try await withTemporaryFile(named: (artifactFile as NSString).lastPathComponent, contents: Data(text.utf8)) {
            (file) async throws(SwiftflowError) in
            let folder = (artifactFile as NSString).deletingLastPathComponent
            try await logArtifact(localFile: file, artifactURI: root, artifactPath: folder.isEmpty ? nil : folder)
        }
    }

    /// The files and folders directly in `path` (the root when nil), sorted by path.
    public func listArtifacts(runId: String, path: String? = nil) async throws(SwiftflowError) -> [FileInfo] {
        try await listArtifacts(artifactURI: try await artifactURI(ofRun: runId), path: path)
    }

    /// Downloads `path` (a file or folder; everything when empty) into `directory`; answers the local copy.
    @discardableResult
    public func downloadArtifacts(runId: String, path: String = "", to directory: URL) async throws(SwiftflowError) -> URL {
        try await downloadArtifacts(artifactURI: try await artifactURI(ofRun: runId), path: path, to: directory)
    }

    // MARK: By artifact URI (runs, logged models, model versions)

    public func logArtifact(localFile: URL, artifactURI: String, artifactPath: String? = nil) async throws(SwiftflowError) {
        let name = localFile.lastPathComponent
        let destination = Self.join(artifactPath ?? "", name)
        switch try artifactRoot(artifactURI) {
        case .local(let root):
            try Self.copyItem(localFile, to: URL(fileURLWithPath: Self.join(root, destination)))
        case .proxied(let client, let root):
            try await client.uploadProxied(localFile, folder: Self.join(root, artifactPath ?? ""), name: name)
        }
    }

    public func logArtifacts(
        localDirectory: URL, artifactURI: String, artifactPath: String? = nil
    ) async throws(SwiftflowError) {
        let files: [String]
        do {
            files = try Self.regularFiles(below: localDirectory)
        } catch {
            throw .invalidParameter("Could not read the folder \(localDirectory.path): \(error)")
        }
        for relative in files {
            let folder = Self.join(artifactPath ?? "", (relative as NSString).deletingLastPathComponent)
            try await logArtifact(localFile: localDirectory.appendingPathComponent(relative), artifactURI: artifactURI,
                                  artifactPath: folder.isEmpty ? nil : folder)
        }
    }

    public func listArtifacts(artifactURI: String, path: String? = nil) async throws(SwiftflowError) -> [FileInfo] {
        let prefix = path ?? ""
        switch try artifactRoot(artifactURI) {
        case .local(let root):
            let folder = URL(fileURLWithPath: Self.join(root, prefix))
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
            return names.sorted().map { name in
                let url = folder.appendingPathComponent(name)
                var isDir: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
                let size = isDir.boolValue ? nil : (try? FileManager.default.attributesOfItem(atPath: url.path)[.size])
                    .flatMap { ($0 as? NSNumber)?.int64Value }
                return FileInfo(path: Self.join(prefix, name), isDir: isDir.boolValue, fileSize: size)
            }
        case .proxied(let client, let root):
            let answer = try await client.get("/api/2.0/mlflow-artifacts/artifacts", query: [("path", Self.join(root, prefix))])
            var infos: [FileInfo] = []
            for file in WireReaderArray(answer["files"]) {
                let item = try WireReader(file, "file")
                let name = try item.required("path")
                infos.append(FileInfo(path: Self.join(prefix, name), isDir: item.bool("is_dir") ?? false,
                                      fileSize: item.int("file_size")))
            }
            // A file lists itself; MLflow's client answers no children for it.
            if infos.count == 1, !infos[0].isDir, !prefix.isEmpty,
               infos[0].path == Self.join(prefix, (prefix as NSString).lastPathComponent) {
                return []
            }
            return infos.sorted { $0.path < $1.path }
        }
    }

    @discardableResult
    public func downloadArtifacts(artifactURI: String, path: String = "", to directory: URL) async throws(SwiftflowError) -> URL {
        let name = path.isEmpty ? "" : (path as NSString).lastPathComponent
        let destination = name.isEmpty ? directory : directory.appendingPathComponent(name)
        switch try artifactRoot(artifactURI) {
        case .local(let root):
            try Self.copyItem(URL(fileURLWithPath: Self.join(root, path)), to: destination)
        case .proxied(let client, let root):
            try await client.downloadProxiedArtifacts(Self.join(root, path), into: destination)
        }
        return destination
    }

    // MARK: Proxied transfers

    /// Downloads the proxied artifact folder (or file) `path` (`mlflow-artifacts:/<path>`) into `directory`.
    ///
    /// Files are streamed to disk, so a model larger than memory downloads too.
    public func downloadProxiedArtifacts(_ path: String, into directory: URL) async throws(SwiftflowError) {
        let listing = try await get("/api/2.0/mlflow-artifacts/artifacts", query: [("path", path)])
        let files = WireReaderArray(listing["files"])
        let name = (path as NSString).lastPathComponent
        let listsItself = files.count == 1 && files[0]["is_dir"] != .bool(true) && files[0]["path"] == .string(name)
        guard !files.isEmpty, !listsItself else {
            // A file lists nothing or itself: fetch it as a file (a missing path then fails, as in MLflow).
            try await downloadProxiedFile(path, to: directory)
            return
        }
        try Self.makeDirectory(directory)
        for file in files {
            guard case .string(let listed)? = file["path"] else { continue }
            let name = (listed as NSString).lastPathComponent
            guard !name.isEmpty, name != ".", name != ".." else { continue }
            let child = Self.join(path, name)
            if case .bool(true)? = file["is_dir"] {
                try await downloadProxiedArtifacts(child, into: directory.appendingPathComponent(name))
            } else {
                try await downloadProxiedFile(child, to: directory.appendingPathComponent(name))
            }
        }
    }

    /// Streams one proxied artifact file to `destination`.
    public func downloadProxiedFile(_ path: String, to destination: URL) async throws(SwiftflowError) {
        let url = baseURL + "/api/2.0/mlflow-artifacts/artifacts/" + RESTTransport.escapePath(path)
        let (status, error) = try await transport.withRetries(path: path) {
            () async throws(SwiftflowError) -> (HTTPResponseStatus, SwiftflowError?, String?) in
            do {
                let response = try await http.execute(request(.GET, url), timeout: .hours(1))
                guard response.status == .ok else {
                    let body = try await response.body.collect(upTo: 1024 * 1024)
                    let error = RESTTransport.error(status: response.status, body: try? JSONParser.parse(body.readableBytesView),
                                                    text: String(buffer: body), path: path)
                    return (response.status, error, response.headers.first(name: "Retry-After"))
                }
                try Self.makeDirectory(destination.deletingLastPathComponent())
                let partial = destination.appendingPathExtension("partial")
                guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
                    throw SwiftflowError(.internalError, "Could not create \(partial.path).")
                }
                let handle = try FileHandle(forWritingTo: partial)
                defer { try? handle.close() }
                for try await chunk in response.body {
                    try handle.write(contentsOf: Data(chunk.readableBytesView))
                }
                try? FileManager.default.removeItem(at: destination)
                try FileManager.default.moveItem(at: partial, to: destination)
                return (response.status, nil, nil)
            } catch let error as SwiftflowError {
                throw error
            } catch {
                throw SwiftflowError(.temporarilyUnavailable, "Could not download artifact '\(path)': \(error)", cause: error)
            }
        }
        if let error {
            _ = status
            throw error
        }
    }

    /// Uploads one file to the proxied folder `folder` as `name`: in parts when enabled and large enough
    /// (and the server's store supports it), else as one streamed PUT.
    func uploadProxied(_ file: URL, folder: String, name: String) async throws(SwiftflowError) {
        let size = try Self.fileSize(file)
        if configuration.multipartUpload && size >= configuration.multipartMinimumSize {
            if try await uploadInParts(file, size: size, folder: folder) { return }
        }
        let url = baseURL + "/api/2.0/mlflow-artifacts/artifacts/" + RESTTransport.escapePath(Self.join(folder, name))
        let (status, body) = try await transport.collect(.PUT, url, path: Self.join(folder, name)) { request in
            request.headers.add(name: "Content-Type", value: Self.mimeType(name))
            request.body = .stream(FileChunks(path: file.path), length: .known(size))
        }
        guard (200..<300).contains(status.code) else {
            throw RESTTransport.error(status: status, body: try? JSONParser.parse(body.readableBytesView),
                                      text: String(buffer: body), path: Self.join(folder, name))
        }
    }

    /// MLflow's proxied multipart upload; false when the server's store has none (then a PUT follows).
    private func uploadInParts(_ file: URL, size: Int64, folder: String) async throws(SwiftflowError) -> Bool {
        let chunk = configuration.multipartChunkSize
        let count = Int((size + chunk - 1) / chunk)
        let mpu = "/api/2.0/mlflow-artifacts/mpu/"
        let route = RESTTransport.escapePath(folder)
        let created: JSONValue
        do {
            created = try await send(.POST, mpu + "create/" + route) { w in
                w.field("path", file.path)
                w.field("num_parts", Int64(count))
            }
        } catch where error.code == .notImplemented {
            return false
        }
        let uploadId = try WireReader(created, "answer").required("upload_id")
        do throws(SwiftflowError) {
            var etags: [(Int64, String)] = []
            for credential in WireReaderArray(created["credentials"]) {
                let part = try WireReader(credential, "credential")
                let number = part.int("part_number") ?? Int64(etags.count + 1)
                let offset = (number - 1) * chunk
                let length = min(chunk, size - offset)
                let (status, etag) = try await transport.withRetries(path: folder) {
                    () async throws(SwiftflowError) -> (HTTPResponseStatus, String?, String?) in
                    var request = HTTPClientRequest(url: try part.required("url"))
                    request.method = .PUT
                    if case .object(let headers)? = part.value["headers"] {
                        for (name, value) in headers.members { if case .string(let v) = value { request.headers.add(name: name, value: v) } }
                    }
                    request.body = .bytes(try Self.readChunk(file, offset: offset, length: length))
                    do {
                        let response = try await http.execute(request, timeout: .hours(1))
                        _ = try await response.body.collect(upTo: 1024 * 1024)
                        return (response.status, response.headers.first(name: "ETag"), response.headers.first(name: "Retry-After"))
                    } catch {
                        throw SwiftflowError(.temporarilyUnavailable, "Could not upload part \(number): \(error)", cause: error)
                    }
                }
                guard (200..<300).contains(status.code) else {
                    throw SwiftflowError(.internalError, "Uploading part \(number) of \(file.lastPathComponent) got HTTP \(status.code).")
                }
                etags.append((number, etag ?? ""))
            }
            _ = try await send(.POST, mpu + "complete/" + route) { w in
                w.field("path", file.path)
                w.field("upload_id", uploadId)
                w.repeatedField("parts", etags.sorted { $0.0 < $1.0 }) { w, part in
                    w.beginObject()
                    w.field("part_number", part.0)
                    w.field("etag", part.1)
                    w.endObject()
                }
            }
            return true
        } catch {
            _ = try? await send(.POST, mpu + "abort/" + route) { w in
                w.field("path", file.path)
                w.field("upload_id", uploadId)
            }
            throw error
        }
    }

    // MARK: Roots

    enum ArtifactRoot {
        case local(String)
        case proxied(MlflowClient, String)
    }

    func artifactURI(ofRun runId: String) async throws(SwiftflowError) -> String {
        try await getRun(id: runId).info.artifactUri
    }

    /// Where an artifact URI's files are and who serves them.
    func artifactRoot(_ uri: String) throws(SwiftflowError) -> ArtifactRoot {
        let parts = URLParts(uri)
        switch parts.scheme {
        case "mlflow-artifacts":
            let path = String(parts.path.drop { $0 == "/" })
            guard !parts.netloc.isEmpty else { return .proxied(self, path) }
            var other = configuration
            other.trackingURI = (baseURL.hasPrefix("https") ? "https://" : "http://") + parts.netloc
            return .proxied(MlflowClient(configuration: other, http: http), path)
        case "http", "https":
            let marker = "/api/2.0/mlflow-artifacts/artifacts"
            guard let range = uri.range(of: marker) else {
                throw SwiftflowError(.notImplemented, "The artifact URI '\(uri)' is not served by an MLflow artifact proxy.")
            }
            var other = configuration
            other.trackingURI = String(uri[..<range.lowerBound])
            let path = uri[range.upperBound...].drop { $0 == "/" }
            return .proxied(MlflowClient(configuration: other, http: http), String(path).removingPercentEncoding ?? String(path))
        case "file":
            return .local(parts.path.removingPercentEncoding ?? parts.path)
        case "":
            return .local(uri)
        default:
            throw SwiftflowError(
                .notImplemented,
                "The artifact URI '\(uri)' (\(parts.scheme)) is not supported by the Swift client: start the server "
                    + "with proxied artifacts (the default) so that artifacts go through it.")
        }
    }

    // MARK: Files

    static func join(_ a: String, _ b: String) -> String {
        let left = a.hasSuffix("/") ? String(a.dropLast()) : a
        let right = b.hasPrefix("/") ? String(b.dropFirst()) : b
        if left.isEmpty { return right }
        if right.isEmpty { return left }
        return left + "/" + right
    }

    static func makeDirectory(_ url: URL) throws(SwiftflowError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw SwiftflowError(.internalError, "Could not create \(url.path): \(error)", cause: error)
        }
    }

    static func fileSize(_ file: URL) throws(SwiftflowError) -> Int64 {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDir), !isDir.boolValue,
              let size = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber
        else {
            throw .invalidParameter("No file at \(file.path).")
        }
        return size.int64Value
    }

    static func copyItem(_ source: URL, to destination: URL) throws(SwiftflowError) {
        do {
            try FileManager.default.createDirectory(
                at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: destination.path) {
                try FileManager.default.removeItem(at: destination)
            }
            try FileManager.default.copyItem(at: source, to: destination)
        } catch {
            throw SwiftflowError(.internalError, "Could not copy \(source.path) to \(destination.path): \(error)", cause: error)
        }
    }

    static func regularFiles(below folder: URL) throws -> [String] {
        let base = folder.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw SwiftflowError.invalidParameter("No folder at \(base).")
        }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + "/" + relative, isDirectory: &isDir), !isDir.boolValue {
                files.append(relative)
            }
        }
        return files.sorted()
    }

    static func readChunk(_ file: URL, offset: Int64, length: Int64) throws(SwiftflowError) -> ByteBuffer {
        do {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            return ByteBuffer(bytes: try handle.read(upToCount: Int(length)) ?? Data())
        } catch {
            throw SwiftflowError(.internalError, "Could not read \(file.path): \(error)", cause: error)
        }
    }

    func withTemporaryFile(
        named name: String, contents: Data, _ body: (URL) async throws(SwiftflowError) -> Void
    ) async throws(SwiftflowError) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftflow-\(UUID().uuidString)")
        try Self.makeDirectory(folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: file.path, contents: contents) else {
            throw SwiftflowError(.internalError, "Could not write \(file.path).")
        }
        try await body(file)
    }

    /// The Content-Type MLflow's client sends: text for its text extensions, else by extension.
    static func mimeType(_ name: String) -> String {
        let ext = (name as NSString).pathExtension.lowercased()
        let key = ext.isEmpty ? name : ext
        let text: Set<String> = ["txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon",
                                 "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst",
                                 "MLmodel", "MLproject"]
        if text.contains(key) { return "text/plain" }
        switch ext {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "svg": return "image/svg+xml"
        case "html", "htm": return "text/html"
        case "pdf": return "application/pdf"
        default: return "application/octet-stream"
        }
    }
}

/// The items of a JSON array, or none.
func WireReaderArray(_ value: JSONValue?) -> [JSONValue] {
    if case .array(let items)? = value { return items }
    return []
}

/// A file read in 1 MiB chunks, for streamed uploads; each iteration reopens the file, so a retry resends it whole.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        mutating func next() async throws -> ByteBuffer? {
            guard let handle else { throw SwiftflowError(.internalError, "Could not open the file to upload.") }
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else {
                try? handle.close()
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path)) }
}
