import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwiftflowCore

/// Where and how `swiftflow models serve` listens.
public struct ScoringServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The largest request body accepted.
    public var maxBodySize: Int

    public init(host: String = "127.0.0.1", port: Int = 5000, maxBodySize: Int = 1 << 30) {
        self.host = host
        self.port = port
        self.maxBodySize = maxBodySize
    }
}

/// MLflow's scoring protocol over a pool of model workers: `/ping`, `/health`, `/version` and
/// `/invocations`, with the reference server's statuses, media types and bodies.
///
/// JSON `dataframe_split` / `dataframe_records` bodies are parsed and checked against the signature
/// here and reach the worker as typed columns; every other body goes to the worker as received and
/// MLflow's own code in the model environment answers it, errors included.
public func buildScoringApplication(
    pool: WorkerPool, model: MLmodel, configuration: ScoringServerConfiguration, logger: Logger
) -> some ApplicationProtocol {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: FrameworkErrors())
    let contract = TypedRequest.Contract(model: model)
    // A signature MLflow derives from type hints, or a converter from the input example, changes how
    // JSON is read; such models take MLflow's path for every request.
    let typedInputs = !model.isSignatureFromTypeHint && !model.typeHintFromExample
        && !{ if case .tensors? = model.signature?.inputs { true } else { false } }()

    let ping: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "\n")))
    }
    router.get("/ping", use: ping)
    router.get("/health", use: ping)
    router.get("/version") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: pool.mlflowVersion)))
    }
    router.post("/invocations") { request, _ in
        let buffer = try await request.body.collect(upTo: configuration.maxBodySize)
        let body = Array(buffer.readableBytesView)
        let contentType = request.headers[.contentType]
        do {
            var answer: WorkerAnswer
            if typedInputs, Scoring.isPlainJSON(contentType),
               let typed = TypedRequest.parse(body: body, contract: contract) {
                answer = try await pool.submit(.typed(typed, batchKey: typed.batchKey))
                if answer.status == 0 {
                    answer = try await pool.submit(.raw(contentType: contentType, body: body))
                }
            } else {
                answer = try await pool.submit(.raw(contentType: contentType, body: body))
            }
            return Response(
                status: .init(code: answer.status),
                headers: [.contentType: Scoring.contentTypeHeader(answer.mediaType)],
                body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        } catch let error as SwiftflowError {
            return Scoring.errorResponse(error)
        }
    }
    for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
        router.on("/invocations", method: method) { _, _ in frameworkDetail(.methodNotAllowed, "Method Not Allowed") }
    }
    for path in ["/ping", "/health", "/version"] {
        for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
            router.on(RouterPath(path), method: method) { _, _ in frameworkDetail(.methodNotAllowed, "Method Not Allowed") }
        }
    }
    return Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "swiftflow"),
        logger: logger)
}

private enum Scoring {
    /// `application/json`, optionally with `charset=utf-8`: the bodies the typed path reads.
    static func isPlainJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts[0] == "application/json" else { return false }
        for parameter in parts.dropFirst() {
            guard parameter.lowercased() == "charset=utf-8" else { return false }
        }
        return true
    }

    /// The reference's web framework adds a charset to text media types.
    static func contentTypeHeader(_ mediaType: String) -> String {
        mediaType.hasPrefix("text/") && !mediaType.contains("charset") ? mediaType + "; charset=utf-8" : mediaType
    }

    static func errorResponse(_ error: SwiftflowError) -> Response {
        var writer = JSONWriter(style: .line)
        writer.beginObject()
        writer.field("error_code", error.code.rawValue)
        writer.field("message", error.message)
        writer.endObject()
        let status: HTTPResponse.Status = error.code == .temporarilyUnavailable ? .serviceUnavailable : .internalServerError
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }
}

/// Unknown paths answer as the reference's web framework does: `{"detail":"Not Found"}`.
struct FrameworkErrors<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return frameworkDetail(.notFound, "Not Found")
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return frameworkDetail(.contentTooLarge, "Request body too large")
        }
    }

}

private func frameworkDetail(_ status: HTTPResponse.Status, _ text: String) -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(string: "{\"detail\":\"\(text)\"}")))
}
