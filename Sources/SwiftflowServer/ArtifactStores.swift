import SwiftflowArtifacts

/// The artifact repositories the server reads and writes. The `swiftflow` executable builds them, being
/// the one place that picks concrete backends.
public struct ArtifactStores: Sendable {
    /// Where `mlflow-artifacts:/` paths live: the `--artifacts-destination` store.
    public var proxied: any ArtifactRepository
    /// The repository of a folder on this machine, for runs whose artifact URI is a plain path or a
    /// `file:` URI (the default root with `--no-serve-artifacts`).
    public var folder: @Sendable (String) -> any ArtifactRepository
    /// The repository of an `s3://` artifact root (runs whose clients write to the bucket directly);
    /// nil when the server has no S3 configuration.
    public var s3: (@Sendable (S3Location) -> any ArtifactRepository)?

    public init(
        proxied: any ArtifactRepository, folder: @escaping @Sendable (String) -> any ArtifactRepository,
        s3: (@Sendable (S3Location) -> any ArtifactRepository)? = nil
    ) {
        self.proxied = proxied
        self.folder = folder
        self.s3 = s3
    }
}
