import Foundation

/// Milliseconds since the epoch, MLflow's unit of time.
public enum Timestamp {
    public static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
