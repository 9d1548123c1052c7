import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwiftflowCore

extension TrackingClient {
    /// Downloads the proxied artifact folder (or file) `path` (`mlflow-artifacts:/<path>`) into `directory`.
    ///
    /// Files are streamed to disk, so a model larger than memory downloads too.
    public func downloadProxiedArtifacts(_ path: String, into directory: URL) async throws(SwiftflowError) {
        let listing = try await get("/api/2.0/mlflow-artifacts/artifacts", query: [("path", path)])
        guard case .array(let files)? = listing["files"] else {
            // An empty folder lists no `files`; a file lists nothing either, so fetch it as a file.
            try await downloadProxiedFile(path, to: directory.appendingPathComponent((path as NSString).lastPathComponent))
            return
        }
        try makeDirectory(directory)
        for file in files {
            guard case .string(let listed)? = file["path"] else { continue }
            let name = (listed as NSString).lastPathComponent
            guard !name.isEmpty, name != ".", name != ".." else { continue }
            let child = path.isEmpty ? name : path + "/" + name
            if case .bool(true)? = file["is_dir"] {
                try await downloadProxiedArtifacts(child, into: directory.appendingPathComponent(name))
            } else {
                try await downloadProxiedFile(child, to: directory.appendingPathComponent(name))
            }
        }
    }

    /// Streams one proxied artifact file to `destination`.
    public func downloadProxiedFile(_ path: String, to destination: URL) async throws(SwiftflowError) {
        let escaped = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { Self.escape(String($0)) }.joined(separator: "/")
        let request = request(.GET, baseURL + "/api/2.0/mlflow-artifacts/artifacts/" + escaped)
        do {
            let response = try await http.execute(request, timeout: .hours(1))
            guard response.status == .ok else {
                let body = try await response.body.collect(upTo: 1024 * 1024)
                throw Self.error(status: response.status, body: try? JSONParser.parse(body.readableBytesView),
                                 text: String(buffer: body), path: path)
            }
            try makeDirectory(destination.deletingLastPathComponent())
            guard FileManager.default.createFile(atPath: destination.path, contents: nil) else {
                throw SwiftflowError(.internalError, "Could not create \(destination.path).")
            }
            let handle = try FileHandle(forWritingTo: destination)
            defer { try? handle.close() }
            for try await chunk in response.body {
                try handle.write(contentsOf: Data(chunk.readableBytesView))
            }
        } catch let error as SwiftflowError {
            throw error
        } catch {
            throw SwiftflowError(.temporarilyUnavailable, "Could not download artifact '\(path)': \(error)", cause: error)
        }
    }

    private func makeDirectory(_ url: URL) throws(SwiftflowError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw SwiftflowError(.internalError, "Could not create \(url.path): \(error)", cause: error)
        }
    }
}
