import Crypto
import Foundation
import Logging
import SwiftflowCore

#if canImport(Glibc)
import Glibc
#endif

/// One Python worker process and the pipes to it. Its I/O is blocking and happens on the pool's
/// thread for this worker only.
final class WorkerProcess: @unchecked Sendable {
    let slot: Int
    private let process: Process
    private let toWorker: Int32
    private let fromWorker: Int32
    private let lock = NSLock()
    private var busyUntil: ContinuousClock.Instant?
    private var killedForTimeout = false

    init(launch: WorkerLaunch, slot: Int, logger: Logger) throws {
        self.slot = slot
        signal(SIGPIPE, SIG_IGN)
        let script = try launch.script ?? WorkerScript.path(environment: launch.environment)
        let input = Pipe()
        let output = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: launch.python)
        process.arguments = ["-u", script, "serve", launch.modelDirectory]
        process.environment = launch.environment
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            throw SwiftflowError(.internalError, "Could not start the model worker '\(launch.python)': \(error)")
        }
        // Our own copies of the pipe ends, closed with this object.
        toWorker = dup(input.fileHandleForWriting.fileDescriptor)
        fromWorker = dup(output.fileHandleForReading.fileDescriptor)
        try? input.fileHandleForWriting.close()
        try? input.fileHandleForReading.close()
        try? output.fileHandleForReading.close()
        try? output.fileHandleForWriting.close()
        logger.debug("Model worker \(slot) started as process \(process.processIdentifier).")
    }

    deinit {
        close(toWorker)
        close(fromWorker)
    }

    /// Waits for the worker's first frame: the model loaded (its mlflow version) or the load error.
    func handshake() async throws -> String {
        let frame: [UInt8]? = await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in continuation.resume(returning: readFrame()) }
        }
        guard let frame, case .object(let hello)? = try? JSONParser.parse(frame) else {
            kill()
            throw SwiftflowError(.internalError,
                                 "The model worker exited before loading the model (\(exitDescription())).")
        }
        guard hello["ok"] == .bool(true) else {
            kill()
            let reason: String = if case .string(let text)? = hello["error"] { text } else { "unknown error" }
            throw SwiftflowError(.internalError, "The model worker could not load the model: \(reason)")
        }
        if case .string(let version)? = hello["mlflow_version"] { return version }
        return ""
    }

    /// Sends one frame and reads the answer; nil when the worker died or was killed.
    func exchange(_ frame: [UInt8]) -> [UInt8]? {
        var length: [UInt8] = []
        WorkerFrame.appendUInt32(&length, UInt32(frame.count))
        guard writeAll(length), writeAll(frame) else { return nil }
        return readFrame()
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(toWorker, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBytes { buffer -> Bool in
            var offset = 0
            while offset < count {
                let got = read(fromWorker, buffer.baseAddress! + offset, count - offset)
                if got < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if got == 0 { return false }
                offset += got
            }
            return true
        }
        return ok ? bytes : nil
    }

    private func readFrame() -> [UInt8]? {
        guard let header = readExactly(4) else { return nil }
        let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        return readExactly(length)
    }

    func markBusy(until deadline: ContinuousClock.Instant) {
        lock.lock(); busyUntil = deadline; lock.unlock()
    }

    func markIdle() {
        lock.lock(); busyUntil = nil; lock.unlock()
    }

    var overran: Bool {
        lock.lock(); defer { lock.unlock() }
        guard let busyUntil else { return false }
        return busyUntil <= .now && !killedForTimeout
    }

    var timedOut: Bool { lock.lock(); defer { lock.unlock() }; return killedForTimeout }

    func killForTimeout() {
        lock.lock(); killedForTimeout = true; lock.unlock()
        kill()
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    func exitDescription() -> String {
        // Give the reaper a moment so the status is known.
        for _ in 0..<20 where process.isRunning { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { return "still running" }
        switch process.terminationReason {
        case .uncaughtSignal: return "killed by signal \(process.terminationStatus)"
        default: return "exit status \(process.terminationStatus)"
        }
    }
}

/// The worker script, written once per content into the cache so Python can run it from a file.
enum WorkerScript {
    static func path(environment: [String: String]) throws -> String {
        let bytes = PackageResources.worker_py
        let digest = SHA256.hash(data: Data(bytes)).prefix(8).map { String(format: "%02x", $0) }.joined()
        let directory = SwiftflowCache.root(environment).appendingPathComponent("worker")
        let file = directory.appendingPathComponent("worker-\(digest).py")
        if FileManager.default.fileExists(atPath: file.path) { return file.path }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let partial = directory.appendingPathComponent(".worker-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try Data(bytes).write(to: partial)
        if rename(partial.path, file.path) != 0 { try? FileManager.default.removeItem(at: partial) }
        return file.path
    }
}

extension WorkerLaunch {
    /// Runs MLflow's `models predict` code in the model environment once; answers its exit status.
    /// `input` / `output` are paths, or `-` for stdin / stdout.
    public func predict(input: String, output: String, contentType: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-u", try WorkerScript.path(environment: environment), "predict", modelDirectory,
                             input, output, contentType]
        process.environment = environment
        process.standardInput = FileHandle.standardInput
        process.standardOutput = FileHandle.standardOutput
        process.standardError = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
