import Foundation
import SwiftflowCore

/// The official `mlflow server`, started from the executable named in `SWIFTFLOW_TEST_MLFLOW` (the
/// conformance venv's `bin/mlflow`; `scripts/test.sh` sets it), on a free port over a data folder, as the
/// conformance suite's `reference.sh` starts it.
final class ReferenceServer {
    let port: Int
    let process = Process()

    static var executable: String? {
        guard let path = ProcessInfo.processInfo.environment["SWIFTFLOW_TEST_MLFLOW"], !path.isEmpty else { return nil }
        return path
    }

    private init(executable: String, dataFolder: String) throws {
        port = try ServerProcess.freePort()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "server", "--host", "127.0.0.1", "--port", String(port), "--workers", "1",
            "--backend-store-uri", "sqlite:///\(dataFolder)/mlflow.db", "--artifacts-destination", dataFolder + "/artifacts",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: dataFolder)
        let log = FileHandle(forWritingAtPath: dataFolder + "/server.log")
            ?? { FileManager.default.createFile(atPath: dataFolder + "/server.log", contents: nil)
                 return FileHandle(forWritingAtPath: dataFolder + "/server.log") }()
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Starts the server and waits (up to 120 s: the first start migrates its database) until it answers.
    static func started(dataFolder: String) async throws -> ReferenceServer {
        guard let executable else {
            throw SwiftflowError(.internalError, "SWIFTFLOW_TEST_MLFLOW names no mlflow executable")
        }
        let server = try ReferenceServer(executable: executable, dataFolder: dataFolder)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let (_, status) = try? await HTTP.send("GET", server.base + "/health"), status == 200 { return server }
            guard server.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        server.stop()
        let log = (try? String(contentsOfFile: dataFolder + "/server.log", encoding: .utf8)) ?? ""
        throw SwiftflowError(.internalError, "mlflow server did not start:\n\(log.suffix(2000))")
    }

    /// Stops the server and the workers it forked (uvicorn/gunicorn children share its process group
    /// only when started so; terminate the parent and give it time to stop them).
    func stop() {
        guard process.isRunning else { return }
        let children = Self.descendants(of: process.processIdentifier)
        process.terminate()
        for child in children { kill(child, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for child in children { kill(child, SIGKILL) }
        process.waitUntilExit()
    }

    /// Every process below `root`, read from /proc (the server runs uvicorn as a child process).
    static func descendants(of root: Int32) -> [Int32] {
        var parents: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[parent, default: []].append(pid) }
        }
        var found: [Int32] = []
        var queue = [root]
        while let next = queue.popLast() {
            for child in parents[next] ?? [] {
                found.append(child)
                queue.append(child)
            }
        }
        return found
    }
}

/// A loopback HTTP server answering each request with the next scripted reply, then closing the
/// connection: for the client's retry rules.
final class ScriptedHTTPServer: Sendable {
    struct Reply {
        var status: Int
        var headers: [String: String] = [:]
        var body: String = ""
    }

    private final class Script: @unchecked Sendable {
        let lock = NSLock()
        var replies: [Reply]
        var received: [String] = []
        init(_ replies: [Reply]) { self.replies = replies }
    }

    let port: Int
    private let fd: Int32
    private let script: Script

    /// Request lines received so far (`POST /api/2.0/mlflow/…`).
    var requests: [String] { script.lock.withLock { script.received } }

    init(_ replies: [Reply]) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound, listen(fd, 16) == 0 else { throw SwiftflowError(.internalError, "cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let script = Script(replies)
        self.script = script
        Thread.detachNewThread { Self.serve(fd, script) }
    }

    private static func serve(_ fd: Int32, _ script: Script) {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            // Read the head, then as many body bytes as Content-Length says.
            while true {
                let count = read(client, &buffer, buffer.count)
                if count <= 0 { break }
                data.append(contentsOf: buffer[0..<count])
                let text = String(decoding: data, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { continue }
                let head = text[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length <= data.count { break }
            }
            let line = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
            let reply: Reply = script.lock.withLock {
                script.received.append(line)
                return script.replies.isEmpty ? Reply(status: 500, body: "no more replies") : script.replies.removeFirst()
            }
            var response = "HTTP/1.1 \(reply.status) Scripted\r\nContent-Length: \(reply.body.utf8.count)\r\n"
            response += "Content-Type: application/json\r\nConnection: close\r\n"
            for (name, value) in reply.headers { response += "\(name): \(value)\r\n" }
            response += "\r\n" + reply.body
            let bytes = Array(response.utf8)
            _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            close(client)
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
