import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwiftflowCore

/// A small REST client for an MLflow-compatible tracking server: what resolving model URIs needs.
///
/// Credentials come from MLflow's variables: `MLFLOW_TRACKING_TOKEN` (bearer) or
/// `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` (basic).
public struct TrackingClient: Sendable {
    /// `http(s)://host:port` with any path prefix, without a trailing slash.
    public let baseURL: String
    let http: HTTPClient
    let authorization: String?

    public init(trackingURI: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                http: HTTPClient = .shared) throws(SwiftflowError) {
        guard trackingURI.hasPrefix("http://") || trackingURI.hasPrefix("https://") else {
            throw .invalidParameter(
                "The tracking URI '\(trackingURI)' is not an http(s) URL; set MLFLOW_TRACKING_URI to the server, "
                    + "e.g. http://127.0.0.1:5000.")
        }
        var base = trackingURI
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        self.http = http
        if let token = environment["MLFLOW_TRACKING_TOKEN"], !token.isEmpty {
            authorization = "Bearer \(token)"
        } else if let user = environment["MLFLOW_TRACKING_USERNAME"], let password = environment["MLFLOW_TRACKING_PASSWORD"] {
            authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        } else {
            authorization = nil
        }
    }

    /// GET `path` (from the server root) with `query`, answering the parsed JSON body.
    public func get(_ path: String, query: [(String, String)] = []) async throws(SwiftflowError) -> JSONValue {
        try await send(.GET, path, query: query, body: nil)
    }

    /// POST `body` as JSON to `path`.
    public func post(_ path: String, body: [UInt8]) async throws(SwiftflowError) -> JSONValue {
        try await send(.POST, path, query: [], body: body)
    }

    func url(_ path: String, query: [(String, String)]) -> String {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return url
    }

    public static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    func request(_ method: HTTPMethod, _ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        return request
    }

    private func send(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: [UInt8]?)
        async throws(SwiftflowError) -> JSONValue
    {
        var request = request(method, url(path, query: query))
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let bytes: ByteBuffer
        let status: HTTPResponseStatus
        do {
            let response = try await http.execute(request, timeout: .seconds(120))
            status = response.status
            bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch {
            throw SwiftflowError(.temporarilyUnavailable,
                                 "Could not reach the tracking server at \(baseURL): \(error)", cause: error)
        }
        let value = try? JSONParser.parse(bytes.readableBytesView)
        guard (200..<300).contains(status.code) else {
            throw Self.error(status: status, body: value, text: String(buffer: bytes), path: path)
        }
        guard let value else {
            throw SwiftflowError(.internalError, "The tracking server answered \(path) with a body that is not JSON.")
        }
        return value
    }

    static func error(status: HTTPResponseStatus, body: JSONValue?, text: String, path: String) -> SwiftflowError {
        if case .string(let code)? = body?["error_code"] {
            let message: String = if case .string(let m)? = body?["message"] { m } else { text }
            return SwiftflowError(SwiftflowError.Code(code), message)
        }
        let code: SwiftflowError.Code = switch status.code {
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .resourceDoesNotExist
        default: .internalError
        }
        return SwiftflowError(code, "The tracking server answered \(path) with HTTP \(status.code): \(text.prefix(500))")
    }
}
