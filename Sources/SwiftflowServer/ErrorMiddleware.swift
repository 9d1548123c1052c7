import HTTPTypes
import Hummingbird
import Logging
import SwiftflowCore

/// Turns every error into MLflow's JSON error body with MLflow's HTTP status.
///
/// Unknown errors become `INTERNAL_ERROR` with a generic message; their cause goes to the log only.
package struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SwiftflowError {
            if error.code == .temporarilyUnavailable {
                context.logger.warning("\(request.method) \(request.uri.path): \(error.message)")
            } else if error.code == .internalError {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(error) cause: \(String(describing: error.cause))")
            }
            return Self.response(for: error)
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                return Self.response(for: SwiftflowError(
                    .endpointNotFound, "No API endpoint \(request.method) \(request.uri.path)"), status: .notFound)
            case .methodNotAllowed:
                return Self.response(for: SwiftflowError(
                    .endpointNotFound, "Method \(request.method) is not allowed for \(request.uri.path)"), status: .methodNotAllowed)
            case .contentTooLarge:
                return Self.response(for: SwiftflowError(
                    .invalidParameterValue, "The request body is larger than \(Limits.maxRequestBodySize) bytes."),
                    status: .contentTooLarge)
            default:
                return Self.response(
                    for: SwiftflowError(.badRequest, error.body ?? error.status.reasonPhrase), status: error.status)
            }
        } catch {
            context.logger.error("\(request.method) \(request.uri.path) failed: \(String(reflecting: error))")
            return Self.response(for: SwiftflowError(.internalError, "An internal error occurred."))
        }
    }

    /// MLflow's mapping from error code to HTTP status.
    package static func status(for code: SwiftflowError.Code) -> HTTPResponse.Status {
        switch code {
        case .resourceDoesNotExist, .endpointNotFound: .notFound
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        case .resourceConflict: .conflict
        case .requestLimitExceeded: .tooManyRequests
        case .internalError: .internalServerError
        case .notImplemented: .notImplemented
        case .temporarilyUnavailable: .serviceUnavailable
        default: .badRequest
        }
    }

    package static func response(for error: SwiftflowError, status: HTTPResponse.Status? = nil) -> Response {
        Response(
            status: status ?? Self.status(for: error.code),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body(for: error))))
    }

    /// MLflow writes error bodies with json.dumps defaults: one line, ", " and ": ", and adds the
    /// `sqlstate` and `error_class` its exceptions derive from the error code.
    package static func body(for error: SwiftflowError) -> String {
        String(decoding: JSONWriter.encode(style: .line) { w in
            w.beginObject()
            w.field("error_code", error.code.rawValue)
            w.field("message", error.message)
            if let (sqlstate, errorClass) = errorClassification[error.code.rawValue] {
                w.field("sqlstate", sqlstate)
                w.field("error_class", errorClass)
            }
            w.endObject()
        }, as: UTF8.self)
    }
}

/// MLflow's client-side classification (`mlflow/error_classification.py`): error code to
/// SQLSTATE and error class. Codes it does not list get neither field.
private let errorClassification: [String: (String, String)] = [
    "BAD_REQUEST": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "CUSTOMER_UNAUTHORIZED": ("KAM00", "PERMISSION_DENIED"),
    "ENDPOINT_NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "FEATURE_DISABLED": ("KAM00", "FEATURE_DISABLED"),
    "INTERNAL_ERROR": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "INVALID_PARAMETER_VALUE": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_STATE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "PERMISSION_DENIED": ("KAM00", "PERMISSION_DENIED"),
    "RESOURCE_ALREADY_EXISTS": ("KAM00", "RESOURCE_ALREADY_EXISTS"),
    "RESOURCE_DOES_NOT_EXIST": ("KAM00", "RESOURCE_NOT_FOUND"),
    "TEMPORARILY_UNAVAILABLE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
]
