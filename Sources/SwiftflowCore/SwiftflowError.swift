/// The one error type every Swiftflow module throws.
///
/// `Code` is an open set of MLflow error codes (the pattern of swift-nio's `FileSystemError`):
/// its raw value is the string MLflow puts in `error_code`. Core knows nothing of HTTP; the server
/// maps each code to its status.
public struct SwiftflowError: Error, Sendable, CustomStringConvertible {
    /// An MLflow error code, as sent on the wire.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidParameterValue = Code("INVALID_PARAMETER_VALUE")
        public static let badRequest = Code("BAD_REQUEST")
        public static let resourceAlreadyExists = Code("RESOURCE_ALREADY_EXISTS")
        public static let resourceDoesNotExist = Code("RESOURCE_DOES_NOT_EXIST")
        public static let endpointNotFound = Code("ENDPOINT_NOT_FOUND")
        public static let resourceConflict = Code("RESOURCE_CONFLICT")
        public static let unauthenticated = Code("UNAUTHENTICATED")
        public static let permissionDenied = Code("PERMISSION_DENIED")
        public static let requestLimitExceeded = Code("REQUEST_LIMIT_EXCEEDED")
        public static let internalError = Code("INTERNAL_ERROR")
        public static let notImplemented = Code("NOT_IMPLEMENTED")
        public static let invalidState = Code("INVALID_STATE")
        /// The database (or another backend) cannot be reached for now; HTTP 503.
        public static let temporarilyUnavailable = Code("TEMPORARILY_UNAVAILABLE")
    }

    public var code: Code
    public var message: String
    /// The underlying error, logged but never sent to a client.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(code): \(message)" }

    public static func invalidParameter(_ message: String) -> SwiftflowError {
        SwiftflowError(.invalidParameterValue, message)
    }

    public static func notFound(_ message: String) -> SwiftflowError {
        SwiftflowError(.resourceDoesNotExist, message)
    }

    public static func alreadyExists(_ message: String) -> SwiftflowError {
        SwiftflowError(.resourceAlreadyExists, message)
    }
}
