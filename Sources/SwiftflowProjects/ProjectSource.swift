import Foundation
import SwiftflowCore

/// Where a project's files are, fetched as `mlflow run` fetches them, and what git says of them.
public struct ProjectSource: Sendable {
    /// The folder the entry point runs in (the `#subdir` of a clone, or the local folder itself).
    public var directory: URL
    /// `mlflow.source.name`.
    public var sourceName: String
    public var gitCommit: String?
    public var gitRepoURL: String?
    /// `--version` when it names a branch (`mlflow.source.git.branch`).
    public var gitBranch: String?

    /// Fetches `uri` (a local folder, or a git URI: `https://…`, `file://…`, `git@…`, `ssh://…`, each with an
    /// optional `#subdir`) at `version` (a branch, tag or commit; git only).
    public static func fetch(_ uri: String, version: String?) throws(SwiftflowError) -> ProjectSource {
        let stripped = uri.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        var location = stripped
        var subdirectory = ""
        if let hash = stripped.firstIndex(of: "#") {
            location = String(stripped[..<hash])
            subdirectory = String(stripped[stripped.index(after: hash)...])
        }
        if subdirectory.contains(".") {
            throw .invalidParameter("'.' is not allowed in project subdirectory paths.")
        }
        let localPath = location.hasPrefix("file://") ? String(location.dropFirst("file://".count)) : location
        let isLocal = FileManager.default.fileExists(atPath: localPath)
        var root: URL
        if isLocal && version == nil {
            root = URL(fileURLWithPath: localPath).standardizedFileURL
        } else {
            if isLocal, (try? Git.run(["rev-parse", "--git-dir"], in: URL(fileURLWithPath: localPath))) == nil {
                throw .invalidParameter("Setting a version is only supported for Git project URIs")
            }
            // The URI as given becomes the clone's origin, which MLflow records as the repository URL.
            root = try clone(location, version: version)
        }
        let directory = subdirectory.isEmpty ? root : root.appendingPathComponent(subdirectory)
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw .invalidParameter("Could not find subdirectory \(subdirectory) of \(root.path)")
        }
        var source = ProjectSource(directory: directory.standardizedFileURL, sourceName: stripped)
        source.gitCommit = try? Git.run(["rev-parse", "HEAD"], in: directory)
        if let remote = (try? Git.run(["remote"], in: directory))?.split(separator: "\n").first {
            source.gitRepoURL = try? Git.run(["remote", "get-url", String(remote)], in: directory)
        }
        if let version, (try? Git.run(["rev-parse", "--verify", "--quiet", "refs/heads/\(version)"], in: directory)) != nil {
            source.gitBranch = version
        }
        // A local folder is named by its git repository when it is in one: file://<top>#<path inside>.
        if isLocal && !stripped.contains("#"), let top = try? Git.run(["rev-parse", "--show-toplevel"], in: directory) {
            let inside = directory.path.hasPrefix(top) ? String(directory.path.dropFirst(top.count)) : ""
            let relative = inside.hasPrefix("/") ? String(inside.dropFirst()) : inside
            source.sourceName = "file://\(top)" + (relative.isEmpty ? "" : "#\(relative)")
        } else if isLocal && !stripped.contains("#") {
            source.sourceName = URL(fileURLWithPath: localPath).standardizedFileURL.path
        }
        return source
    }

    /// Clones into a fresh temporary folder and checks out `version` (else the default branch).
    private static func clone(_ location: String, version: String?) throws(SwiftflowError) -> URL {
        let target = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftflow-project-\(UUID().uuidString.prefix(8).lowercased())")
        FileHandle.standardError.write(Data("=== Fetching project from \(location) into \(target.path) ===\n".utf8))
        do {
            _ = try Git.run(["clone", "--quiet", location, target.path], in: nil)
            if let version {
                _ = try Git.run(["checkout", "--quiet", version], in: target)
            }
            _ = try Git.run(["submodule", "update", "--init", "--recursive", "--quiet"], in: target)
        } catch {
            if let version {
                throw .invalidParameter("Unable to checkout version '\(version)' of git repo \(location)- please ensure that "
                                        + "the version exists in the repo. Error: \(error.message)")
            }
            throw error
        }
        return target
    }
}

/// The system `git`.
enum Git {
    static func run(_ arguments: [String], in directory: URL?) throws(SwiftflowError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        if let directory { process.currentDirectoryURL = directory }
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw .invalidParameter("git could not be started (is it installed?): \(error)")
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .invalidParameter("git \(arguments.joined(separator: " ")) failed: "
                                    + String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
