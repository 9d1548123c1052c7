import SwiftflowCore

/// What `swiftflow server` was asked to do.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Whether `/api/2.0/mlflow-artifacts` proxies artifact uploads and downloads.
    public var serveArtifacts: Bool
    /// The folder proxied artifacts are stored in.
    public var artifactsDestination: String
    /// The root new experiments put their artifacts under.
    public var defaultArtifactRoot: String
    /// Promotion policies by registered model name (`--registry-policies`): each is evaluated and
    /// applied after a version of its model is created.
    public var registryPolicies: [String: PromotionPolicy]

    public init(
        host: String = "127.0.0.1", port: Int = 5000, serveArtifacts: Bool = true,
        artifactsDestination: String = "./mlartifacts", defaultArtifactRoot: String = "mlflow-artifacts:/",
        registryPolicies: [String: PromotionPolicy] = [:]
    ) {
        self.host = host
        self.port = port
        self.serveArtifacts = serveArtifacts
        self.artifactsDestination = artifactsDestination
        self.defaultArtifactRoot = defaultArtifactRoot
        self.registryPolicies = registryPolicies
    }
}
