import SwiftflowArtifacts

/// The artifact repositories the server reads and writes. The `swiftflow` executable builds them, being
/// the one place that picks concrete backends.
public struct ArtifactStores: Sendable {
    /// Where `mlflow-artifacts:/` paths live: the `--artifacts-destination` store.
    public var proxied: any ArtifactRepository
    /// The repository of a folder on this machine, for runs whose artifact URI is a plain path or a
    /// `file:` URI (the default root with `--no-serve-artifacts`).
    public var folder: @Sendable (String) -> any ArtifactRepository

    public init(proxied: any ArtifactRepository, folder: @escaping @Sendable (String) -> any ArtifactRepository) {
        self.proxied = proxied
        self.folder = folder
    }
}
