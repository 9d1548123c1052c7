public enum SwiftflowVersion {
    /// This build of Swiftflow.
    public static let string = "0.1.0"
    /// The MLflow release whose REST API this build speaks; `/version` answers it, as MLflow's server does.
    public static let mlflowCompatible = "3.17.2"
}
