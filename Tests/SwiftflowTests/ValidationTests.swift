import SwiftflowCore
import Testing

@Suite("MLflow's validation limits")
struct ValidationTests {
    @Test("keys may be 250 characters, not 251")
    func keyLength() throws {
        _ = try Validation.validateParam(Param(String(repeating: "k", count: 250), "v"))
        #expect(throws: SwiftflowError.self) {
            _ = try Validation.validateParam(Param(String(repeating: "k", count: 251), "v"))
        }
        #expect(throws: SwiftflowError.self) {
            try Validation.validateMetric(Metric(key: String(repeating: "m", count: 251), value: 1, timestamp: 0, step: 0))
        }
    }

    @Test("long param and tag values are cut to 6000 and 8000 characters, as MLflow's server does")
    func valueTruncation() throws {
        #expect(try Validation.validateParam(Param("p", String(repeating: "x", count: 7000))).value.count == 6000)
        #expect(try Validation.validateRunTag(RunTag("t", String(repeating: "x", count: 9000))).value.count == 8000)
        #expect(Limits.maxParamValueLength == 6000 && Limits.maxTagValueLength == 8000)
    }

    @Test("names that would resolve to other paths are refused", arguments: ["a/../b", "/abs", "..", ".", "a//b", "bad!"])
    func badNames(_ name: String) {
        #expect(throws: SwiftflowError.self) { try Validation.validateName(name, path: "key") }
    }

    @Test("ordinary names pass", arguments: ["loss", "val/acc", "a b", "m:1", "ünïcode_ok", "x-y.z"])
    func goodNames(_ name: String) throws {
        try Validation.validateName(name, path: "key")
    }

    @Test("log-batch limits: 1000 metrics, 100 params, 100 tags, 1000 entities")
    func batchLimits() throws {
        try Validation.validateBatchLimits(metrics: 1000, params: 0, tags: 0)
        try Validation.validateBatchLimits(metrics: 800, params: 100, tags: 100)
        #expect(throws: SwiftflowError.self) { try Validation.validateBatchLimits(metrics: 1001, params: 0, tags: 0) }
        #expect(throws: SwiftflowError.self) { try Validation.validateBatchLimits(metrics: 0, params: 101, tags: 0) }
        #expect(throws: SwiftflowError.self) { try Validation.validateBatchLimits(metrics: 0, params: 0, tags: 101) }
        #expect(throws: SwiftflowError.self) { try Validation.validateBatchLimits(metrics: 900, params: 100, tags: 1) }
    }

    @Test("posixpath.normpath semantics")
    func normalize() {
        #expect(Validation.normalizePosixPath("a/./b/../c") == "a/c")
        #expect(Validation.normalizePosixPath("../x") == "../x")
        #expect(Validation.normalizePosixPath("/../x") == "/x")
        #expect(Validation.normalizePosixPath("") == ".")
        #expect(Validation.normalizePosixPath("//a") == "//a")
        #expect(Validation.normalizePosixPath("///a") == "/a")
    }
}
