extension Validation {
    /// Characters MLflow refuses in a logged model's name (they would break `models:/` URIs and paths).
    static let loggedModelNameBadCharacters = ["/", ":", ".", "%", "\"", "'"]

    /// Checks a logged model's name (`_validate_logged_model_name`); nil means "generate one".
    ///
    /// Only the name is checked: like MLflow's server, logged model tags and params take any key and value.
    /// - Throws: `INVALID_PARAMETER_VALUE` for an empty name or one holding `/ : . % " '`.
    public static func validateLoggedModelName(_ name: String?) throws(SwiftflowError) {
        guard let name else { return }
        if name.isEmpty || loggedModelNameBadCharacters.contains(where: { name.contains($0) }) {
            let characters = "(" + loggedModelNameBadCharacters.map { PythonRepr.string($0) }.joined(separator: ", ") + ")"
            throw .invalidParameter(
                "Invalid model name (\(PythonRepr.string(name))) provided. Model name must be a non-empty string and "
                    + "cannot contain the following characters: \(characters)")
        }
    }
}
