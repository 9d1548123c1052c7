import Dispatch
import Foundation
import SwiftflowCore

#if canImport(Glibc)
import Glibc
#endif

/// A project's command: its own process group, our stdin/stdout/stderr (so output streams live), and
/// Ctrl-C (SIGINT) or SIGTERM to us stops the whole group.
enum ChildProcess {
    enum Outcome: Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// We were interrupted and stopped the command.
        case interrupted
    }

    static func run(_ argv: [String], directory: URL, environment: [String: String]) async throws -> Outcome {
        let executable: String
        if argv[0].contains("/") {
            executable = argv[0]
        } else {
            let path = environment["PATH"] ?? "/usr/bin:/bin"
            guard let found = path.split(separator: ":").map({ "\($0)/\(argv[0])" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw SwiftflowError.invalidParameter("\(argv[0]) was not found on PATH.")
            }
            executable = found
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own: the terminal's Ctrl-C reaches us, and we stop the whole group.
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // Our threads may block signals; the command starts with none blocked.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        // Our handlers below replace the default action; the child gets defaults (setsigdefault).
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var spawned: pid_t = 0
        // The child starts in the project folder (posix_spawn has no portable chdir action): this is the
        // command line's only work, so changing ours for the spawn is harmless.
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(directory.path)
        let status = posix_spawn(&spawned, executable, &actions, &attributes, arguments, variables)
        _ = FileManager.default.changeCurrentDirectoryPath(previous)
        let pid = spawned
        guard status == 0 else {
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            throw SwiftflowError.invalidParameter("Could not start \(argv[0]): \(String(cString: strerror(status))).")
        }
        let interrupted = Flag()
        let queue = DispatchQueue(label: "swiftflow.run.signals")
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                interrupted.set()
                kill(-pid, SIGTERM)
                // A command that ignores SIGTERM is killed after 5 seconds.
                queue.asyncAfter(deadline: .now() + 5) { kill(-pid, SIGKILL) }
            }
            source.resume()
            return source
        }
        defer {
            sources.forEach { $0.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        let waitStatus: Int32 = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        if interrupted.isSet { return .interrupted }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are macros in C).
        if waitStatus & 0x7F == 0 { return .exited((waitStatus >> 8) & 0xFF) }
        return .signaled(waitStatus & 0x7F)
    }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
