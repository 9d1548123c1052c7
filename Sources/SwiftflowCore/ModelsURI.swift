/// A `models:/` URI, as MLflow's `_parse_model_uri` reads it.
///
/// `models:/name/3` names a version, `models:/name/Production` the newest version in a stage,
/// `models:/name/latest` the newest version, `models:/name@champion` an alias and `models:/<id>` a
/// logged model.
public enum ModelsURI: Sendable, Equatable {
    case version(name: String, version: String)
    case stage(name: String, stage: String)
    case latest(name: String)
    case alias(name: String, alias: String)
    case modelId(String)

    /// Parses `uri`.
    /// - Throws: `INVALID_PARAMETER_VALUE` with MLflow's "Not a proper models:/ URI" message.
    public static func parse(_ uri: String) throws(SwiftflowError) -> ModelsURI {
        let improper = SwiftflowError.invalidParameter(
            "Not a proper models:/ URI: \(uri). Models URIs must be of the form 'models:/name/suffix' or "
                + "'models:/name@alias' where suffix is a version, stage, or the string 'latest' and where alias "
                + "is a registered model alias. Only one of suffix or alias can be defined at a time.")
        let parts = URIParts(uri, allowFragments: false)
        guard parts.scheme == "models", parts.path.hasPrefix("/"), parts.path.count > 1 else { throw improper }
        let segments = parts.path.drop(while: { $0 == "/" }).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count <= 2, let first = segments.first,
              !first.allSatisfy(\.isWhitespace) else { throw improper }
        if segments.count == 2 {
            let name = String(first)
            let suffix = String(segments[1])
            if suffix.allSatisfy(\.isWhitespace) { throw improper }
            if suffix.unicodeScalars.allSatisfy({ $0.properties.numericType == .decimal }) {
                return .version(name: name, version: suffix)
            }
            if suffix.lowercased() == "latest" { return .latest(name: name) }
            return .stage(name: name, stage: suffix)
        }
        if parts.path.contains("@") {
            guard let at = first.lastIndex(of: "@") else { throw improper }
            let alias = first[first.index(after: at)...]
            if alias.allSatisfy(\.isWhitespace) { throw improper }
            return .alias(name: String(first[..<at]), alias: String(alias))
        }
        return .modelId(String(first))
    }

    /// The registered model's name, or nil for a logged-model URI.
    public var name: String? {
        switch self {
        case .version(let name, _), .stage(let name, _), .latest(let name), .alias(let name, _): name
        case .modelId: nil
        }
    }
}

/// A URI split the way Python's `urllib.parse.urlparse` splits it (no `;params` handling).
struct URIParts: Sendable, Equatable {
    /// Lower-cased, or empty for a plain path.
    var scheme = ""
    var netloc = ""
    var path = ""
    var query = ""
    var fragment = ""

    init(_ uri: String, allowFragments: Bool = true) {
        var rest = Substring(uri)
        if let colon = rest.firstIndex(of: ":"), colon != rest.startIndex {
            let candidate = rest[..<colon]
            let isScheme = candidate.first.map { $0.isASCII && $0.isLetter } == true
                && candidate.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
            if isScheme {
                scheme = candidate.lowercased()
                rest = rest[rest.index(after: colon)...]
            }
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
        path = String(rest)
    }

    /// The host part of `netloc` (no user info or port), lower-cased; nil when there is none.
    var hostname: String? {
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
