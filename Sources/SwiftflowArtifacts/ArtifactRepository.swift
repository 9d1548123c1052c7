import NIOCore
import SwiftflowCore

/// A store of artifact files addressed by relative paths: a local folder or an S3-compatible bucket.
///
/// Contents move as streams of `ByteBuffer`s in both directions, so no implementation holds a whole
/// file in memory. Errors are `SwiftflowError`s with MLflow's codes.
public protocol ArtifactRepository: Sendable {
    /// Stores `contents` as the file at `path`, replacing any file there and creating the folders above it.
    ///
    /// Readers see the old file or the whole new one, never a part; a failed or cancelled upload leaves
    /// nothing behind.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` for the root, a reserved file name, a path that crosses or
    ///   names a folder, or one whose symbolic links lead outside the repository.
    func write<Contents: AsyncSequence>(_ path: ArtifactPath, contents: Contents) async throws
    where Contents.Element == ByteBuffer

    /// The size and modification time of the file at `path`, read before a download starts.
    ///
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` ("No such artifact: ..."); `INVALID_PARAMETER_VALUE` for a folder.
    func attributes(of path: ArtifactPath) async throws -> ArtifactAttributes

    /// Streams the bytes of the file at `path` (all of them, or `range`) to `consume`, one chunk at a time.
    ///
    /// The repository pushes chunks rather than handing out a sequence so that it opens and closes the
    /// file itself, whatever the consumer does; `consume` applies the back-pressure (a socket write).
    ///
    /// - Throws: `RESOURCE_DOES_NOT_EXIST`; whatever `consume` throws.
    func read(_ path: ArtifactPath, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws

    /// The entries directly inside the folder at `path`, sorted by path; empty if there is no such folder
    /// (or `path` is a file), as MLflow answers.
    func list(_ path: ArtifactPath) async throws -> [ArtifactFileInfo]

    /// Deletes the file or the whole folder at `path`; nothing happens if there is none.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` for the root.
    func delete(_ path: ArtifactPath) async throws
}

/// A repository that clients can upload a large file to in parts, straight to the storage (MLflow's
/// `mpu` endpoints): the server starts the upload and hands out one presigned URL per part, the client
/// PUTs the parts and hands back their entity tags.
public protocol MultipartUploadRepository: ArtifactRepository {
    /// Starts an upload of the file at `path` in `parts` parts.
    func createMultipartUpload(_ path: ArtifactPath, parts: Int) async throws -> MultipartUpload
    /// Makes the uploaded parts, in order, the file at `path`.
    func completeMultipartUpload(_ path: ArtifactPath, uploadId: String, parts: [MultipartUploadPart]) async throws
    /// Drops an upload and the parts sent so far.
    func abortMultipartUpload(_ path: ArtifactPath, uploadId: String) async throws
}

/// A started multipart upload.
public struct MultipartUpload: Hashable, Sendable {
    public var uploadId: String
    /// The URL each part goes to by PUT: part 1 first.
    public var partURLs: [String]

    public init(uploadId: String, partURLs: [String]) {
        self.uploadId = uploadId
        self.partURLs = partURLs
    }
}

/// An uploaded part: its number (from 1) and the entity tag its PUT answered.
public struct MultipartUploadPart: Hashable, Sendable {
    public var number: Int
    public var etag: String

    public init(number: Int, etag: String) {
        self.number = number
        self.etag = etag
    }
}

/// One entry of a listing.
public struct ArtifactFileInfo: Hashable, Sendable {
    /// The entry's path from the repository root.
    public var path: ArtifactPath
    public var isDirectory: Bool
    /// A file's size in bytes; nil for a folder.
    public var fileSize: Int64?

    public init(path: ArtifactPath, isDirectory: Bool, fileSize: Int64?) {
        self.path = path
        self.isDirectory = isDirectory
        self.fileSize = fileSize
    }
}

/// What a download must know before its first byte.
public struct ArtifactAttributes: Hashable, Sendable {
    public var size: Int64
    /// Seconds since 1970-01-01 UTC.
    public var modificationTime: Int64
    /// Nanoseconds within `modificationTime`, for an entity tag that changes with every write.
    public var modificationNanoseconds: Int

    public init(size: Int64, modificationTime: Int64, modificationNanoseconds: Int = 0) {
        self.size = size
        self.modificationTime = modificationTime
        self.modificationNanoseconds = modificationNanoseconds
    }
}
