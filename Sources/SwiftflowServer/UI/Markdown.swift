/// A safe subset of Markdown for descriptions: headings, paragraphs, emphasis, inline code, fenced
/// code blocks, lists, block quotes, rules and links.
///
/// Every piece of text is escaped before any markup is added, and raw HTML in the source stays text.
/// Links keep only `http`, `https` and `mailto` targets and open without referrer, so a description
/// can neither inject markup nor a `javascript:` URL.
package enum Markdown {
    package static func render(_ source: String) -> HTML {
        var output = ""
        var paragraph: [String] = []
        var list: (ordered: Bool, items: [String])?
        var inCode = false
        var code: [String] = []

        func flushParagraph() {
            guard !paragraph.isEmpty else { return }
            output += "<p>" + inline(paragraph.joined(separator: "\n")) + "</p>\n"
            paragraph = []
        }
        func flushList() {
            guard let current = list else { return }
            let tag = current.ordered ? "ol" : "ul"
            output += "<\(tag)>" + current.items.map { "<li>" + inline($0) + "</li>" }.joined() + "</\(tag)>\n"
            list = nil
        }

        for rawLine in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? String(rawLine.dropLast()) : String(rawLine)
            let trimmed = line.drop(while: { $0 == " " })
            if trimmed.hasPrefix("```") {
                if inCode {
                    output += "<pre><code>" + HTML.escaped(code.joined(separator: "\n")) + "</code></pre>\n"
                    code = []
                    inCode = false
                } else {
                    flushParagraph(); flushList()
                    inCode = true
                }
                continue
            }
            if inCode { code.append(line); continue }
            if trimmed.isEmpty { flushParagraph(); flushList(); continue }
            if let level = heading(trimmed) {
                flushParagraph(); flushList()
                let text = trimmed.dropFirst(level).drop(while: { $0 == " " })
                output += "<h\(level + 2)>" + inline(String(text)) + "</h\(level + 2)>\n"
                continue
            }
            if trimmed == "---" || trimmed == "***" || trimmed == "___" {
                flushParagraph(); flushList()
                output += "<hr>\n"
                continue
            }
            if trimmed.hasPrefix("> ") || trimmed == ">" {
                flushParagraph(); flushList()
                output += "<blockquote>" + inline(String(trimmed.dropFirst().drop(while: { $0 == " " }))) + "</blockquote>\n"
                continue
            }
            if let item = listItem(trimmed) {
                flushParagraph()
                if list == nil || list?.ordered != item.ordered { flushList(); list = (item.ordered, []) }
                list?.items.append(item.text)
                continue
            }
            if list != nil, line.hasPrefix("  "), var current = list, !current.items.isEmpty {
                current.items[current.items.count - 1] += " " + trimmed
                list = current
                continue
            }
            flushList()
            paragraph.append(String(trimmed))
        }
        if inCode { output += "<pre><code>" + HTML.escaped(code.joined(separator: "\n")) + "</code></pre>\n" }
        flushParagraph(); flushList()
        return HTML(unsafe: output)
    }

    private static func heading(_ line: Substring) -> Int? {
        let hashes = line.prefix(while: { $0 == "#" }).count
        guard (1...6).contains(hashes), line.dropFirst(hashes).first == " " else { return nil }
        return min(hashes, 4)
    }

    private static func listItem(_ line: Substring) -> (ordered: Bool, text: String)? {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") {
            return (false, String(line.dropFirst(2)))
        }
        let digits = line.prefix(while: \.isNumber)
        if !digits.isEmpty, digits.count < 10 {
            let rest = line.dropFirst(digits.count)
            if rest.hasPrefix(". ") || rest.hasPrefix(") ") { return (true, String(rest.dropFirst(2))) }
        }
        return nil
    }

    /// Inline markup over escaped text: `code`, **strong**, *em*/_em_, [text](url), and line breaks.
    static func inline(_ text: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let index = rest.firstIndex(where: { "`*_[".contains($0) }) {
            output += HTML.escaped(String(rest[..<index]))
            rest = rest[index...]
            if rest.hasPrefix("`"), let end = rest.dropFirst().firstIndex(of: "`") {
                output += "<code>" + HTML.escaped(String(rest[rest.index(after: rest.startIndex)..<end])) + "</code>"
                rest = rest[rest.index(after: end)...]
            } else if rest.hasPrefix("**"), let end = closingStars(rest.dropFirst(2)) {
                output += "<strong>" + inline(String(rest[rest.index(rest.startIndex, offsetBy: 2)..<end])) + "</strong>"
                rest = rest[rest.index(end, offsetBy: 2)...]
            } else if let marker = rest.first, marker == "*" || (marker == "_" && !endsInWord(output)),
                      let end = rest.dropFirst().firstIndex(of: marker), end > rest.index(after: rest.startIndex) {
                output += "<em>" + inline(String(rest[rest.index(after: rest.startIndex)..<end])) + "</em>"
                rest = rest[rest.index(after: end)...]
            } else if rest.hasPrefix("["), let close = rest.firstIndex(of: "]"),
                      rest[close...].dropFirst().first == "(",
                      let paren = rest[close...].firstIndex(of: ")") {
                let label = String(rest[rest.index(after: rest.startIndex)..<close])
                let target = String(rest[rest.index(close, offsetBy: 2)..<paren]).trimmingSpaces()
                if isSafeLink(target) {
                    output += "<a href=\"" + HTML.escaped(target) + "\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">"
                        + inline(label) + "</a>"
                } else {
                    output += HTML.escaped(String(rest[...paren]))
                }
                rest = rest[rest.index(after: paren)...]
            } else {
                output += HTML.escaped(String(rest.first!))
                rest = rest.dropFirst()
            }
        }
        output += HTML.escaped(String(rest))
        return output.replacingNewlines()
    }

    /// Whether `text` ends in a letter or digit: `_` inside a word (`snake_case`) is not emphasis.
    private static func endsInWord(_ text: String) -> Bool {
        text.last.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false
    }

    /// Where the next `**` starts in `text`.
    private static func closingStars(_ text: Substring) -> Substring.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == "*", next < text.endIndex, text[next] == "*" { return index }
            index = next
        }
        return nil
    }

    static func isSafeLink(_ target: String) -> Bool {
        let lower = target.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://") || lower.hasPrefix("mailto:"))
            && !target.contains(where: { $0 == "\"" || $0 == "<" || $0 == ">" || $0.isWhitespace })
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }

    fileprivate func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "<br>")
    }
}
