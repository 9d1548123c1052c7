import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import SwiftflowArtifacts
import SwiftflowCore
import Testing

@Suite("S3 configuration")
struct S3ConfigurationTests {
    @Test("MLflow's variables: credentials, region, endpoint and TLS checks")
    func environment() throws {
        let configuration = try S3Configuration(environment: [
            "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
            "MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9000/", "MLFLOW_S3_IGNORE_TLS": "true",
        ])
        #expect(configuration.credentials == S3Credentials(accessKeyId: "id", secretAccessKey: "secret", sessionToken: "token"))
        #expect(configuration.region == "us-east-1")
        #expect(configuration.endpoint == "http://127.0.0.1:9000")
        #expect(configuration.ignoreTLS)
        let aws = try S3Configuration(environment: [
            "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_DEFAULT_REGION": "eu-west-3",
        ])
        #expect(aws.region == "eu-west-3" && aws.endpoint == nil && !aws.ignoreTLS && aws.credentials.sessionToken == nil)
        #expect(throws: SwiftflowError.self) { try S3Configuration(environment: ["AWS_ACCESS_KEY_ID": "id"]) }
        #expect(throws: SwiftflowError.self) {
            try S3Configuration(environment: [
                "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s", "MLFLOW_S3_ENDPOINT_URL": "localhost:9000",
            ])
        }
    }

    @Test("s3:// URIs: bucket and prefix")
    func location() throws {
        #expect(try S3Location(uri: "s3://bucket") == S3Location(bucket: "bucket", prefix: ""))
        #expect(try S3Location(uri: "s3://bucket/a/b/") == S3Location(bucket: "bucket", prefix: "a/b"))
        #expect(try S3Location(uri: "s3://bucket//a").prefix == "a")
        #expect(throws: SwiftflowError.self) { try S3Location(uri: "s3:///a") }
        #expect(throws: SwiftflowError.self) { try S3Location(uri: "gs://bucket") }
    }

    @Test("HTTP dates and Base64, as S3 headers need them")
    func formats() {
        #expect(S3ArtifactRepository.parseHTTPDate("Fri, 24 May 2013 00:00:00 GMT") == 1_369_353_600)
        #expect(S3ArtifactRepository.parseHTTPDate("garbage") == nil)
        #expect(S3ArtifactRepository.base64(Array("f".utf8)) == "Zg==")
        #expect(S3ArtifactRepository.base64(Array("fo".utf8)) == "Zm8=")
        #expect(S3ArtifactRepository.base64(Array("foobar".utf8)) == "Zm9vYmFy")
    }
}

/// `count` deterministic bytes in chunks of `chunk` bytes, optionally failing at the end (a client that hangs up).
struct GeneratedBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let count: Int
    var chunk = 256 * 1024
    var failAtEnd = false

    static func byte(at index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ index >> 11) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let sequence: GeneratedBytes
        var offset = 0
        mutating func next() async throws -> ByteBuffer? {
            guard offset < sequence.count else {
                if sequence.failAtEnd { throw Chunks.HangUp() }
                return nil
            }
            let length = Swift.min(sequence.chunk, sequence.count - offset)
            var buffer = ByteBuffer()
            buffer.writeBytes((offset..<(offset + length)).map(GeneratedBytes.byte(at:)))
            offset += length
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sequence: self) }
}

/// Against a real S3-compatible server: `SWIFTFLOW_TEST_S3_ENDPOINT` (scripts/s3.sh starts moto and
/// scripts/test.sh sets it), bucket `SWIFTFLOW_TEST_S3_BUCKET` (default swiftflow-test). Each test works
/// under a prefix of its own.
@Suite(
    "S3 artifact repository (live)",
    .enabled(if: ProcessInfo.processInfo.environment["SWIFTFLOW_TEST_S3_ENDPOINT"] != nil),
    .serialized)
struct S3ArtifactRepositoryTests {
    static var configuration: S3Configuration {
        let environment = ProcessInfo.processInfo.environment
        return S3Configuration(
            credentials: S3Credentials(
                accessKeyId: environment["AWS_ACCESS_KEY_ID"] ?? "testing",
                secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"] ?? "testing"),
            region: environment["AWS_DEFAULT_REGION"] ?? "us-east-1",
            endpoint: environment["SWIFTFLOW_TEST_S3_ENDPOINT"])
    }

    static let bucket = ProcessInfo.processInfo.environment["SWIFTFLOW_TEST_S3_BUCKET"] ?? "swiftflow-test"

    /// Runs `body` with a repository under a fresh prefix, its client shut down afterwards.
    static func withRepository(
        bucket: String = Self.bucket, partSize: Int = 5 * 1024 * 1024,
        _ body: (S3ArtifactRepository) async throws -> Void
    ) async throws {
        let client = S3ArtifactRepository.makeHTTPClient(for: configuration)
        let repository = S3ArtifactRepository(
            location: S3Location(bucket: bucket, prefix: "tests/" + UUID().uuidString), configuration: configuration,
            client: client, partSize: partSize)
        do {
            if bucket == Self.bucket { try await repository.createBucketIfMissing() }
            try await body(repository)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func path(_ text: String) throws -> ArtifactPath { try ArtifactPath(validating: text) }

    static func read(_ repository: S3ArtifactRepository, _ text: String, range: Range<Int64>? = nil) async throws -> [UInt8] {
        var collected: [UInt8] = []
        try await repository.read(try path(text), range: range) { chunk in collected += chunk.readableBytesView }
        return collected
    }

    @Test("small files round-trip through nested folders, whole or by range")
    func roundTrip() async throws {
        try await Self.withRepository { repository in
            try await repository.write(Self.path("a/b/hello.txt"), contents: Chunks(parts: ["hello ", "artifact\n"]))
            try await repository.write(Self.path("a/empty.bin"), contents: Chunks(parts: []))
            try await repository.write(Self.path("a/b/c/d/deep & odd name+é.txt"), contents: Chunks(parts: ["deep"]))

            #expect(String(decoding: try await Self.read(repository, "a/b/hello.txt"), as: UTF8.self) == "hello artifact\n")
            #expect(String(decoding: try await Self.read(repository, "a/b/hello.txt", range: 6..<14), as: UTF8.self) == "artifact")
            #expect(try await Self.read(repository, "a/b/hello.txt", range: 100..<200) == [])
            #expect(try await Self.read(repository, "a/empty.bin") == [])
            let attributes = try await repository.attributes(of: Self.path("a/b/hello.txt"))
            #expect(attributes.size == 15)
            #expect(abs(attributes.modificationTime - Int64(Date().timeIntervalSince1970)) < 600)
            #expect(String(decoding: try await Self.read(repository, "a/b/c/d/deep & odd name+é.txt"), as: UTF8.self) == "deep")

            #expect(try await repository.list(.root) == [ArtifactFileInfo(path: try Self.path("a"), isDirectory: true, fileSize: nil)])
            let inner = try await repository.list(Self.path("a"))
            #expect(inner.map(\.path.string) == ["a/b", "a/empty.bin"])
            #expect(inner.map(\.fileSize) == [nil, 0])
            #expect(try await repository.list(Self.path("a/b/c/d")).map(\.path.string) == ["a/b/c/d/deep & odd name+é.txt"])

            try await repository.write(Self.path("a/b/hello.txt"), contents: Chunks(parts: ["replaced"]))
            #expect(String(decoding: try await Self.read(repository, "a/b/hello.txt"), as: UTF8.self) == "replaced")
        }
    }

    @Test("multi-megabyte files: one PUT below the part size, a multipart upload above it, ranges across parts")
    func largeFiles() async throws {
        try await Self.withRepository { repository in
            for (name, count) in [("single.bin", 3 * 1024 * 1024 + 7), ("multi.bin", 12 * 1024 * 1024 + 123)] {
                try await repository.write(Self.path(name), contents: GeneratedBytes(count: count))
                #expect(try await repository.attributes(of: Self.path(name)).size == Int64(count))
                var hasher = SHA256()
                var received = 0
                var chunks = 0
                try await repository.read(Self.path(name), range: nil) { chunk in
                    hasher.update(data: Array(chunk.readableBytesView))
                    received += chunk.readableBytes
                    chunks += 1
                }
                #expect(received == count)
                #expect(chunks > 1, "streamed in several chunks")
                var expected = SHA256()
                expected.update(data: (0..<count).map(GeneratedBytes.byte(at:)))
                #expect(hasher.finalize() == expected.finalize())
            }
            let boundary = 5 * 1024 * 1024
            let range = Int64(boundary - 10)..<Int64(boundary + 10)
            #expect(try await Self.read(repository, "multi.bin", range: range)
                == (boundary - 10..<boundary + 10).map(GeneratedBytes.byte(at:)))
            #expect(try await repository.list(.root).map(\.fileSize) == [Int64(12 * 1024 * 1024 + 123), Int64(3 * 1024 * 1024 + 7)])
        }
    }

    @Test("a failed upload, single or multipart, leaves the old object (or none)")
    func failedUploads() async throws {
        try await Self.withRepository { repository in
            try await repository.write(Self.path("v.txt"), contents: Chunks(parts: ["v1"]))
            await #expect(throws: Chunks.HangUp.self) {
                try await repository.write(Self.path("v.txt"), contents: Chunks(parts: ["partial"], failAtEnd: true))
            }
            await #expect(throws: Chunks.HangUp.self) {
                try await repository.write(Self.path("big.bin"), contents: GeneratedBytes(count: 11 * 1024 * 1024, failAtEnd: true))
            }
            #expect(String(decoding: try await Self.read(repository, "v.txt"), as: UTF8.self) == "v1")
            #expect(try await repository.list(.root).map(\.path.string) == ["v.txt"])
        }
    }

    @Test("listings page past 1,000 keys; deleting a folder removes every key under it")
    func paginationAndDelete() async throws {
        try await Self.withRepository { repository in
            let count = 1_005
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for index in stride(from: worker, to: count, by: 16) {
                            try await repository.write(
                                Self.path("many/f\(String(index + 10_000))"), contents: Chunks(parts: ["\(index)"]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await repository.write(Self.path("many/sub/x.txt"), contents: Chunks(parts: ["x"]))
            try await repository.write(Self.path("keep.txt"), contents: Chunks(parts: ["k"]))
            let listed = try await repository.list(Self.path("many"))
            #expect(listed.count == count + 1)
            #expect(listed.first?.path.string == "many/f10000")
            #expect(listed.last == ArtifactFileInfo(path: try Self.path("many/sub"), isDirectory: true, fileSize: nil))

            try await repository.delete(Self.path("many"))
            #expect(try await repository.list(Self.path("many")) == [])
            #expect(try await repository.list(.root).map(\.path.string) == ["keep.txt"])
            try await repository.delete(Self.path("keep.txt"))
            #expect(try await repository.list(.root) == [])
        }
    }

    @Test("missing keys, folders and a missing bucket are MLflow's errors")
    func errors() async throws {
        try await Self.withRepository { repository in
            try await repository.write(Self.path("d/f.txt"), contents: Chunks(parts: ["f"]))
            #expect(await thrownCode { _ = try await repository.attributes(of: Self.path("nope.txt")) } == .resourceDoesNotExist)
            #expect(await thrownCode { _ = try await Self.read(repository, "nope.txt") } == .resourceDoesNotExist)
            #expect(await thrownCode { _ = try await repository.attributes(of: Self.path("d")) } == .invalidParameterValue)
            #expect(await thrownCode { _ = try await repository.attributes(of: .root) } == .invalidParameterValue)
            #expect(await thrownCode { try await repository.write(.root, contents: Chunks(parts: ["g"])) } == .invalidParameterValue)
            #expect(await thrownCode { try await repository.delete(.root) } == .invalidParameterValue)
            #expect(try await repository.list(Self.path("missing")) == [])
            #expect(try await repository.list(Self.path("d/f.txt")) == [])
            try await repository.delete(Self.path("never/there"))
            #expect(try await repository.list(Self.path("d")).map(\.path.string) == ["d/f.txt"])
        }
        try await Self.withRepository(bucket: "swiftflow-no-such-bucket") { repository in
            do {
                try await repository.write(Self.path("x.txt"), contents: Chunks(parts: ["x"]))
                Issue.record("a write to a missing bucket succeeded")
            } catch let error as SwiftflowError {
                #expect(error.code == .internalError)
                #expect(error.message.contains("NoSuchBucket"))
            }
        }
    }
}
