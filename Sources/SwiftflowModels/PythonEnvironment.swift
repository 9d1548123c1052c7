import Crypto
import Foundation
import Logging
import SwiftflowCore

#if canImport(Glibc)
import Glibc
#endif

/// Which environment a model's Python code runs in (`--env-manager`).
public enum EnvManager: String, Sendable, CaseIterable {
    /// The `python3` on PATH (or `$SWIFTFLOW_PYTHON`), as it is.
    case local
    /// A virtualenv built from the model's `python_env.yaml` and `requirements.txt`, cached by content.
    case virtualenv
    /// A conda environment built from the model's `conda.yaml`, cached by content.
    case conda
}

/// Finds or builds the Python interpreter for a model.
public struct PythonEnvironment: Sendable {
    public let manager: EnvManager
    public let environment: [String: String]
    let logger: Logger

    public init(manager: EnvManager, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        self.manager = manager
        self.environment = environment
        self.logger = logger
    }

    /// The interpreter to run `model`'s workers with, building its environment the first time.
    public func python(for model: MLmodel, in directory: URL) throws -> String {
        switch manager {
        case .local:
            if let python = environment["SWIFTFLOW_PYTHON"], !python.isEmpty { return try executable(python) }
            return try executable("python3")
        case .virtualenv:
            return try virtualenv(model, directory)
        case .conda:
            return try conda(model, directory)
        }
    }

    // MARK: virtualenv

    private func virtualenv(_ model: MLmodel, _ directory: URL) throws -> String {
        let envFile = directory.appendingPathComponent(model.pythonFunction?.virtualenvFile ?? "python_env.yaml")
        var spec: PythonEnvFile
        if let text = try? String(contentsOf: envFile, encoding: .utf8) {
            spec = try PythonEnvFile.parse(yaml: text)
        } else {
            // Models without python_env.yaml: their requirements on the model's Python version.
            spec = PythonEnvFile(python: model.pythonFunction?.pythonVersion, buildDependencies: ["pip"],
                                 dependencies: ["-r requirements.txt"])
        }
        return try virtualenv(spec, directory)
    }

    /// The interpreter of a virtualenv built from `spec` (`-r` files read from `directory`), cached by content.
    public func virtualenv(_ spec: PythonEnvFile, _ directory: URL) throws -> String {
        // `-r file` lines are read here so that the cache key covers the files' content.
        var requirements: [String] = []
        for line in spec.dependencies {
            if line.hasPrefix("-r ") {
                let name = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
                let text = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
                requirements += PythonEnvFile.requirementLines(text)
            } else {
                requirements.append(line)
            }
        }
        let interpreter = try baseInterpreter(version: spec.python)
        let key = ([interpreter.version] + spec.buildDependencies + ["--"] + requirements).joined(separator: "\n")
        let target = cacheDirectory("virtualenv", key: key)
        let python = target.appendingPathComponent("bin/python").path
        try withLock(target) {
            if FileManager.default.fileExists(atPath: target.appendingPathComponent(".ready").path) { return }
            try? FileManager.default.removeItem(at: target)
            logger.info("Creating virtualenv \(target.path) with Python \(interpreter.version)")
            do {
                try run(interpreter.path, ["-m", "venv", target.path])
                if !spec.buildDependencies.isEmpty {
                    try run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + spec.buildDependencies)
                }
                if !requirements.isEmpty {
                    let file = target.appendingPathComponent("requirements.txt")
                    try requirements.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
                    try run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", file.path],
                            directory: directory)
                }
                _ = FileManager.default.createFile(atPath: target.appendingPathComponent(".ready").path, contents: nil)
            } catch {
                try? FileManager.default.removeItem(at: target)
                throw error
            }
        }
        return python
    }

    /// A `pythonX.Y` matching the model's Python version (major and minor), else an error naming it.
    private func baseInterpreter(version: String?) throws -> (path: String, version: String) {
        guard let version else {
            let path = try executable("python3")
            return (path, try pythonVersion(path))
        }
        let parts = version.split(separator: ".")
        let wanted = parts.prefix(2).joined(separator: ".")
        for candidate in ["python\(wanted)", "python3"] {
            if let path = try? executable(candidate), let found = try? pythonVersion(path), found == wanted {
                return (path, found)
            }
        }
        throw SwiftflowError(
            .invalidParameterValue,
            "The model needs Python \(version) (python_env.yaml) but no python\(wanted) was found on PATH. "
                + "Install Python \(wanted), or serve with --env-manager local to use the current python3.")
    }

    public func pythonVersion(_ path: String) throws -> String {
        try capture(path, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: conda

    private func conda(_ model: MLmodel, _ directory: URL) throws -> String {
        try conda(file: directory.appendingPathComponent(model.pythonFunction?.condaFile ?? "conda.yaml"))
    }

    /// The interpreter of a conda environment built from `file`, cached by content.
    public func conda(file: URL) throws -> String {
        let condaBinary: String
        if let home = environment["MLFLOW_CONDA_HOME"], !home.isEmpty,
           FileManager.default.isExecutableFile(atPath: home + "/bin/conda") {
            condaBinary = home + "/bin/conda"
        } else if let path = try? executable("conda") {
            condaBinary = path
        } else {
            throw SwiftflowError(
                .invalidParameterValue,
                "--env-manager conda needs conda, which was not found on PATH or in $MLFLOW_CONDA_HOME/bin. "
                    + "Install Miniconda or Miniforge, or use --env-manager virtualenv or local.")
        }
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw SwiftflowError(.invalidParameterValue, "The model has no conda environment file (\(file.lastPathComponent)).")
        }
        let target = cacheDirectory("conda", key: text)
        try withLock(target) {
            if FileManager.default.fileExists(atPath: target.appendingPathComponent(".ready").path) { return }
            try? FileManager.default.removeItem(at: target)
            logger.info("Creating conda environment \(target.path)")
            do {
                try run(condaBinary, ["env", "create", "--quiet", "--prefix", target.path, "--file", file.path])
                _ = FileManager.default.createFile(atPath: target.appendingPathComponent(".ready").path, contents: nil)
            } catch {
                try? FileManager.default.removeItem(at: target)
                throw error
            }
        }
        return target.appendingPathComponent("bin/python").path
    }

    // MARK: helpers

    private func cacheDirectory(_ kind: String, key: String) -> URL {
        let digest = SHA256.hash(data: Data(key.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        return SwiftflowCache.root(environment).appendingPathComponent("envs/\(kind)-\(digest)")
    }

    /// Holds an exclusive `flock` beside `target` while `body` runs: two servers starting at once build
    /// one environment.
    private func withLock(_ target: URL, _ body: () throws -> Void) throws {
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(target.path + ".lock", O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw SwiftflowError(.internalError, "Could not lock \(target.path).") }
        defer { close(fd) }
        _ = flock(fd, LOCK_EX)
        defer { _ = flock(fd, LOCK_UN) }
        try body()
    }

    /// `name` as an absolute path, searched on PATH when it has no slash.
    public func executable(_ name: String) throws -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else {
                throw SwiftflowError(.invalidParameterValue, "No executable at \(name).")
            }
            return name
        }
        for directory in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw SwiftflowError(.invalidParameterValue, "\(name) was not found on PATH.")
    }

    /// Runs a command with its output on our stderr (stdout may carry `models predict` results).
    private func run(_ path: String, _ arguments: [String], directory: URL? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = FileHandle.standardError
        process.standardError = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SwiftflowError(.internalError,
                                 "\(([path] + arguments).joined(separator: " ")) failed with status \(process.terminationStatus).")
        }
    }

    private func capture(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SwiftflowError(.internalError, "\(path) failed.") }
        return String(decoding: data, as: UTF8.self)
    }
}
