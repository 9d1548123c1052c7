import Hummingbird
import SwiftflowCore
import SwiftflowServer
import Testing

@Suite("Error mapping")
struct ErrorMappingTests {
    typealias Middleware = ErrorMiddleware<BasicRequestContext>

    @Test("MLflow's HTTP status for each error code", arguments: [
        (SwiftflowError.Code.invalidParameterValue, 400), (.badRequest, 400), (.resourceAlreadyExists, 400),
        (.resourceDoesNotExist, 404), (.endpointNotFound, 404), (.unauthenticated, 401), (.permissionDenied, 403),
        (.resourceConflict, 409), (.requestLimitExceeded, 429), (.internalError, 500), (.notImplemented, 501),
        (.temporarilyUnavailable, 503),
    ])
    func statuses(_ code: SwiftflowError.Code, _ status: Int) {
        #expect(Middleware.status(for: code).code == status)
    }

    @Test("error bodies are MLflow's one-line JSON")
    func body() {
        let error = SwiftflowError(.resourceDoesNotExist, "Run with id=\"x\" not found")
        #expect(Middleware.response(for: error).status.code == 404)
        #expect(Middleware.response(for: error).headers[.contentType] == "application/json")
        #expect(Middleware.body(for: error) == #"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=\"x\" not found", "sqlstate": "KAM00", "error_class": "RESOURCE_NOT_FOUND"}"#)
        // Codes MLflow's classification does not list carry no sqlstate or error_class.
        let conflict = SwiftflowError(.resourceConflict, "busy")
        #expect(Middleware.body(for: conflict) == #"{"error_code": "RESOURCE_CONFLICT", "message": "busy"}"#)
    }
}
