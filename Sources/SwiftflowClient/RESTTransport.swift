import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftflowCore

/// Sends requests to the tracking server, retrying transient failures the way MLflow's client does.
struct RESTTransport: Sendable {
    let configuration: ClientConfiguration
    let http: HTTPClient

    /// Statuses MLflow's client retries (`_TRANSIENT_FAILURE_RESPONSE_CODES`).
    static let transientStatuses: Set<UInt> = [408, 429, 500, 502, 503, 504]

    /// One client per process for servers with self-signed certificates; like `HTTPClient.shared`, never shut down.
    private static let insecureHTTP: HTTPClient = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }()

    init(configuration: ClientConfiguration, http: HTTPClient? = nil) {
        self.configuration = configuration
        self.http = http ?? (configuration.insecureTLS ? Self.insecureHTTP : .shared)
    }

    var baseURL: String { configuration.trackingURI }

    func url(_ path: String, query: [(String, String)] = []) -> String {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return url
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Escapes each segment of an artifact path, keeping its slashes.
    static func escapePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { escape(String($0)) }.joined(separator: "/")
    }

    func request(_ method: HTTPMethod, url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let credentials = configuration.credentials {
            request.headers.add(name: "Authorization", value: credentials.headerValue)
        }
        request.headers.add(name: "User-Agent", value: "swiftflow-client/\(SwiftflowVersion.string)")
        return request
    }

    /// Sends a JSON request to `path` (from the server root) and answers the parsed JSON body.
    func json(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil)
        async throws(SwiftflowError) -> JSONValue
    {
        let (status, bytes) = try await collect(method, url(path, query: query), path: path) {
            if let body {
                $0.headers.add(name: "Content-Type", value: "application/json")
                $0.body = .bytes(ByteBuffer(bytes: body))
            }
        }
        let value = try? JSONParser.parse(bytes.readableBytesView)
        guard (200..<300).contains(status.code) else {
            throw Self.error(status: status, body: value, text: String(buffer: bytes), path: path)
        }
        // Some endpoints (artifact PUT, DELETE) answer an empty body.
        if bytes.readableBytes == 0 { return .object(JSONObject()) }
        guard let value else {
            throw SwiftflowError(.internalError, "The tracking server answered \(path) with a body that is not JSON.")
        }
        return value
    }

    /// Sends a request built by `configure` (called again for each attempt) and collects the whole answer.
    func collect(
        _ method: HTTPMethod, _ url: String, path: String, limit: Int = 256 * 1024 * 1024,
        configure: (inout HTTPClientRequest) throws(SwiftflowError) -> Void = { _ in }
    ) async throws(SwiftflowError) -> (HTTPResponseStatus, ByteBuffer) {
        try await withRetries(path: path) { () async throws(SwiftflowError) -> (HTTPResponseStatus, ByteBuffer, String?) in
            var request = request(method, url: url)
            try configure(&request)
            do {
                let response = try await http.execute(request, timeout: .init(configuration.requestTimeout))
                let bytes = try await response.body.collect(upTo: limit)
                return (response.status, bytes, response.headers.first(name: "Retry-After"))
            } catch {
                throw SwiftflowError(.temporarilyUnavailable,
                                     "Could not reach the tracking server at \(baseURL): \(error)", cause: error)
            }
        }
    }

    /// Runs `attempt` until it answers a non-transient status or the retries run out.
    ///
    /// An attempt that throws `TEMPORARILY_UNAVAILABLE` (no answer at all) is retried too.
    func withRetries<Result>(
        path: String,
        _ attempt: () async throws(SwiftflowError) -> (HTTPResponseStatus, Result, String?)
    ) async throws(SwiftflowError) -> (HTTPResponseStatus, Result) {
        var retry = 0
        while true {
            let outcome: (HTTPResponseStatus, Result, String?)
            do {
                outcome = try await attempt()
            } catch where error.code == .temporarilyUnavailable && retry < configuration.maxRetries {
                retry += 1
                await pause(retry: retry, retryAfter: nil)
                continue
            }
            let (status, result, retryAfter) = outcome
            if Self.transientStatuses.contains(status.code) && retry < configuration.maxRetries {
                retry += 1
                await pause(retry: retry, retryAfter: retryAfter)
                continue
            }
            return (status, result)
        }
    }

    private func pause(retry: Int, retryAfter: String?) async {
        var seconds = configuration.backoff(beforeRetry: retry)
        // Like urllib3: a server's Retry-After (in seconds) wins over the computed backoff.
        if let retryAfter, let asked = Double(retryAfter.trimmingCharacters(in: .whitespaces)), asked >= 0 {
            seconds = min(asked, 120)
        } else if configuration.backoffJitter > 0 {
            seconds += Double.random(in: 0...configuration.backoffJitter)
        }
        guard seconds > 0 else { return }
        try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
    }

    /// MLflow's JSON error when the body holds one, else an error named after the HTTP status.
    static func error(status: HTTPResponseStatus, body: JSONValue?, text: String, path: String) -> SwiftflowError {
        if case .string(let code)? = body?["error_code"] {
            let message: String = if case .string(let m)? = body?["message"] { m } else { text }
            return SwiftflowError(SwiftflowError.Code(code), message)
        }
        let code: SwiftflowError.Code = switch status.code {
        case 400: .badRequest
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .resourceDoesNotExist
        case 409: .resourceConflict
        case 429: .requestLimitExceeded
        case 501: .notImplemented
        case 502, 503, 504: .temporarilyUnavailable
        default: .internalError
        }
        return SwiftflowError(code, "The tracking server answered \(path) with HTTP \(status.code): \(text.prefix(500))")
    }
}
