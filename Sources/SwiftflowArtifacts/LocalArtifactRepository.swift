#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import SwiftflowCore
import _NIOFileSystem

/// Artifacts as files under one local folder, as MLflow's `LocalArtifactRepository` keeps them.
///
/// File contents stream through `_NIOFileSystem` in chunks; the few metadata calls (resolving links,
/// creating folders, listing, renaming) run as blocking system calls on NIO's thread pool, off the
/// event loops. A path is confined twice: its text by `ArtifactPath`, and its symbolic links here,
/// by resolving them and refusing any path that ends up outside the root (MLflow's
/// `validate_path_within_directory`).
public struct LocalArtifactRepository: ArtifactRepository {
    /// The folder, absolute; created on the first write.
    public let root: String

    /// Uploads are written under this prefix beside their destination and renamed into place;
    /// MLflow uses the same name, refuses it for uploads and hides it from listings.
    public static let temporaryPrefix = ".artifact.uploading."
    static let chunkLength = ByteCount.kibibytes(256)
    static let writeBufferSize = ByteCount.mebibytes(1)

    private let fileSystem: FileSystem
    private let threadPool: NIOThreadPool

    /// - Parameters:
    ///   - root: the folder; a relative path is taken from the current directory.
    public init(root: String, threadPool: NIOThreadPool = .singleton) {
        self.root = Self.absolute(root)
        self.threadPool = threadPool
        self.fileSystem = FileSystem(threadPool: threadPool)
    }

    // MARK: - ArtifactRepository

    public func write<Contents: AsyncSequence>(_ path: ArtifactPath, contents: Contents) async throws
    where Contents.Element == ByteBuffer {
        guard let name = path.name else {
            throw SwiftflowError.invalidParameter("Artifact path must include a filename (cannot end with '/').")
        }
        if name.hasPrefix(Self.temporaryPrefix) {
            throw SwiftflowError.invalidParameter(
                "Invalid artifact file name: '\(name)'. Artifact names starting with '\(Self.temporaryPrefix)' are reserved.")
        }
        let (destination, temporary) = try await run { [root] in
            let destination = try Self.confine(path, in: root)
            try Self.createDirectories(path.parent, in: root)
            return (destination, Self.fileName(in: path.parent, root: root, Self.temporaryPrefix + Self.randomSuffix()))
        }
        do {
            let options = OpenOptions.Write(
                existingFile: .none, newFile: OpenOptions.NewFile(permissions: nil, transactionalCreation: false))
            try await fileSystem.withFileHandle(forWritingAt: FilePath(temporary), options: options) { handle in
                try await handle.withBufferedWriter(capacity: Self.writeBufferSize) { writer in
                    for try await chunk in contents {
                        _ = try await writer.write(contentsOf: chunk)
                    }
                }
            }
            try await run {
                if rename(temporary, destination) != 0 {
                    throw Self.error(errno, "Cannot store '\(path)'", isDirectoryMessage: "'\(path)' is a directory")
                }
            }
        } catch {
            _ = try? await fileSystem.removeItem(at: FilePath(temporary), strategy: .platformDefault, recursively: false)
            throw Self.translate(error, path: path)
        }
    }

    public func attributes(of path: ArtifactPath) async throws -> ArtifactAttributes {
        try await run { [root] in
            let file = try Self.confine(path, in: root)
            var status = stat()
            guard stat(file, &status) == 0 else {
                throw errno == ENOENT || errno == ENOTDIR
                    ? SwiftflowError.notFound("No such artifact: '\(path)'") : Self.error(errno, "Cannot read '\(path)'")
            }
            if (status.st_mode & S_IFMT) == S_IFDIR {
                throw SwiftflowError.invalidParameter("Artifact path refers to a directory, not a file: '\(path)'")
            }
            #if canImport(Darwin)
            let modified = status.st_mtimespec
            #else
            let modified = status.st_mtim
            #endif
            return ArtifactAttributes(
                size: Int64(status.st_size), modificationTime: Int64(modified.tv_sec),
                modificationNanoseconds: Int(modified.tv_nsec))
        }
    }

    public func read(_ path: ArtifactPath, range: Range<Int64>?, into consume: (ByteBuffer) async throws -> Void) async throws {
        let file = try await run { [root] in try Self.confine(path, in: root) }
        do {
            try await fileSystem.withFileHandle(forReadingAt: FilePath(file)) { handle in
                for try await chunk in handle.readChunks(in: range ?? 0..<Int64.max, chunkLength: Self.chunkLength) {
                    try await consume(chunk)
                }
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    public func list(_ path: ArtifactPath) async throws -> [ArtifactFileInfo] {
        try await run { [root] in
            let folder = try Self.confine(path, in: root)
            guard let directory = opendir(folder) else { return [] }
            defer { closedir(directory) }
            var entries: [ArtifactFileInfo] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." || name.hasPrefix(Self.temporaryPrefix) { continue }
                // Like MLflow, a link is listed as what it points to.
                var status = stat()
                guard stat(folder + "/" + name, &status) == 0 else { continue }
                let isDirectory = (status.st_mode & S_IFMT) == S_IFDIR
                entries.append(ArtifactFileInfo(
                    path: path.appending(listedName: name), isDirectory: isDirectory,
                    fileSize: isDirectory ? nil : Int64(status.st_size)))
            }
            return entries.sorted { $0.path.string < $1.path.string }
        }
    }

    public func delete(_ path: ArtifactPath) async throws {
        // MLflow would delete the whole store here; one request should not be able to.
        if path.isRoot { throw SwiftflowError.invalidParameter("The artifact root cannot be deleted.") }
        let target = try await run { [root] in try Self.confine(path, in: root) }
        do {
            // Removes a link itself, never what it points to.
            _ = try await fileSystem.removeItem(at: FilePath(target), strategy: .platformDefault, recursively: true)
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    // MARK: - Confinement

    /// The file-system path of `path`, once its symbolic links are known to stay inside `root`.
    ///
    /// The deepest part of the path that exists is resolved with `realpath`; the rest does not exist yet,
    /// so it holds no link. A link that leads nowhere is refused, as its target cannot be checked.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` "Invalid path: resolved path is outside the artifact directory".
    static func confine(_ path: ArtifactPath, in root: String) throws(SwiftflowError) -> String {
        // `ArtifactPath` never holds these; checked again because the part of the path that does not
        // exist yet is compared as text below.
        if path.segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.contains("/") }) {
            throw SwiftflowError.invalidParameter("Invalid path")
        }
        let full = fileName(in: path, root: root)
        guard let realRoot = realPath(root) else { return full }  // no root yet: nothing under it exists
        var existing = path.segments
        var missing: [String] = []
        var status = stat()
        while !existing.isEmpty, lstat(root + "/" + existing.joined(separator: "/"), &status) != 0 {
            missing.insert(existing.removeLast(), at: 0)
        }
        let outside = SwiftflowError.invalidParameter("Invalid path: resolved path is outside the artifact directory")
        guard let resolved = realPath(existing.isEmpty ? root : root + "/" + existing.joined(separator: "/")) else {
            throw outside
        }
        let target = missing.isEmpty ? resolved : resolved + "/" + missing.joined(separator: "/")
        guard target == realRoot || target.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else { throw outside }
        return full
    }

    /// Creates the folders of `path` one by one below `root` (and `root` itself).
    static func createDirectories(_ path: ArtifactPath, in root: String) throws(SwiftflowError) {
        var current = ""
        for component in root.split(separator: "/").map(String.init) + path.segments {
            current += "/" + component
            if mkdir(current, 0o777) == 0 || errno != EEXIST { continue }
            var status = stat()
            if stat(current, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR { continue }
            throw SwiftflowError.invalidParameter(
                "Cannot create the directory '\(path)': a file is in the way at '\(current.dropFirst(root.count + 1))'.")
        }
        var status = stat()
        guard stat(fileName(in: path, root: root), &status) == 0 else {
            throw error(errno, "Cannot create the directory '\(path)'")
        }
    }

    // MARK: - Helpers

    static func fileName(in path: ArtifactPath, root: String, _ name: String? = nil) -> String {
        let segments = path.segments + (name.map { [$0] } ?? [])
        return segments.isEmpty ? root : (root == "/" ? "" : root) + "/" + segments.joined(separator: "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" + path }
        let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let relative = path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        return relative.isEmpty ? cwd : (cwd == "/" ? "" : cwd) + "/" + relative
    }

    static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    /// A failed system call as MLflow's error codes: a missing file, a name in the way, or an internal error.
    static func error(_ code: Int32, _ message: String, isDirectoryMessage: String? = nil) -> SwiftflowError {
        switch code {
        case ENOENT: SwiftflowError.notFound(message + ": no such file or directory.")
        case EISDIR: SwiftflowError.invalidParameter(isDirectoryMessage ?? message + ": it is a directory.")
        case ENOTDIR, EEXIST, ENOTEMPTY: SwiftflowError.invalidParameter(message + ": a file is in the way.")
        case ENAMETOOLONG: SwiftflowError.invalidParameter(message + ": the name is too long.")
        default: SwiftflowError(.internalError, message + ".", cause: SystemError(code: code))
        }
    }

    /// Turns `_NIOFileSystem` errors into MLflow's codes at the repository's boundary.
    static func translate(_ error: any Error, path: ArtifactPath) -> any Error {
        guard let error = error as? FileSystemError else { return error }
        switch error.code {
        case .notFound: return SwiftflowError.notFound("No such artifact: '\(path)'")
        case .fileAlreadyExists, .notEmpty, .invalidArgument:
            return SwiftflowError.invalidParameter("Cannot use the artifact path '\(path)': \(error.message)")
        default: return SwiftflowError(.internalError, "Artifact I/O failed for '\(path)'.", cause: error)
        }
    }

    /// Runs blocking file-system calls on the thread pool.
    private func run<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await threadPool.runIfActive(body)
    }
}

/// An `errno` value, kept as the cause of an internal error.
struct SystemError: Error, CustomStringConvertible {
    let code: Int32
    var description: String { String(cString: strerror(code)) + " (errno \(code))" }
}
