/// An element of the small XML documents S3 answers with (listings, errors, upload ids).
///
/// A deliberately small reader: elements, text and the five named entities plus numeric references;
/// attributes, namespaces, comments and processing instructions are skipped. S3's answers use nothing
/// else, and a full XML parser would add a dependency for no gain.
package struct S3XMLElement: Sendable, Equatable {
    package var name: String
    package var children: [S3XMLElement] = []
    /// The element's own text, entities decoded (the text of its children not included).
    package var text: String = ""

    package init(name: String, children: [S3XMLElement] = [], text: String = "") {
        self.name = name
        self.children = children
        self.text = text
    }

    /// The first child named `name`.
    package func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    /// Every child named `name`, in order.
    package func children(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The text of the first child named `name`.
    package func value(_ name: String) -> String? { child(name)?.text }

    /// The root element of `document`, or nil if it is not well-formed enough to read.
    package static func parse<Bytes: Collection>(_ document: Bytes) -> S3XMLElement? where Bytes.Element == UInt8 {
        var reader = Reader(bytes: Array(document))
        return reader.document()
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() -> S3XMLElement? {
            var stack: [S3XMLElement] = []
            var root: S3XMLElement?
            while index < bytes.count {
                if bytes[index] != UInt8(ascii: "<") {
                    let start = index
                    while index < bytes.count, bytes[index] != UInt8(ascii: "<") { index += 1 }
                    if !stack.isEmpty { stack[stack.count - 1].text += Self.decode(bytes[start..<index]) }
                    continue
                }
                guard index + 1 < bytes.count else { return nil }
                switch bytes[index + 1] {
                case UInt8(ascii: "?"):
                    guard skip(past: "?>") else { return nil }
                case UInt8(ascii: "!"):
                    if hasPrefix("<![CDATA[") {
                        let start = index + 9
                        guard skip(past: "]]>") else { return nil }
                        if !stack.isEmpty {
                            stack[stack.count - 1].text += String(decoding: bytes[start..<(index - 3)], as: UTF8.self)
                        }
                    } else if hasPrefix("<!--") {
                        guard skip(past: "-->") else { return nil }
                    } else {
                        guard skip(past: ">") else { return nil }
                    }
                case UInt8(ascii: "/"):
                    let start = index + 2
                    guard skip(past: ">") else { return nil }
                    let name = Self.name(bytes[start..<(index - 1)])
                    guard let element = stack.popLast(), element.name == name else { return nil }
                    if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
                default:
                    let start = index + 1
                    guard skip(past: ">") else { return nil }
                    let selfClosing = bytes[index - 2] == UInt8(ascii: "/")
                    let element = S3XMLElement(name: Self.name(bytes[start..<(index - (selfClosing ? 2 : 1))]))
                    if selfClosing {
                        if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
                    } else {
                        stack.append(element)
                    }
                }
            }
            return stack.isEmpty ? root : nil
        }

        func hasPrefix(_ text: String) -> Bool {
            let pattern = Array(text.utf8)
            return index + pattern.count <= bytes.count && Array(bytes[index..<(index + pattern.count)]) == pattern
        }

        /// Moves past the next `terminator`; false if there is none.
        mutating func skip(past terminator: String) -> Bool {
            let pattern = Array(terminator.utf8)
            var position = index
            while position + pattern.count <= bytes.count {
                if bytes[position] == pattern[0], Array(bytes[position..<(position + pattern.count)]) == pattern {
                    index = position + pattern.count
                    return true
                }
                position += 1
            }
            return false
        }

        /// A tag's name without attributes or namespace prefix.
        static func name(_ tag: ArraySlice<UInt8>) -> String {
            let end = tag.firstIndex { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n")
                || $0 == UInt8(ascii: "\r") } ?? tag.endIndex
            let qualified = tag[tag.startIndex..<end]
            let local = qualified.lastIndex(of: UInt8(ascii: ":")).map { qualified[($0 + 1)...] } ?? qualified
            return String(decoding: local, as: UTF8.self)
        }

        /// Text with `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#N;` and `&#xN;` decoded.
        static func decode(_ raw: ArraySlice<UInt8>) -> String {
            let text = String(decoding: raw, as: UTF8.self)
            guard text.contains("&") else { return text }
            var result = ""
            var rest = Substring(text)
            while let ampersand = rest.firstIndex(of: "&") {
                result += rest[..<ampersand]
                guard let semicolon = rest[ampersand...].firstIndex(of: ";") else { break }
                let entity = rest[rest.index(after: ampersand)..<semicolon]
                switch entity {
                case "amp": result += "&"
                case "lt": result += "<"
                case "gt": result += ">"
                case "quot": result += "\""
                case "apos": result += "'"
                default:
                    let number: UInt32? = entity.hasPrefix("#x") || entity.hasPrefix("#X")
                        ? UInt32(entity.dropFirst(2), radix: 16)
                        : entity.hasPrefix("#") ? UInt32(entity.dropFirst(), radix: 10) : nil
                    if let number, let scalar = Unicode.Scalar(number) {
                        result.unicodeScalars.append(scalar)
                    } else {
                        result += rest[ampersand...semicolon]
                    }
                }
                rest = rest[rest.index(after: semicolon)...]
            }
            return result + rest
        }
    }

    /// `text` with the characters XML reserves escaped, for request bodies.
    package static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }
}
