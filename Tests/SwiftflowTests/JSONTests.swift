import SwiftflowCore
import Testing

@Suite("JSON reading and writing")
struct JSONTests {
    @Test("pretty output is byte-for-byte Python's json.dumps(indent=2)")
    func prettyMatchesPython() {
        let bytes = JSONWriter.encode { w in
            w.beginObject()
            w.field("experiment_id", "1")
            w.key("tags")
            w.beginArray()
            w.beginObject(); w.field("key", "a"); w.field("value", "é\"\n"); w.endObject()
            w.endArray()
            w.key("empty"); w.beginObject(); w.endObject()
            w.field("n", Int64(17))
            w.endObject()
        }
        let expected = """
            {
              "experiment_id": "1",
              "tags": [
                {
                  "key": "a",
                  "value": "\\u00e9\\"\\n"
                }
              ],
              "empty": {},
              "n": 17
            }
            """
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    @Test("doubles are written as Python's repr; NaN and infinities as proto3 strings")
    func doubles() {
        func text(_ value: Double) -> String {
            String(decoding: JSONWriter.encode(style: .compact) { $0.double(value) }, as: UTF8.self)
        }
        #expect(text(1.0) == "1.0")
        #expect(text(0.1) == "0.1")
        #expect(text(1e-300) == "1e-300")
        #expect(text(Double.greatestFiniteMagnitude) == "1.7976931348623157e+308")
        #expect(text(.nan) == "\"NaN\"")
        #expect(text(.infinity) == "\"Infinity\"")
        #expect(text(-.infinity) == "\"-Infinity\"")
    }

    @Test("the parser keeps number text, reads escapes and Python's bare NaN")
    func parsing() throws {
        let value = try JSONParser.parse(#"{"a": 9007199254740993, "b": "x\u00e9\ud83d\ude00", "c": [true, null, NaN, -Infinity]}"#)
        #expect(value["a"] == .number("9007199254740993"))
        #expect(value["b"] == .string("xé😀"))
        #expect(value["c"] == .array([.bool(true), .null, .number("NaN"), .number("-Infinity")]))
    }

    @Test("malformed documents are INVALID_PARAMETER_VALUE, never a crash", arguments: [
        "", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "01", "{} x", "tru",
        String(repeating: "[", count: 100_000),
    ])
    func malformed(_ text: String) {
        #expect(throws: SwiftflowError.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.code == .invalidParameterValue)
        }
    }
}
