import Foundation
import SwiftflowCore

/// Where the tracking server is and how to talk to it, read from the variables MLflow's Python client reads.
///
/// | variable | field | default |
/// |---|---|---|
/// | `MLFLOW_TRACKING_URI` | ``trackingURI`` | none: required |
/// | `MLFLOW_TRACKING_TOKEN` | ``credentials`` (bearer) | |
/// | `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` | ``credentials`` (basic) | |
/// | `MLFLOW_TRACKING_INSECURE_TLS` | ``insecureTLS`` | `false` |
/// | `MLFLOW_HTTP_REQUEST_MAX_RETRIES` | ``maxRetries`` | 7 |
/// | `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` | ``backoffFactor`` | 2 |
/// | `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER` | ``backoffJitter`` | 1.0 |
/// | `MLFLOW_HTTP_REQUEST_TIMEOUT` | ``requestTimeout`` | 120 s |
/// | `MLFLOW_EXPERIMENT_NAME` / `MLFLOW_EXPERIMENT_ID` | ``experimentName`` / ``experimentId`` | |
/// | `MLFLOW_RUN_ID` | ``runId`` | |
/// | `MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD` | ``multipartUpload`` | `false` |
/// | `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` / `…_CHUNK_SIZE` | ``multipartMinimumSize`` / ``multipartChunkSize`` | 500 MiB / 10 MiB |
public struct ClientConfiguration: Sendable, Equatable {
    /// How requests authenticate.
    public enum Credentials: Sendable, Equatable {
        case basic(username: String, password: String)
        case bearer(token: String)

        var headerValue: String {
            switch self {
            case .basic(let username, let password):
                "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
            case .bearer(let token): "Bearer \(token)"
            }
        }
    }

    /// `http(s)://host:port` with any path prefix, without a trailing slash.
    public var trackingURI: String
    public var credentials: Credentials?
    /// Skip TLS certificate verification (self-signed servers).
    public var insecureTLS: Bool
    /// Retries of a request answered 408, 429, 500, 502, 503 or 504, or not answered at all.
    public var maxRetries: Int
    /// Seconds: the n-th retry waits `backoffFactor × 2^(n-1)` (the first retry does not wait), capped at 120 s.
    public var backoffFactor: Double
    /// Seconds: up to this much random time is added to each wait.
    public var backoffJitter: Double
    public var requestTimeout: Duration
    /// The experiment ``Swiftflow/withRun(experiment:experimentId:runName:tags:nested:runId:client:isolation:_:)`` uses when given none.
    public var experimentName: String?
    public var experimentId: String?
    /// A run to resume instead of creating one.
    public var runId: String?
    /// Upload large artifacts in parts through the server (`/mlflow-artifacts/mpu`), as MLflow does when enabled.
    public var multipartUpload: Bool
    public var multipartMinimumSize: Int64
    public var multipartChunkSize: Int64

    public init(
        trackingURI: String, credentials: Credentials? = nil, insecureTLS: Bool = false, maxRetries: Int = 7,
        backoffFactor: Double = 2, backoffJitter: Double = 1.0, requestTimeout: Duration = .seconds(120),
        experimentName: String? = nil, experimentId: String? = nil, runId: String? = nil,
        multipartUpload: Bool = false, multipartMinimumSize: Int64 = 500 * 1024 * 1024,
        multipartChunkSize: Int64 = 10 * 1024 * 1024
    ) throws(SwiftflowError) {
        guard trackingURI.hasPrefix("http://") || trackingURI.hasPrefix("https://") else {
            throw .invalidParameter(
                "The tracking URI '\(trackingURI)' is not an http(s) URL; set MLFLOW_TRACKING_URI to the server, "
                    + "e.g. http://127.0.0.1:5000.")
        }
        var base = trackingURI
        while base.hasSuffix("/") { base.removeLast() }
        self.trackingURI = base
        self.credentials = credentials
        self.insecureTLS = insecureTLS
        self.maxRetries = max(0, maxRetries)
        self.backoffFactor = max(0, backoffFactor)
        self.backoffJitter = max(0, backoffJitter)
        self.requestTimeout = requestTimeout
        self.experimentName = experimentName
        self.experimentId = experimentId
        self.runId = runId
        self.multipartUpload = multipartUpload
        self.multipartMinimumSize = multipartMinimumSize
        self.multipartChunkSize = max(5 * 1024 * 1024, multipartChunkSize)
    }

    /// Reads the configuration from `environment` (by default, the process's).
    /// - Throws: `INVALID_PARAMETER_VALUE` when `MLFLOW_TRACKING_URI` is missing or not http(s), or a number
    ///   variable does not parse.
    /// - Parameters:
    ///   - environment: the variables to read.
    ///   - trackingURI: the server, instead of `MLFLOW_TRACKING_URI`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, trackingURI: String? = nil
    ) throws(SwiftflowError) -> ClientConfiguration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        func number(_ name: String, _ fallback: Double) throws(SwiftflowError) -> Double {
            guard let text = value(name) else { return fallback }
            guard let parsed = Double(text), parsed.isFinite else {
                throw .invalidParameter("\(name) must be a number, got '\(text)'.")
            }
            return parsed
        }
        func flag(_ name: String) -> Bool {
            guard let text = value(name)?.lowercased() else { return false }
            return text == "true" || text == "1"
        }
        guard let uri = trackingURI ?? value("MLFLOW_TRACKING_URI") else {
            throw .invalidParameter(
                "MLFLOW_TRACKING_URI is not set; set it to the tracking server, e.g. http://127.0.0.1:5000.")
        }
        var credentials: Credentials?
        if let token = value("MLFLOW_TRACKING_TOKEN") {
            credentials = .bearer(token: token)
        } else if let username = value("MLFLOW_TRACKING_USERNAME") {
            credentials = .basic(username: username, password: environment["MLFLOW_TRACKING_PASSWORD"] ?? "")
        }
        return try ClientConfiguration(
            trackingURI: uri, credentials: credentials, insecureTLS: flag("MLFLOW_TRACKING_INSECURE_TLS"),
            maxRetries: Int(try number("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7)),
            backoffFactor: try number("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2),
            backoffJitter: try number("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0),
            requestTimeout: .milliseconds(Int64(try number("MLFLOW_HTTP_REQUEST_TIMEOUT", 120) * 1000)),
            experimentName: value("MLFLOW_EXPERIMENT_NAME"), experimentId: value("MLFLOW_EXPERIMENT_ID"),
            runId: value("MLFLOW_RUN_ID"), multipartUpload: flag("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"),
            multipartMinimumSize: Int64(try number("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", 500 * 1024 * 1024)),
            multipartChunkSize: Int64(try number("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", 10 * 1024 * 1024)))
    }

    /// The wait before retry number `attempt` (1-based), before jitter, as urllib3 computes it for MLflow.
    func backoff(beforeRetry attempt: Int) -> Double {
        guard attempt > 1 else { return 0 }
        return min(120, backoffFactor * pow(2, Double(attempt - 1)))
    }
}
