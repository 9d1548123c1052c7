#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AsyncHTTPClient
import Crypto
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftflowCore

/// Artifacts as objects of an S3-compatible bucket, under a key prefix, as MLflow's `S3ArtifactRepository`
/// keeps them: the artifact `a/b.txt` of `s3://bucket/root` is the object `root/a/b.txt`.
///
/// Requests go through one shared `HTTPClient`, signed with AWS Signature Version 4. Downloads stream
/// chunk by chunk from S3 to the consumer. Uploads are cut into parts of `partSize` bytes: a file that
/// fits in one part is a single PutObject, a larger one a multipart upload (aborted if anything fails),
/// so an upload holds at most one part in memory, and S3 always gets a known length and payload hash.
/// Folders are key prefixes: they exist while a key lies under them.
public struct S3ArtifactRepository: MultipartUploadRepository {
    public let location: S3Location
    public let configuration: S3Configuration
    /// Files up to this size are one PutObject; larger ones go up in parts of this size (S3's minimum
    /// part is 5 MiB).
    public let partSize: Int

    private let client: HTTPClient
    private let signer: S3Signer
    /// The scheme and authority requests go to, and whether the bucket is the first path segment.
    private let origin: String
    private let host: String
    private let pathStyle: Bool

    public static let defaultPartSize = 8 * 1024 * 1024
    static let listPageSize = 1000
    static let requestTimeout = TimeAmount.hours(6)

    /// - Parameters:
    ///   - location: the bucket and key prefix.
    ///   - configuration: credentials, region and endpoint.
    ///   - client: the client every request goes through; its owner shuts it down.
    ///   - partSize: the size of a multipart upload's parts, at least 5 MiB.
    public init(
        location: S3Location, configuration: S3Configuration, client: HTTPClient, partSize: Int = defaultPartSize
    ) {
        self.location = location
        self.configuration = configuration
        self.client = client
        self.partSize = max(partSize, 5 * 1024 * 1024)
        self.signer = S3Signer(credentials: configuration.credentials, region: configuration.region)
        if let endpoint = configuration.endpoint {
            origin = endpoint
            host = String(endpoint.drop { $0 != ":" }.dropFirst(3))
            pathStyle = true
        } else if location.bucket.contains(".") {
            // A dotted bucket name does not match AWS's wildcard certificate as a host name.
            host = "s3.\(configuration.region).amazonaws.com"
            origin = "https://" + host
            pathStyle = true
        } else {
            host = "\(location.bucket).s3.\(configuration.region).amazonaws.com"
            origin = "https://" + host
            pathStyle = false
        }
    }

    /// A client configured for `configuration` (certificates unchecked with `MLFLOW_S3_IGNORE_TLS`); the
    /// caller shuts it down.
    public static func makeHTTPClient(for configuration: S3Configuration) -> HTTPClient {
        var clientConfiguration = HTTPClient.Configuration(
            certificateVerification: configuration.ignoreTLS ? .none : .fullVerification,
            timeout: HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(120)))
        clientConfiguration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    // MARK: - ArtifactRepository

    public func write<Contents: AsyncSequence>(_ path: ArtifactPath, contents: Contents) async throws
    where Contents.Element == ByteBuffer {
        guard !path.isRoot else {
            throw SwiftflowError.invalidParameter("Artifact path must include a filename (cannot end with '/').")
        }
        let key = self.key(path)
        var iterator = contents.makeAsyncIterator()
        var (part, ended) = try await Self.nextPart(&iterator, size: partSize)
        if ended {
            _ = try await send(.PUT, key: key, body: part, path: path)
            return
        }
        let created = try await send(.POST, key: key, query: [("uploads", "")], path: path)
        guard let uploadId = try await Self.document(created).value("UploadId") else {
            throw SwiftflowError(.internalError, "S3 CreateMultipartUpload for '\(path)' returned no upload id.")
        }
        do {
            var tags: [String] = []
            while true {
                let number = tags.count + 1
                let response = try await send(
                    .PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadId)], body: part,
                    path: path)
                guard let tag = response.headers.first(name: "etag") else {
                    throw SwiftflowError(.internalError, "S3 UploadPart for '\(path)' returned no ETag.")
                }
                tags.append(tag)
                if ended { break }
                (part, ended) = try await Self.nextPart(&iterator, size: partSize)
                if ended && part.readableBytes == 0 { break }
            }
            try await complete(
                key: key, uploadId: uploadId,
                parts: tags.enumerated().map { MultipartUploadPart(number: $0.offset + 1, etag: $0.element) }, path: path)
        } catch {
            // Not cancelled with the upload: a cancelled request must still leave no parts behind.
            let abort = Task { [self] in
                _ = try? await send(.DELETE, key: key, query: [("uploadId", uploadId)], path: path)
            }
            await abort.value
            throw error
        }
    }

    public func attributes(of path: ArtifactPath) async throws -> ArtifactAttributes {
        if path.isRoot { throw Self.isDirectory(path) }
        let response: HTTPClientResponse
        do {
            response = try await send(.HEAD, key: key(path), path: path)
        } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
            // No object: a folder if some key lies under it.
            let inside = try await listPage(prefix: key(path) + "/", delimiter: nil, token: nil, maxKeys: 1)
            if !inside.files.isEmpty { throw Self.isDirectory(path) }
            throw error
        }
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        let modified = response.headers.first(name: "last-modified").flatMap(Self.parseHTTPDate) ?? 0
        // S3 times have whole seconds: the ETag (the content's hash) stands in for the nanoseconds, so
        // the download's entity tag changes with every new content.
        var hash: UInt32 = 2_166_136_261
        for byte in (response.headers.first(name: "etag") ?? "").utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return ArtifactAttributes(
            size: size, modificationTime: modified, modificationNanoseconds: Int(hash % 1_000_000_000))
    }

    public func read(_ path: ArtifactPath, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        var headers: [(String, String)] = []
        var remaining = Int64.max
        if let range {
            if range.isEmpty { return }
            headers.append(("Range", "bytes=\(range.lowerBound)-" + (range.upperBound == .max ? "" : "\(range.upperBound - 1)")))
            remaining = range.upperBound == .max ? .max : range.upperBound - range.lowerBound
        }
        let response: HTTPClientResponse
        do {
            response = try await send(.GET, key: key(path), headers: headers, path: path)
        } catch let error as SwiftflowError where error.message.hasPrefix("S3 error InvalidRange") {
            return  // a range past the end: no bytes, as a local file read gives
        }
        do {
            for try await chunk in response.body {
                guard remaining > 0 else { break }
                var chunk = chunk
                if chunk.readableBytes > remaining { chunk = chunk.getSlice(at: chunk.readerIndex, length: Int(remaining))! }
                remaining -= Int64(chunk.readableBytes)
                try await consume(chunk)
            }
        } catch let error as HTTPClientError {
            throw SwiftflowError(.internalError, "S3 download of '\(path)' failed.", cause: error)
        }
    }

    public func list(_ path: ArtifactPath) async throws -> [ArtifactFileInfo] {
        let prefix = folderPrefix(path)
        var entries: [ArtifactFileInfo] = []
        var token: String?
        repeat {
            let page = try await listPage(prefix: prefix, delimiter: "/", token: token, maxKeys: Self.listPageSize)
            for (key, size) in page.files {
                let name = String(key.dropFirst(prefix.count))
                if name.isEmpty { continue }  // a folder marker object
                entries.append(ArtifactFileInfo(path: path.appending(listedName: name), isDirectory: false, fileSize: size))
            }
            for folder in page.folders {
                let name = String(folder.dropFirst(prefix.count).dropLast())
                if name.isEmpty || name.contains("/") { continue }
                entries.append(ArtifactFileInfo(path: path.appending(listedName: name), isDirectory: true, fileSize: nil))
            }
            token = page.nextToken
        } while token != nil
        return entries.sorted { $0.path.string < $1.path.string }
    }

    public func delete(_ path: ArtifactPath) async throws {
        if path.isRoot { throw SwiftflowError.invalidParameter("The artifact root cannot be deleted.") }
        _ = try await send(.DELETE, key: key(path), path: path)
        // Then everything under the folder of that name, a page (at most 1,000 keys) at a time.
        let prefix = key(path) + "/"
        while true {
            let page = try await listPage(prefix: prefix, delimiter: nil, token: nil, maxKeys: Self.listPageSize)
            if page.files.isEmpty { return }
            try await deleteObjects(page.files.map { $0.key }, path: path)
            if page.nextToken == nil { return }
        }
    }

    /// Creates the bucket if it is not there yet (for tests and scripts: the server never creates buckets).
    package func createBucketIfMissing() async throws {
        do {
            _ = try await send(.HEAD, key: nil, path: .root)
        } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
            _ = try await send(.PUT, key: nil, path: .root)
        }
    }

    // MARK: - S3 operations

    /// One page of ListObjectsV2.
    struct ListPage {
        var files: [(key: String, size: Int64)] = []
        var folders: [String] = []
        var nextToken: String?
    }

    func listPage(prefix: String, delimiter: String?, token: String?, maxKeys: Int) async throws -> ListPage {
        var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", String(maxKeys))]
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let token { query.append(("continuation-token", token)) }
        let response = try await send(.GET, key: nil, query: query, path: .root)
        let document = try await Self.document(response)
        var page = ListPage()
        for entry in document.children("Contents") {
            guard let key = entry.value("Key") else { continue }
            page.files.append((key, entry.value("Size").flatMap { Int64($0) } ?? 0))
        }
        page.folders = document.children("CommonPrefixes").compactMap { $0.value("Prefix") }
        if document.value("IsTruncated") == "true" { page.nextToken = document.value("NextContinuationToken") }
        return page
    }

    /// DeleteObjects for up to 1,000 keys.
    func deleteObjects(_ keys: [String], path: ArtifactPath) async throws {
        var body = "<Delete><Quiet>true</Quiet>"
        for key in keys { body += "<Object><Key>\(S3XMLElement.escape(key))</Key></Object>" }
        body += "</Delete>"
        let bytes = Array(body.utf8)
        let md5 = Self.base64(Array(Insecure.MD5.hash(data: bytes)))
        let response = try await send(
            .POST, key: nil, query: [("delete", "")], headers: [("Content-MD5", md5)], body: ByteBuffer(bytes: bytes),
            path: path)
        let answer = try await Self.document(response)
        if let failure = answer.child("Error") {
            throw Self.error(failure, status: response.status, operation: "delete", path: path)
        }
    }

    // MARK: - MultipartUploadRepository

    /// How long a part's presigned URL stays valid (boto3's default, which MLflow's server uses).
    static let presignedURLLifetime = 3600

    public func createMultipartUpload(_ path: ArtifactPath, parts: Int) async throws -> MultipartUpload {
        guard !path.isRoot else {
            throw SwiftflowError.invalidParameter("Artifact path must include a filename (cannot end with '/').")
        }
        guard (0...10_000).contains(parts) else {
            throw SwiftflowError.invalidParameter("num_parts must be between 0 and 10000, got \(parts).")
        }
        let key = self.key(path)
        let created = try await send(.POST, key: key, query: [("uploads", "")], path: path)
        guard let uploadId = try await Self.document(created).value("UploadId") else {
            throw SwiftflowError(.internalError, "S3 CreateMultipartUpload for '\(path)' returned no upload id.")
        }
        let resource = self.resource(key: key)
        let now = Int64(time(nil))
        let urls = stride(from: 1, through: parts, by: 1).map { number in
            let query = signer.presignedQuery(
                method: "PUT", path: resource, query: [("partNumber", String(number)), ("uploadId", uploadId)],
                host: host, time: now, expires: Self.presignedURLLifetime)
            return origin + resource + "?" + Self.queryText(query)
        }
        return MultipartUpload(uploadId: uploadId, partURLs: urls)
    }

    public func completeMultipartUpload(_ path: ArtifactPath, uploadId: String, parts: [MultipartUploadPart]) async throws {
        try await complete(key: key(path), uploadId: uploadId, parts: parts, path: path)
    }

    public func abortMultipartUpload(_ path: ArtifactPath, uploadId: String) async throws {
        _ = try await send(.DELETE, key: key(path), query: [("uploadId", uploadId)], path: path)
    }

    /// CompleteMultipartUpload: the object becomes the parts, in order.
    func complete(key: String, uploadId: String, parts: [MultipartUploadPart], path: ArtifactPath) async throws {
        var body = "<CompleteMultipartUpload>"
        for part in parts {
            body += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XMLElement.escape(part.etag))</ETag></Part>"
        }
        body += "</CompleteMultipartUpload>"
        let completed = try await send(
            .POST, key: key, query: [("uploadId", uploadId)], body: ByteBuffer(string: body), path: path)
        // S3 may answer 200 and still fail, with an <Error> document.
        let answer = try await Self.document(completed)
        if answer.name == "Error" { throw Self.error(answer, status: completed.status, operation: "write", path: path) }
    }

    // MARK: - Requests

    /// The request path of `key` (of the bucket, for nil), URI-encoded.
    func resource(key: String?) -> String {
        var resource = pathStyle ? "/" + S3Signer.uriEncode(location.bucket, encodeSlash: true) : ""
        if let key { resource += "/" + S3Signer.uriEncode(key, encodeSlash: false) }
        return resource.isEmpty ? "/" : resource
    }

    /// `name=value&...`, URI-encoded.
    static func queryText(_ query: [(String, String)]) -> String {
        query.map { S3Signer.uriEncode($0.0, encodeSlash: true) + "=" + S3Signer.uriEncode($0.1, encodeSlash: true) }
            .joined(separator: "&")
    }

    /// The object key of an artifact path.
    func key(_ path: ArtifactPath) -> String {
        location.prefix.isEmpty || path.isRoot ? location.prefix + path.string : location.prefix + "/" + path.string
    }

    /// The key prefix of everything inside the folder `path`.
    func folderPrefix(_ path: ArtifactPath) -> String {
        let key = self.key(path)
        return key.isEmpty ? "" : key + "/"
    }

    /// Sends one signed request and returns a successful response (its body not yet read).
    ///
    /// - Parameters:
    ///   - key: the object, or nil for a request on the bucket.
    ///   - path: the artifact the request is about, for error messages.
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for a missing object (`NoSuchKey`, or 404 to a HEAD);
    ///   `INTERNAL_ERROR` naming S3's error code for any other failure, or when S3 cannot be reached.
    func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: ByteBuffer? = nil, path: ArtifactPath
    ) async throws -> HTTPClientResponse {
        let resource = self.resource(key: key)
        let queryText = Self.queryText(query)
        var request = HTTPClientRequest(url: origin + resource + (queryText.isEmpty ? "" : "?" + queryText))
        request.method = method
        var signed = headers + [("Host", host)]
        let payloadHash = body.map { S3Signer.payloadHash($0.readableBytesView) } ?? S3Signer.emptyPayloadHash
        signed += signer.signedHeaders(
            method: method.rawValue, path: resource, query: query, headers: signed, payloadHash: payloadHash,
            time: Int64(time(nil)))
        for (name, value) in signed { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }

        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: Self.requestTimeout)
        } catch {
            throw SwiftflowError(.internalError, "S3 request for '\(path)' failed: \(error).", cause: error)
        }
        if (200..<300).contains(response.status.code) { return response }
        if method == .HEAD {
            if response.status == .notFound { throw SwiftflowError.notFound("No such artifact: '\(path)'") }
            throw SwiftflowError(.internalError, "S3 error (HTTP \(response.status.code)) for '\(path)'.")
        }
        let document = (try? await Self.document(response)) ?? S3XMLElement(name: "Error")
        throw Self.error(document, status: response.status, operation: method.rawValue, path: path)
    }

    /// Reads a response's XML body (at most 16 MiB).
    static func document(_ response: HTTPClientResponse) async throws -> S3XMLElement {
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        guard let document = S3XMLElement.parse(bytes.readableBytesView) else {
            throw SwiftflowError(.internalError, "S3 answered with a document that is not XML (HTTP \(response.status.code)).")
        }
        return document
    }

    /// An S3 `<Error>` as MLflow's codes: a missing key is RESOURCE_DOES_NOT_EXIST, anything else an
    /// internal error that names S3's code.
    static func error(_ error: S3XMLElement, status: HTTPResponseStatus, operation: String, path: ArtifactPath) -> SwiftflowError {
        let code = error.value("Code") ?? "HTTP \(status.code)"
        if code == "NoSuchKey" { return SwiftflowError.notFound("No such artifact: '\(path)'") }
        let message = error.value("Message").map { ": " + $0 } ?? ""
        return SwiftflowError(.internalError, "S3 error \(code) (\(operation) '\(path)')\(message)")
    }

    static func isDirectory(_ path: ArtifactPath) -> SwiftflowError {
        SwiftflowError.invalidParameter("Artifact path refers to a directory, not a file: '\(path)'")
    }

    /// Reads chunks until `size` bytes are gathered or the sequence ends (`ended`).
    static func nextPart<Iterator: AsyncIteratorProtocol>(_ iterator: inout Iterator, size: Int) async throws
        -> (part: ByteBuffer, ended: Bool) where Iterator.Element == ByteBuffer {
        var part = ByteBuffer()
        while part.readableBytes < size {
            guard var chunk = try await iterator.next() else { return (part, true) }
            if part.readableBytes == 0 { part.reserveCapacity(min(size, max(chunk.readableBytes, 64 * 1024))) }
            part.writeBuffer(&chunk)
        }
        return (part, false)
    }

    // MARK: - Formats

    /// An HTTP date (`Wed, 12 Oct 2009 17:50:00 GMT`) as seconds since 1970.
    package static func parseHTTPDate(_ text: String) -> Int64? {
        let fields = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count >= 5, let day = Int64(fields[1]), let monthIndex = months.firstIndex(of: String(fields[2])),
              let year = Int64(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int64($0) }
        guard clock.count == 3 else { return nil }
        let days = S3Signer.daysSinceEpoch(year: year, month: Int64(monthIndex + 1), day: day)
        return days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2]
    }

    package static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".unicodeScalars)
        var result = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0..<4 {
                result.unicodeScalars.append(
                    position <= chunk.count ? alphabet[Int((value >> (18 - 6 * UInt32(position))) & 63)] : "=")
            }
            index += 3
        }
        return result
    }
}
