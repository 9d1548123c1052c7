/// Streams JSON into a byte buffer, formatted as MLflow's server formats it.
///
/// MLflow answers with `json.dumps(message, indent=2)`: two-space indentation, `": "` after keys,
/// non-ASCII characters escaped as `\uXXXX`. The writer reproduces that byte for byte, and can also
/// write Python's one-line `json.dumps` form and Flask's compact form. It never builds an intermediate tree, so large answers (metric histories)
/// cost one pass.
public struct JSONWriter: Sendable {
    /// Layouts of Python's JSON encoders.
    public enum Style: Sendable {
        /// `json.dumps(indent=2)`: MLflow's answers.
        case pretty
        /// `json.dumps()`: one line, `", "` and `": "` (MLflow's error bodies and messages).
        case line
        /// Flask's `jsonify`: `","` and `":"`.
        case compact
    }

    public private(set) var bytes: [UInt8] = []
    private let style: Style
    private var pretty: Bool { style == .pretty }
    /// One entry per open container: whether it already holds an element.
    private var hasElements: [Bool] = []

    public init(style: Style = .pretty, reserve: Int = 256) {
        self.style = style
        bytes.reserveCapacity(reserve)
    }

    // MARK: - Containers

    public mutating func beginObject() { beginValue(); bytes.append(UInt8(ascii: "{")); hasElements.append(false) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { beginValue(); bytes.append(UInt8(ascii: "[")); hasElements.append(false) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    /// Writes an object key; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        writeEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        if style != .compact { bytes.append(UInt8(ascii: " ")) }
        pendingKey = true
    }

    // MARK: - Scalars

    public mutating func string(_ value: String) { beginValue(); writeEscaped(value) }
    public mutating func int(_ value: Int64) {
        beginValue()
        // Digits straight into the buffer: histories write hundreds of thousands of these.
        if value == .min { bytes.append(contentsOf: String(value).utf8); return }
        var magnitude = value < 0 ? -value : value
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }
    public mutating func bool(_ value: Bool) { beginValue(); bytes.append(contentsOf: (value ? "true" : "false").utf8) }
    public mutating func null() { beginValue(); bytes.append(contentsOf: "null".utf8) }

    /// Writes a double as protobuf's JSON mapping does: NaN and infinities as strings, others as
    /// Python's `repr` (shortest round-trip form, always with a fraction or exponent).
    public mutating func double(_ value: Double) {
        if value.isNaN { string("NaN"); return }
        if value.isInfinite { string(value > 0 ? "Infinity" : "-Infinity"); return }
        beginValue()
        bytes.append(contentsOf: value.description.utf8)
    }

    /// Copies raw, already valid JSON (a stored blob).
    public mutating func raw(_ json: String) { beginValue(); bytes.append(contentsOf: json.utf8) }

    // MARK: - Conveniences

    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    public mutating func field(_ name: String, _ value: Int64) { key(name); int(value) }
    public mutating func field(_ name: String, _ value: Double) { key(name); double(value) }
    public mutating func field(_ name: String, _ value: Bool) { key(name); bool(value) }
    public mutating func optionalField(_ name: String, _ value: String?) { if let value { field(name, value) } }
    public mutating func optionalField(_ name: String, _ value: Int64?) { if let value { field(name, value) } }

    /// Writes a repeated field as protobuf's JSON mapping does: omitted entirely when empty.
    public mutating func repeatedField<Items: Collection>(
        _ name: String, _ items: Items, _ element: (inout JSONWriter, Items.Element) -> Void
    ) {
        guard !items.isEmpty else { return }
        key(name)
        beginArray()
        for item in items { element(&self, item) }
        endArray()
    }

    /// Writes the value, then returns the finished document.
    public static func encode(style: Style = .pretty, _ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter(style: style)
        body(&writer)
        return writer.bytes
    }

    /// Writes any `JSONValue` tree.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let text): beginValue(); bytes.append(contentsOf: text.utf8)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let object):
            beginObject()
            for member in object.members {
                key(member.key)
                self.value(member.value)
            }
            endObject()
        }
    }

    // MARK: - Layout

    private var pendingKey = false

    private mutating func beginValue() {
        if pendingKey { pendingKey = false; return }
        separate()
    }

    private mutating func separate() {
        guard !hasElements.isEmpty else { return }
        if hasElements[hasElements.count - 1] {
            bytes.append(UInt8(ascii: ","))
            if style == .line { bytes.append(UInt8(ascii: " ")) }
        } else {
            hasElements[hasElements.count - 1] = true
        }
        newlineIfPretty()
    }

    private mutating func newlineIfPretty() {
        guard pretty else { return }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * hasElements.count))
    }

    private mutating func close(_ bracket: UInt8) {
        let hadElements = hasElements.removeLast()
        if hadElements, pretty {
            bytes.append(UInt8(ascii: "\n"))
            bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * hasElements.count))
        }
        bytes.append(bracket)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeEscaped(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var index = 0
            while index < utf8.count {
                // Runs of printable ASCII (nearly all text) are copied in one append.
                let start = index
                while index < utf8.count, utf8[index] >= 0x20, utf8[index] < 0x7F,
                      utf8[index] != UInt8(ascii: "\""), utf8[index] != UInt8(ascii: "\\") {
                    index += 1
                }
                if index > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                guard index < utf8.count else { break }
                let byte = utf8[index]
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "f"))
                case 0x20..<0x7F: bytes.append(byte)
                case 0..<0x20, 0x7F: appendUnicodeEscape(UInt16(byte))
                default:
                    // Non-ASCII: decode the scalar and escape it as UTF-16, as Python's ensure_ascii does.
                    let length = byte >= 0xF0 ? 4 : (byte >= 0xE0 ? 3 : 2)
                    var scalar = UInt32(byte) & (length == 4 ? 0x07 : (length == 3 ? 0x0F : 0x1F))
                    for offset in 1..<length where index + offset < utf8.count {
                        scalar = scalar << 6 | UInt32(utf8[index + offset] & 0x3F)
                    }
                    index += length - 1
                    if scalar >= 0x10000 {
                        let value = scalar - 0x10000
                        appendUnicodeEscape(UInt16(0xD800 + (value >> 10)))
                        appendUnicodeEscape(UInt16(0xDC00 + (value & 0x3FF)))
                    } else {
                        appendUnicodeEscape(UInt16(scalar))
                    }
                }
                index += 1
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendUnicodeEscape(_ unit: UInt16) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "u"))
        bytes.append(Self.hex[Int(unit >> 12) & 0xF])
        bytes.append(Self.hex[Int(unit >> 8) & 0xF])
        bytes.append(Self.hex[Int(unit >> 4) & 0xF])
        bytes.append(Self.hex[Int(unit) & 0xF])
    }
}
