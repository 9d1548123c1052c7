/// Python 3.11's `urlparse` split of a URL, enough to reproduce `urlunparse(urlparse(url))`.
package struct URLParts: Sendable, Equatable {
    /// Lower-cased, or empty for a plain path.
    package var scheme = ""
    package var netloc = ""
    package var path = ""
    package var params = ""
    package var query = ""
    package var fragment = ""

    private static let usesNetloc: Set<String> = [
        "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp", "snews",
        "prospero", "rtsp", "rtsps", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git", "git+ssh", "ws", "wss",
    ]
    private static let usesParams: Set<String> = [
        "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu", "sip", "sips", "mms",
        "sftp", "tel",
    ]

    package init(_ text: String, allowFragments: Bool = true) {
        // urlsplit removes tabs and line breaks anywhere, and C0 controls and spaces in front.
        var scalars = String.UnicodeScalarView(text.unicodeScalars.filter { $0 != "\t" && $0 != "\r" && $0 != "\n" })
        while let first = scalars.first, first.value <= 0x20 { scalars.removeFirst() }
        var rest = Substring(String(scalars))
        if let colon = rest.firstIndex(of: ":"), colon != rest.startIndex, let first = rest.unicodeScalars.first,
           first.isASCII, first.properties.isAlphabetic,
           rest[..<colon].unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) }) {
            scheme = rest[..<colon].lowercased()
            rest = rest[rest.index(after: colon)...]
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(where: { "/?#".contains($0) }) ?? afterSlashes.endIndex
            netloc = String(afterSlashes[..<end])
            rest = afterSlashes[end...]
        }
        if allowFragments, let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        if Self.usesParams.contains(scheme) {
            let lastSegment = rest.lastIndex(of: "/") ?? rest.startIndex
            if let semicolon = rest[lastSegment...].firstIndex(of: ";") {
                params = String(rest[rest.index(after: semicolon)...])
                rest = rest[..<semicolon]
            }
        }
        path = String(rest)
    }

    /// `urlunparse`: empty delimiters are dropped and `file:x` gains its `//`.
    package var unparsed: String {
        var url = params.isEmpty ? path : path + ";" + params
        if !netloc.isEmpty || (!scheme.isEmpty && Self.usesNetloc.contains(scheme) && !url.hasPrefix("//")) {
            if !url.isEmpty && !url.hasPrefix("/") { url = "/" + url }
            url = "//" + netloc + url
        }
        if !scheme.isEmpty { url = scheme + ":" + url }
        if !query.isEmpty { url += "?" + query }
        if !fragment.isEmpty { url += "#" + fragment }
        return url
    }

    /// The host part of `netloc` (no user info or port), lower-cased; nil when there is none.
    package var hostname: String? {
        var host = Substring(netloc)
        if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.firstIndex(of: ":") {
            host = host[..<colon]
        }
        return host.isEmpty ? nil : host.lowercased()
    }
}
