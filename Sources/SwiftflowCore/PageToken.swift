import Foundation

/// The opaque `page_token` of search endpoints, in MLflow's SQL-store format: base64 of `{"offset": N}`.
public enum PageToken {
    /// The token that resumes a search at `offset`, byte-for-byte what MLflow produces.
    public static func encode(offset: Int) -> String {
        Data("{\"offset\": \(offset)}".utf8).base64EncodedString()
    }

    /// A run-search token: the offset, as MLflow's, plus the sort key of the page's last row, so the
    /// next page starts after that row even when runs were added or removed in between.
    public static func encode(offset: Int, after sortKey: [SortKeyValue]) -> String {
        var text = "{\"offset\": \(offset), \"after\": ["
        for (index, value) in sortKey.enumerated() {
            if index > 0 { text += ", " }
            switch value {
            case .null: text += "null"
            case .integer(let number): text += String(number)
            case .real(let number): text += number.isFinite ? "\(number)" : "null"
            case .text(let string):
                text += (try? JSONEncoder().encode(string)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
            }
        }
        return Data((text + "]}").utf8).base64EncodedString()
    }

    /// Where a token resumes: its offset and, for run-search tokens, the sort key to start after.
    ///
    /// - Throws: as `decodeOffset(_:)`.
    public static func decodePosition(_ token: String?) throws(SwiftflowError) -> PagePosition {
        let offset = try decodeOffset(token)
        guard let token, offset > 0, let bytes = lenientBase64Decode(token),
              case .object(let fields)? = try? JSONDecoder().decode(TokenJSON.self, from: bytes),
              case .array(let items)? = fields["after"] else {
            return PagePosition(offset: offset, after: nil)
        }
        var sortKey: [SortKeyValue] = []
        for item in items {
            switch item {
            case .null: sortKey.append(.null)
            case .integer(let number): sortKey.append(.integer(Int64(number)))
            case .double(let number): sortKey.append(.real(number))
            case .string(let string): sortKey.append(.text(string))
            case .bool, .array, .object: return PagePosition(offset: offset, after: nil)
            }
        }
        return PagePosition(offset: offset, after: sortKey)
    }

    /// The offset a token resumes at; `nil` or an empty token means the first page (offset 0).
    ///
    /// Decoding is as lenient as MLflow's (Python's `b64decode` skips stray characters, `offset` may be a
    /// number or a numeric string). A negative offset reads as 0, which is what SQLite makes of it.
    ///
    /// - Throws: `SwiftflowError` with code `INVALID_PARAMETER_VALUE` if the token is not base64, not
    ///   JSON, has no non-zero `offset`, or its offset is not an integer.
    public static func decodeOffset(_ token: String?) throws(SwiftflowError) -> Int {
        guard let token, !token.isEmpty else { return 0 }
        guard let bytes = lenientBase64Decode(token) else {
            throw .invalidParameter("Invalid page token, could not base64-decode")
        }
        let parsed: TokenJSON
        do {
            parsed = try JSONDecoder().decode(TokenJSON.self, from: bytes)
        } catch {
            throw .invalidParameter("Invalid page token, decoded value=\(pythonBytesRepr(bytes))")
        }
        let parsedText = String(decoding: bytes, as: UTF8.self)
        // MLflow tests truthiness: a missing, zero, empty or null offset is rejected.
        guard case .object(let fields) = parsed, let offset = fields["offset"], offset.isTruthy else {
            throw .invalidParameter("Invalid page token, parsed value=\(parsedText)")
        }
        guard let value = offset.pythonInt else {
            throw .invalidParameter("Invalid page token, not stringable \(offset.description)")
        }
        return max(0, value)
    }

    /// Python's non-validating `base64.b64decode`: characters outside the alphabet are skipped, but the
    /// data must still be correctly padded.
    private static func lenientBase64Decode(_ token: String) -> Data? {
        var alphabet: [UInt8] = []
        var padding = 0
        for byte in token.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                alphabet.append(byte)
            case UInt8(ascii: "="):
                padding += 1
            case 0x80...:
                return nil  // Python refuses non-ASCII text outright
            default:
                continue
            }
        }
        let needed = [0, -1, 2, 1][alphabet.count % 4]
        guard needed >= 0, padding >= needed else { return nil }
        let padded = String(decoding: alphabet, as: UTF8.self) + String(repeating: "=", count: needed)
        return Data(base64Encoded: padded)
    }

    /// Python's `repr` of a `bytes` value, so messages read like MLflow's (`b'...'`).
    private static func pythonBytesRepr(_ bytes: Data) -> String {
        let quote: UInt8 = bytes.contains(UInt8(ascii: "'")) && !bytes.contains(UInt8(ascii: "\"")) ? 0x22 : 0x27
        var body = ""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): body += "\\\\"
            case UInt8(ascii: "\t"): body += "\\t"
            case UInt8(ascii: "\n"): body += "\\n"
            case UInt8(ascii: "\r"): body += "\\r"
            case quote: body += "\\" + String(UnicodeScalar(byte))
            case 0x20..<0x7F: body += String(UnicodeScalar(byte))
            default: body += "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
        }
        let delimiter = String(UnicodeScalar(quote))
        return "b" + delimiter + body + delimiter
    }
}

/// One value of a row's sort key, as carried in a page token.
public enum SortKeyValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// Where a search page starts: an offset, or (run search) after the row with this sort key.
public struct PagePosition: Sendable, Equatable {
    public var offset: Int
    public var after: [SortKeyValue]?

    public init(offset: Int, after: [SortKeyValue]?) {
        self.offset = offset
        self.after = after
    }
}

// MARK: - Token JSON

/// Just enough JSON to read a page token the way Python's `json.loads` plus `int()` would.
private enum TokenJSON: Decodable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([TokenJSON])
    case object([String: TokenJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([TokenJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: TokenJSON].self))
        }
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let value): value
        case .integer(let value): value != 0
        case .double(let value): value != 0
        case .string(let value): !value.isEmpty
        case .array(let value): !value.isEmpty
        case .object(let value): !value.isEmpty
        }
    }

    /// Python's `int(value)`: booleans count as 0/1, floats truncate, strings must spell an integer.
    var pythonInt: Int? {
        switch self {
        case .bool(let value): value ? 1 : 0
        case .integer(let value): value
        case .double(let value): value.isFinite && abs(value) < 9.2e18 ? Int(value) : nil
        case .string(let value): SearchRules.pythonInt(value)
        case .null, .array, .object: nil
        }
    }

    var description: String {
        switch self {
        case .null: "None"
        case .bool(let value): value ? "True" : "False"
        case .integer(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): value
        case .array: "list"
        case .object: "dict"
        }
    }
}
