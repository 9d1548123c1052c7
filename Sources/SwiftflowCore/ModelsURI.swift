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
        let parts = URLParts(uri, allowFragments: false)
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
