import Foundation
import NIOCore
import SwiftflowArtifacts
import SwiftflowCore
import Testing

/// Chunks handed to `write`, optionally failing after the last one (a client that hangs up).
struct Chunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let parts: [String]
    var failAtEnd = false

    struct HangUp: Error {}

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: [String]
        let failAtEnd: Bool
        mutating func next() async throws -> ByteBuffer? {
            if remaining.isEmpty {
                if failAtEnd { throw HangUp() }
                return nil
            }
            return ByteBuffer(string: remaining.removeFirst())
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: parts, failAtEnd: failAtEnd) }
}

@Suite("Local artifact repository")
struct LocalArtifactRepositoryTests {
    /// A folder holding `root/` (the repository) and `outside/` (somewhere a client must never reach).
    struct Fixture {
        let folder: TemporaryFolder
        let repository: LocalArtifactRepository
        var root: String { folder.path + "/root" }
        var outside: String { folder.path + "/outside" }

        init() throws {
            folder = try TemporaryFolder()
            try FileManager.default.createDirectory(atPath: folder.path + "/root", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: folder.path + "/outside", withIntermediateDirectories: true)
            try "secret".write(toFile: folder.path + "/outside/secret.txt", atomically: true, encoding: .utf8)
            repository = LocalArtifactRepository(root: folder.path + "/root")
        }

        /// Every file under `outside/`, to show that nothing was written there.
        func outsideFiles() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: outside).sorted()
        }

        func link(_ name: String, to target: String) throws {
            try FileManager.default.createSymbolicLink(atPath: root + "/" + name, withDestinationPath: target)
        }
    }

    static func path(_ text: String) throws -> ArtifactPath { try ArtifactPath(validating: text) }

    static func read(_ repository: LocalArtifactRepository, _ text: String, range: Range<Int64>? = nil) async throws -> String {
        var collected = ByteBuffer()
        try await repository.read(try path(text), range: range) { chunk in
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return String(buffer: collected)
    }

    @Test("files round-trip through nested folders, whole or by range")
    func roundTrip() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        try await repository.write(Self.path("a/b/hello.txt"), contents: Chunks(parts: ["hello ", "artifact\n"]))
        try await repository.write(Self.path("a/empty.bin"), contents: Chunks(parts: []))

        #expect(try await Self.read(repository, "a/b/hello.txt") == "hello artifact\n")
        #expect(try await Self.read(repository, "a/b/hello.txt", range: 6..<14) == "artifact")
        #expect(try await repository.attributes(of: Self.path("a/b/hello.txt")).size == 15)
        #expect(try await Self.read(repository, "a/empty.bin") == "")

        let top = try await repository.list(.root)
        #expect(top == [ArtifactFileInfo(path: try Self.path("a"), isDirectory: true, fileSize: nil)])
        let inner = try await repository.list(Self.path("a"))
        #expect(inner.map(\.path.string) == ["a/b", "a/empty.bin"])
        #expect(inner.map(\.fileSize) == [nil, 0])
    }

    @Test("an upload replaces a file whole; a failed one leaves the old file and no temporary file")
    func atomicReplace() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        try await repository.write(Self.path("v.txt"), contents: Chunks(parts: ["v1"]))
        try await repository.write(Self.path("v.txt"), contents: Chunks(parts: ["version-", "2"]))
        #expect(try await Self.read(repository, "v.txt") == "version-2")

        await #expect(throws: Chunks.HangUp.self) {
            try await repository.write(Self.path("v.txt"), contents: Chunks(parts: ["partial"], failAtEnd: true))
        }
        #expect(try await Self.read(repository, "v.txt") == "version-2")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.root) == ["v.txt"])
    }

    @Test("upload temporary names are reserved and hidden from listings")
    func temporaryNames() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        let reserved = await thrownCode {
            try await repository.write(Self.path(".artifact.uploading.x"), contents: Chunks(parts: ["x"]))
        }
        #expect(reserved == .invalidParameterValue)
        try "partial".write(toFile: fixture.root + "/.artifact.uploading.abc", atomically: true, encoding: .utf8)
        try await repository.write(Self.path("kept.txt"), contents: Chunks(parts: ["k"]))
        #expect(try await repository.list(.root).map(\.path.string) == ["kept.txt"])
    }

    @Test("missing files, folders and names in the way are MLflow's 4xx errors")
    func errors() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        try await repository.write(Self.path("d/f.txt"), contents: Chunks(parts: ["f"]))

        #expect(await thrownCode { _ = try await repository.attributes(of: Self.path("nope.txt")) } == .resourceDoesNotExist)
        #expect(await thrownCode { _ = try await repository.attributes(of: Self.path("d")) } == .invalidParameterValue)
        #expect(await thrownCode { _ = try await Self.read(repository, "nope.txt") } == .resourceDoesNotExist)
        // A file where a folder must be, and a folder where the file must be.
        #expect(await thrownCode {
            try await repository.write(Self.path("d/f.txt/g.txt"), contents: Chunks(parts: ["g"]))
        } == .invalidParameterValue)
        #expect(await thrownCode { try await repository.write(Self.path("d"), contents: Chunks(parts: ["g"])) }
            == .invalidParameterValue)
        #expect(await thrownCode { try await repository.write(.root, contents: Chunks(parts: ["g"])) } == .invalidParameterValue)
        #expect(try await repository.list(Self.path("missing")) == [])
        #expect(try await repository.list(Self.path("d/f.txt")) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.root + "/d") == ["f.txt"])
    }

    @Test("delete removes a file or a folder tree, ignores what is missing, and refuses the root")
    func delete() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        try await repository.write(Self.path("t/a/1.txt"), contents: Chunks(parts: ["1"]))
        try await repository.write(Self.path("t/2.txt"), contents: Chunks(parts: ["2"]))
        try await repository.delete(Self.path("t/2.txt"))
        #expect(try await repository.list(Self.path("t")).map(\.path.string) == ["t/a"])
        try await repository.delete(Self.path("t"))
        try await repository.delete(Self.path("never/there"))
        #expect(try await repository.list(.root) == [])
        #expect(await thrownCode { try await repository.delete(.root) } == .invalidParameterValue)
        #expect(FileManager.default.fileExists(atPath: fixture.root))
    }

    @Test("symbolic links that lead out of the root are refused for every operation")
    func symlinkEscape() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        try fixture.link("out", to: fixture.outside)
        try fixture.link("secret-link.txt", to: fixture.outside + "/secret.txt")
        try fixture.link("dangling", to: fixture.folder.path + "/nowhere")

        let operations: [(String, () async throws -> Void)] = [
            ("write through a linked folder", { try await repository.write(Self.path("out/new.txt"), contents: Chunks(parts: ["x"])) }),
            ("write deeper through it", { try await repository.write(Self.path("out/a/b.txt"), contents: Chunks(parts: ["x"])) }),
            ("overwrite through it", { try await repository.write(Self.path("out/secret.txt"), contents: Chunks(parts: ["x"])) }),
            ("write over a linked file", { try await repository.write(Self.path("secret-link.txt"), contents: Chunks(parts: ["x"])) }),
            ("write through a dangling link", { try await repository.write(Self.path("dangling/x.txt"), contents: Chunks(parts: ["x"])) }),
            ("read through a linked folder", { _ = try await Self.read(repository, "out/secret.txt") }),
            ("read a linked file", { _ = try await Self.read(repository, "secret-link.txt") }),
            ("stat a linked file", { _ = try await repository.attributes(of: Self.path("secret-link.txt")) }),
            ("list a linked folder", { _ = try await repository.list(Self.path("out")) }),
            ("delete through a linked folder", { try await repository.delete(Self.path("out/secret.txt")) }),
            ("delete a linked folder", { try await repository.delete(Self.path("out")) }),
        ]
        for (name, operation) in operations {
            #expect(await thrownCode(operation) == .invalidParameterValue, "\(name)")
        }
        #expect(try fixture.outsideFiles() == ["secret.txt"])
        #expect(try String(contentsOfFile: fixture.outside + "/secret.txt", encoding: .utf8) == "secret")
    }

    @Test("symbolic links that stay inside the root are followed")
    func symlinkInside() async throws {
        let fixture = try Fixture()
        defer { fixture.folder.remove() }
        let repository = fixture.repository
        try await repository.write(Self.path("real/f.txt"), contents: Chunks(parts: ["inside"]))
        try fixture.link("alias", to: fixture.root + "/real")
        #expect(try await Self.read(repository, "alias/f.txt") == "inside")
        #expect(try await repository.list(Self.path("alias")).map(\.path.string) == ["alias/f.txt"])
    }
}
