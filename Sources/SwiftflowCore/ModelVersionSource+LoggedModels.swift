extension ModelVersionSource {
    /// `_validate_source_model`: checks that `source` belongs to the logged model `modelId`.
    ///
    /// A local path must lie in the model's (local) artifact folder, `models:/<id>` must name the model
    /// itself, a `runs:/` source is refused, and an `mlflow-artifacts:` source (or the proxy's http URL)
    /// must lie under the model's artifact location. Other schemes pass, as in MLflow.
    ///
    /// - Parameters:
    ///   - modelArtifactLocation: the artifact location of an active logged model, or nil if there is none.
    /// - Throws: `INVALID_PARAMETER_VALUE` with MLflow's messages; whatever `modelArtifactLocation` throws.
    public static func validateModelSource(
        _ source: String, modelId: String, modelArtifactLocation: (String) async throws -> String?
    ) async throws {
        let parts = URLParts(source)
        if parts.scheme.isEmpty || parts.scheme == "file" {
            guard let location = try await modelArtifactLocation(modelId) else { throw invalidSource(source, "model_id") }
            let path = resolvedLocalPath(source)
            if isLocal(path, inside: location) { return }
            throw SwiftflowError.invalidParameter(
                "Invalid model version source: '\(path)'. To use a local path as a model version source, the model_id "
                    + "request parameter has to be specified and the local path has to be contained within the "
                    + "artifact directory of the run specified by the model_id.")
        }
        try rejectRelativePaths(source)
        switch parts.scheme {
        case "models":
            guard parts.netloc.isEmpty else { throw invalidSource(source, "model_id") }
            let parsed: ModelsURI
            do {
                parsed = try ModelsURI.parse(source)
            } catch {
                throw invalidSource(source, "model_id")
            }
            if case .modelId(let sourceModelId) = parsed {
                if sourceModelId == modelId { return }
                throw invalidSource(source, "model_id")
            }
        case "runs":
            throw invalidSource(source, "model_id")
        default:
            break
        }
        if isArtifactProxySource(source) {
            if let location = try await modelArtifactLocation(modelId), isURI(source, within: location) { return }
            throw invalidSource(source, "model_id")
        }
    }
}
