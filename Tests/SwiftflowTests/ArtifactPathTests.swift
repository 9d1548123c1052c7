import SwiftflowArtifacts
import SwiftflowCore
import Testing

/// `ArtifactPath(validating:)` against MLflow 3.17.2's `validate_path_is_safe` (expected values taken from it).
@Suite("Artifact paths")
struct ArtifactPathTests {
    static func validated(_ text: String) -> String? {
        try? ArtifactPath(validating: text).string
    }

    @Test("paths MLflow accepts are decoded and normalised", arguments: [
        ("a/b.txt", "a/b.txt"),
        ("a//b/./c", "a/b/c"),
        ("", ""),
        (".", ""),
        ("a%20b", "a b"),
        ("a%2520b", "a b"),  // decoded until stable
        ("a%3Fb", "a?b"),
        ("a%C3%BC", "aü"),
        ("ünï.txt", "ünï.txt"),
        ("ctl%0Ax.txt", "ctlx.txt"),  // urlsplit drops line breaks
        ("%20a.txt", "a.txt"),  // and leading blanks
        ("a%01b", "a%01b"),  // other control characters are escaped
        ("a;", "a"),
        ("x?", "x"),
        ("C:foo", "c:foo"),  // a drive without a root is relative
        ("1:/x", "1:/x"),
        ("a\\b", "a\\b"),  // a backslash is an ordinary character on POSIX, as in MLflow on Linux
        ("..%5C..%5Cwin.txt", "..\\..\\win.txt"),
        ("file:", ""),
        ("http://host/x", "http:/host/x"),
    ])
    func accepted(input: String, expected: String) {
        #expect(Self.validated(input) == expected)
    }

    @Test("traversal, absolute paths and fragments are refused with MLflow's error", arguments: [
        "..", "../x", "a/..", "a/../../x",
        "%2e%2e", "%2E%2E/x", "%2e%2e%2fx", "a%2f..%2f..%2fx",  // percent-encoded
        "%252e%252e", "%25252e%25252e/x", "%252e%252e%252fetc",  // double and triple encoded
        "/etc/passwd", "%2fetc%2fpasswd", "//etc", "///etc",  // absolute
        "C:\\x", "C:/x", "C:%5Cx", "c:%2Fx", "\\\\server\\share", "%5C%5Cserver%5Cshare",  // Windows absolute
        "file:///etc/passwd", "file:rel.txt", "FILE:x", "file:%2E%2E/x",  // file URIs read as their path
        "a#b", "a%23b",
    ])
    func refused(input: String) {
        #expect(throws: SwiftflowError.self) { try ArtifactPath(validating: input) }
        do {
            _ = try ArtifactPath(validating: input)
        } catch {
            #expect(error.code == .invalidParameterValue)
            #expect(error.message == "Invalid path")
        }
    }

    @Test("a path ending in a separator names a folder")
    func folderForm() throws {
        #expect(try ArtifactPath(validating: "a/b/").endsWithSeparator)
        #expect(try ArtifactPath(validating: "a/b%2F").endsWithSeparator)
        #expect(try ArtifactPath(validating: "a/.").endsWithSeparator)
        #expect(try ArtifactPath(validating: "").endsWithSeparator)
        #expect(try !ArtifactPath(validating: "a/b").endsWithSeparator)
        #expect(try ArtifactPath(validating: "a/b/") == ArtifactPath(validating: "a/b"))
    }

    @Test("run artifact URIs resolve to the proxy, a folder, a bucket, another run or nothing")
    func locations() throws {
        #expect(try ArtifactLocation(uri: "mlflow-artifacts:/1/abc/artifacts") == .proxied(ArtifactPath(validating: "1/abc/artifacts")))
        #expect(try ArtifactLocation(uri: "mlflow-artifacts://host:5000/1/abc") == .proxied(ArtifactPath(validating: "1/abc")))
        #expect(try ArtifactLocation(uri: "http://h/api/2.0/mlflow-artifacts/artifacts/1/abc")
            == .proxied(ArtifactPath(validating: "1/abc")))
        #expect(try ArtifactLocation(uri: "/srv/mlruns/1/abc/artifacts") == .folder("/srv/mlruns/1/abc/artifacts"))
        #expect(try ArtifactLocation(uri: "file:///srv/my%20runs/1") == .folder("/srv/my runs/1"))
        #expect(try ArtifactLocation(uri: "runs:/abc/model") == .run(id: "abc", path: ArtifactPath(validating: "model")))
        #expect(try ArtifactLocation(uri: "s3://bucket/x/1/abc/artifacts") == .s3(S3Location(bucket: "bucket", prefix: "x/1/abc/artifacts")))
        #expect(try ArtifactLocation(uri: "gs://bucket/x") == .unsupported(scheme: "gs"))
        #expect(try ArtifactLocation(uri: "https://example.com/x") == .unsupported(scheme: "https"))
        #expect(throws: SwiftflowError.self) { try ArtifactLocation(uri: "mlflow-artifacts:/../../etc") }
        #expect(throws: SwiftflowError.self) { try ArtifactLocation(uri: "runs:/abc/../../x") }
    }
}
