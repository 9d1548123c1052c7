/// A piece of HTML, built by string interpolation that escapes by default.
///
/// Interpolated `String`s (and numbers) are escaped for text and for double-quoted attribute values
/// alike; only other `HTML` values are inserted as they are. A page can therefore not be made to
/// carry markup from user data by forgetting to escape: the unsafe spelling is `HTML(unsafe:)`.
package struct HTML: ExpressibleByStringInterpolation, Sendable {
    package private(set) var text: String

    package init(stringLiteral value: String) { text = value }

    package init(stringInterpolation: Interpolation) { text = stringInterpolation.text }

    /// Markup produced elsewhere and known to be safe (assets, already escaped text).
    package init(unsafe text: String) { self.text = text }

    package static let empty = HTML(unsafe: "")

    package static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(unsafe: lhs.text + rhs.text) }

    package static func += (lhs: inout HTML, rhs: HTML) { lhs.text += rhs.text }

    package struct Interpolation: StringInterpolationProtocol {
        var text = ""

        package init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        package mutating func appendLiteral(_ literal: String) { text += literal }
        package mutating func appendInterpolation(_ value: String) { HTML.escape(value, into: &text) }
        package mutating func appendInterpolation(_ value: String?) { if let value { HTML.escape(value, into: &text) } }
        package mutating func appendInterpolation(_ value: Int) { text += String(value) }
        package mutating func appendInterpolation(_ value: Int64) { text += String(value) }
        package mutating func appendInterpolation(_ value: HTML) { text += value.text }
        package mutating func appendInterpolation(_ values: [HTML]) { for value in values { text += value.text } }
        /// A path segment or query value, percent-encoded (then escaped, which changes nothing).
        package mutating func appendInterpolation(component value: String) { text += HTML.percentEncode(value) }
    }

    /// Escapes the five characters that matter in text and quoted attributes.
    package static func escape(_ value: String, into text: inout String) {
        var start = value.utf8.startIndex
        let utf8 = value.utf8
        var index = start
        while index != utf8.endIndex {
            let entity: String?
            switch utf8[index] {
            case UInt8(ascii: "&"): entity = "&amp;"
            case UInt8(ascii: "<"): entity = "&lt;"
            case UInt8(ascii: ">"): entity = "&gt;"
            case UInt8(ascii: "\""): entity = "&quot;"
            case UInt8(ascii: "'"): entity = "&#39;"
            default: entity = nil
            }
            if let entity {
                text += value[start..<index]
                text += entity
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        text += value[start..<utf8.endIndex]
    }

    package static func escaped(_ value: String) -> String {
        var text = ""
        escape(value, into: &text)
        return text
    }

    /// RFC 3986 unreserved characters stay; every other byte becomes `%XX`.
    package static func percentEncode(_ value: String) -> String {
        var result = ""
        result.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                result += "%"
                result.unicodeScalars.append(UnicodeScalar(hex[Int(byte >> 4)]))
                result.unicodeScalars.append(UnicodeScalar(hex[Int(byte & 0xF)]))
            }
        }
        return result
    }

    /// A query string from `pairs` (empty values kept), each part percent-encoded.
    package static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }
}
