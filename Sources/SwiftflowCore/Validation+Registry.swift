/// MLflow's Model Registry limits (mlflow/utils/validation.py).
extension Limits {
    public static let maxRegistryTagKeyLength = 250
    public static let maxRegistryTagValueLength = 100_000
    public static let maxRegisteredModelAliasLength = 255
    public static let maxRegisteredModelsSearchResults = 1000
    public static let defaultRegisteredModelsSearchResults = 100
    public static let maxModelVersionsSearchResults = 200_000
    public static let defaultModelVersionsSearchResults = 10_000
}

/// The Model Registry's input validation, with MLflow's messages.
extension Validation {
    /// `_validate_model_name`: present, no `/` or `:`, and not a path that normalises to something else.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    /// - Parameters:
    ///   - missingPath: the field a blank name is reported as missing from (`new_name` for a rename).
    public static func validateModelName(_ name: String, missingPath: String = "name") throws(SwiftflowError) {
        let path = "name"
        // The store's short form of the message (the handlers' schema check adds a pointer to the docs).
        if name.allSatisfy(\.isWhitespace) {
            throw .invalidParameter("Missing value for required parameter '\(missingPath)'.")
        }
        if name.contains("/") || name.contains(":") {
            throw .invalidParameter("Invalid model name '\(name)'. Names cannot contain '/' or ':'.")
        }
        let normalized = normalizePosixPath(name)
        if normalized != name || normalized == "." || normalized.hasPrefix("..") || normalized.hasPrefix("/") {
            throw .invalidParameter(invalidValue(path, name,
                "Names may be treated as files in certain cases, and must not resolve to other names when treated "
                    + "as such. This name would resolve to '\(normalized)'"))
        }
    }

    /// A version number as Python's `int()` reads it (`" 2"`, `"+2"` and `"1_0"` included).
    /// - Throws: `INVALID_PARAMETER_VALUE` ("Parameter 'version' must be an integer, got 'x'.").
    public static func parseModelVersion(_ text: String) throws(SwiftflowError) -> Int64 {
        guard let number = SearchRules.pythonInt(text) else {
            throw .invalidParameter("Parameter 'version' must be an integer, got '\(text)'.")
        }
        return Int64(number)
    }

    /// A registered-model or model-version tag: a valid key and lengths within MLflow's limits.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateRegistryTag(_ tag: KeyValue) throws(SwiftflowError) {
        try validateName(tag.key, path: "key")
        try validateLength(tag.key, limit: Limits.maxRegistryTagKeyLength, name: "key")
        try validateLength(tag.value, limit: Limits.maxRegistryTagValueLength, name: "value")
    }

    /// `_validate_model_alias_name`: word characters and dashes, at most 255 characters.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateAliasName(_ alias: String) throws(SwiftflowError) {
        if alias.isEmpty { throw .invalidParameter("Registered model alias name cannot be empty.") }
        for scalar in alias.unicodeScalars where !(SearchLexer.isWordScalar(scalar) || scalar == "-") {
            throw .invalidParameter(
                "Invalid alias name: '\(alias)'. Names may only contain alphanumerics, underscores (_), and dashes (-).")
        }
        try validateLength(alias, limit: Limits.maxRegisteredModelAliasLength, name: "Registered model alias name")
    }

    /// `_validate_model_alias_name_reserved`: `latest` (any case) and `v<digits>` name versions, not aliases.
    /// - Throws: `INVALID_PARAMETER_VALUE`.
    public static func validateAliasNameNotReserved(_ alias: String) throws(SwiftflowError) {
        if alias.lowercased() == "latest" {
            throw .invalidParameter("'latest' alias name (case insensitive) is reserved.")
        }
        let scalars = Array(alias.unicodeScalars)
        if scalars.count > 1, scalars[0] == "v" || scalars[0] == "V",
           scalars.dropFirst().allSatisfy({ $0.properties.numericType == .decimal }) {
            throw .invalidParameter("Version alias name '\(alias)' is reserved.")
        }
    }
}
