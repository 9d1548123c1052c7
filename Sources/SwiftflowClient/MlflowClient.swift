import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwiftflowCore

/// A client of MLflow's REST API, method for method what `mlflow.MlflowClient` offers: experiments, runs,
/// metrics, params, tags, datasets, artifacts, logged models and the Model Registry.
///
/// It talks to any MLflow-compatible tracking server (Swiftflow's or MLflow's own). Every method is `async`
/// and throws `SwiftflowError` carrying MLflow's error code (`RESOURCE_DOES_NOT_EXIST`,
/// `INVALID_PARAMETER_VALUE`, …) and the server's message. Transient failures (HTTP 408, 429, 5xx, no
/// answer) are retried with exponential backoff as ``ClientConfiguration`` says.
///
/// ```swift
/// let client = try MlflowClient()                      // MLFLOW_TRACKING_URI and friends
/// let experimentId = try await client.createExperiment(name: "demo")
/// let run = try await client.createRun(experimentId: experimentId, runName: "first")
/// try await client.logMetric(runId: run.info.runId, key: "loss", value: 0.25, step: 1)
/// try await client.setTerminated(runId: run.info.runId)
/// ```
public struct MlflowClient: Sendable {
    public let configuration: ClientConfiguration
    let transport: RESTTransport

    /// A client configured from the environment, as MLflow's Python client is.
    /// - Parameter environment: where `MLFLOW_TRACKING_URI` and the other variables are read.
    /// - Throws: `INVALID_PARAMETER_VALUE` when `MLFLOW_TRACKING_URI` is unset or not http(s).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SwiftflowError) {
        try self.init(configuration: .fromEnvironment(environment))
    }

    /// A client of the server at `trackingURI`, with credentials and retry settings from `environment`.
    /// - Parameters:
    ///   - trackingURI: the server, `http(s)://host:port`.
    ///   - environment: where MLflow's variables are read (credentials, retries, TLS).
    ///   - http: the HTTP client to use; by default a shared one.
    public init(
        trackingURI: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        http: HTTPClient? = nil
    ) throws(SwiftflowError) {
        try self.init(configuration: .fromEnvironment(environment, trackingURI: trackingURI), http: http)
    }

    /// - Parameters:
    ///   - configuration: the server and how to talk to it.
    ///   - http: the HTTP client to use; by default a shared one (its lifetime is the process's).
    public init(configuration: ClientConfiguration, http: HTTPClient? = nil) {
        self.configuration = configuration
        transport = RESTTransport(configuration: configuration, http: http)
    }

    /// The server's root URL (`MLFLOW_TRACKING_URI` without a trailing slash).
    public var baseURL: String { configuration.trackingURI }

    // MARK: - Raw requests

    /// GET `path` (from the server root, e.g. `/api/2.0/mlflow/runs/get`) with `query`; the parsed JSON answer.
    public func get(_ path: String, query: [(String, String)] = []) async throws(SwiftflowError) -> JSONValue {
        try await transport.json(.GET, path, query: query)
    }

    /// POST `body` (JSON bytes) to `path`; the parsed JSON answer.
    public func post(_ path: String, body: [UInt8]) async throws(SwiftflowError) -> JSONValue {
        try await transport.json(.POST, path, body: body)
    }

    /// Sends a request to `path` with a JSON body written by `body`.
    func send(
        _ method: HTTPMethod, _ path: String, _ body: (inout JSONWriter) -> Void
    ) async throws(SwiftflowError) -> JSONValue {
        var writer = JSONWriter(style: .compact)
        writer.beginObject()
        body(&writer)
        writer.endObject()
        return try await transport.json(method, path, body: writer.bytes)
    }

    static let api = "/api/2.0/mlflow"

    /// Percent-encodes a query or path component.
    public static func escape(_ text: String) -> String { RESTTransport.escape(text) }

    func request(_ method: HTTPMethod, _ url: String) -> HTTPClientRequest { transport.request(method, url: url) }
    var http: HTTPClient { transport.http }
}

/// The name the first Swiftflow releases gave the REST client.
public typealias TrackingClient = MlflowClient

extension Optional where Wrapped == String {
    /// The page token of an answer, nil when the server sent none or an empty one.
    static func pageToken(_ value: JSONValue) -> String? {
        if case .string(let token)? = value["next_page_token"], !token.isEmpty { return token }
        return nil
    }
}
