/// MLflow's input validation (mlflow/utils/validation.py), with its messages.
public enum Validation {
    // MARK: - Messages

    /// MLflow's `invalid_value`: the value rendered as compact JSON.
    public static func invalidValue(_ path: String, _ value: String, _ message: String? = nil) -> String {
        let rendered = String(decoding: JSONWriter.encode(style: .line) { $0.string(value) }, as: UTF8.self)
        if let message { return "Invalid value \(rendered) for parameter '\(path)' supplied: \(message)" }
        return "Invalid value \(rendered) for parameter '\(path)' supplied."
    }

    /// What MLflow's request-schema checks append to their messages.
    public static let seeTheDocs = " See the API docs for more information about request parameters."

    public static func missingValue(_ path: String) -> String {
        "Missing value for required parameter '\(path)'.\(seeTheDocs)"
    }

    public static func exceedsMaximumLength(_ path: String, _ limit: Int) -> String {
        "'\(path)' exceeds the maximum length of \(limit) characters"
    }

    static let badCharacterMessage =
        "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."

    // MARK: - Names

    /// Checks a metric, param or tag key: allowed characters and no path tricks.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateName(_ name: String, path: String) throws(SwiftflowError) {
        var allASCII = true
        for byte in name.utf8 {
            if byte >= 0x80 { allASCII = false; break }
            if !asciiNameBytes[Int(byte)] { throw .invalidParameter(invalidValue(path, name, badCharacterMessage)) }
        }
        if !allASCII {
            for scalar in name.unicodeScalars where !isNameScalar(scalar) {
                throw .invalidParameter(invalidValue(path, name, badCharacterMessage))
            }
        }
        let normalized = normalizePosixPath(name)
        if normalized != name || normalized == "." || normalized.hasPrefix("..") || normalized.hasPrefix("/") {
            throw .invalidParameter(invalidValue(path, name,
                "Names may be treated as files in certain cases, and must not resolve to other names when treated "
                    + "as such. This name would resolve to '\(normalized)'"))
        }
    }

    /// The ASCII part of the name alphabet, as a table: names are checked on every logged point.
    private static let asciiNameBytes: [Bool] = (0..<128).map { byte in
        isNameScalar(Unicode.Scalar(UInt8(byte)))
    }

    /// Python's `\w` plus `/ . - space :`.
    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "/", ".", "-", " ", ":", "_": return true
        default:
            let properties = scalar.properties
            return properties.isAlphabetic || properties.numericType != nil
        }
    }

    /// `posixpath.normpath`.
    public static func normalizePosixPath(_ path: String) -> String {
        if path.isEmpty { return "." }
        let absolute = path.hasPrefix("/")
        // POSIX keeps exactly two leading slashes, normalizes three or more to one.
        let leading = absolute && path.hasPrefix("//") && !path.hasPrefix("///") ? "//" : (absolute ? "/" : "")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = leading + parts.joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }

    /// Rejects `value` longer than `limit` characters.
    /// - Throws: `INVALID_PARAMETER_VALUE` with MLflow's "exceeds the maximum length" message.
    public static func validateLength(_ value: String, limit: Int, name: String) throws(SwiftflowError) {
        if value.count > limit { throw .invalidParameter(exceedsMaximumLength(name, limit)) }
    }

    /// Cuts `value` to `limit` characters, as MLflow's server does for long param and tag values.
    public static func truncated(_ value: String, limit: Int) -> String {
        value.count <= limit ? value : String(value.prefix(limit))
    }

    // MARK: - Entities

    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateMetric(_ metric: Metric, path: String = "") throws(SwiftflowError) {
        try validateName(metric.key, path: join(path, "name"))
        try validateLength(metric.key, limit: Limits.maxEntityKeyLength, name: "Metric name")
        if metric.timestamp < 0 {
            throw .invalidParameter(
                "Invalid value \(metric.timestamp) for parameter '\(join(path, "timestamp"))' supplied: metric "
                    + "'\(metric.key)' (value=\(metric.value)). Timestamp must be a nonnegative long (64-bit integer) ")
        }
    }

    /// Validates a param and returns it with its value cut to MLflow's limit.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateParam(_ param: Param, path: String = "") throws(SwiftflowError) -> Param {
        try validateName(param.key, path: join(path, "key"))
        try validateLength(param.key, limit: Limits.maxEntityKeyLength, name: "Param key")
        return Param(param.key, truncated(param.value, limit: Limits.maxParamValueLength))
    }

    /// Validates a run tag and returns it with its value cut to MLflow's limit.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateRunTag(_ tag: RunTag, path: String = "") throws(SwiftflowError) -> RunTag {
        try validateName(tag.key, path: join(path, "key"))
        try validateLength(tag.key, limit: Limits.maxEntityKeyLength, name: join(path, "key"))
        return RunTag(tag.key, truncated(tag.value, limit: Limits.maxTagValueLength))
    }

    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateExperimentTag(_ tag: ExperimentTag) throws(SwiftflowError) {
        try validateName(tag.key, path: "key")
        try validateLength(tag.key, limit: Limits.maxExperimentTagKeyLength, name: "key")
        try validateLength(tag.value, limit: Limits.maxExperimentTagValueLength, name: "value")
    }

    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateExperimentName(_ name: String) throws(SwiftflowError) {
        if name.isEmpty { throw .invalidParameter("Invalid experiment name: ''") }
        try validateLength(name, limit: Limits.maxExperimentNameLength, name: "name")
    }

    /// Checks the sizes of a log-batch request.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateBatchLimits(metrics: Int, params: Int, tags: Int) throws(SwiftflowError) {
        func check(_ entity: String, _ limit: Int, _ count: Int) throws(SwiftflowError) {
            if count > limit {
                throw .invalidParameter(
                    "A batch logging request can contain at most \(limit) \(entity). Got \(count) \(entity). "
                        + "Please split up \(entity) across multiple requests and try again.")
            }
        }
        try check("metrics", Limits.maxMetricsPerBatch, metrics)
        try check("params", Limits.maxParamsTagsPerBatch, params)
        try check("tags", Limits.maxParamsTagsPerBatch, tags)
        try check("metrics, params, and tags", Limits.maxEntitiesPerBatch, metrics + params + tags)
    }

    /// - Throws: `INVALID_PARAMETER_VALUE` naming the repeated keys.
    public static func validateParamKeysUnique(_ params: [Param]) throws(SwiftflowError) {
        var seen = Set<String>()
        var duplicates: [String] = []
        for param in params where !seen.insert(param.key).inserted { duplicates.append(param.key) }
        if !duplicates.isEmpty {
            let list = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            throw .invalidParameter(
                "Duplicate parameter keys have been submitted: [\(list)]. Please ensure the request contains only "
                    + "one param value per param key.")
        }
    }

    /// Experiment ids are integers in MLflow's SQL store.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func parseExperimentId(_ text: String) throws(SwiftflowError) -> Int64 {
        guard let id = Int64(text) else {
            throw .invalidParameter("Invalid experiment ID '\(text)'. Experiment ID must be a valid integer.")
        }
        return id
    }

    private static func join(_ path: String, _ field: String) -> String {
        path.isEmpty ? field : "\(path).\(field)"
    }
}
