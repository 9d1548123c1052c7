import HTTPTypes
import Hummingbird
import NIOCore
import SwiftflowCore

/// Registers MLflow REST handlers under both `/api/2.0/mlflow` and the UI's `/ajax-api/2.0/mlflow`.
struct APIRouter {
    typealias Context = ServerRequestContext
    let router: Router<Context>
    /// Where the routes are served: MLflow's 2.0 API by default; the auth app's newer routes are 3.0.
    var routePrefixes: [String] = Self.prefixes
    static var prefixes: [String] { ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] }
    static var prefixes3: [String] { ["/api/3.0/mlflow", "/ajax-api/3.0/mlflow"] }

    typealias Handler = @Sendable (MLflowRequest) async throws -> Response

    /// Adds `handler` for `method` on `path` (relative to the MLflow prefix). Path parameters are
    /// written `{name}`, as in service.proto, and reach the handler percent-decoded.
    ///
    /// With the basic-auth app on, a non-admin's request must pass the route's rule in `AccessRules`
    /// before the handler runs; a route without a rule is refused (MLflow's fail-closed default).
    func on(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
        let parameterNames = Self.parameterNames(path)
        let rule = AccessRules.rule(method, path)
        for prefix in routePrefixes {
            router.on(RouterPath(prefix + path), method: method) { request, context in
                var decoded = try await Self.decode(request, context: context)
                for name in parameterNames {
                    decoded.pathParameters[name] = context.parameters.get(name).map { percentDecode($0[...]) }
                }
                if let auth = context.auth {
                    decoded.auth = auth
                    if !auth.isAdmin {
                        guard let rule else { throw PermissionDenied() }
                        try await rule(decoded, auth)
                    }
                }
                return try await handler(decoded)
            }
        }
    }

    /// The `{name}` components of a route path.
    static func parameterNames(_ path: String) -> [String] {
        path.split(separator: "/").compactMap { component in
            component.hasPrefix("{") && component.hasSuffix("}") ? String(component.dropFirst().dropLast()) : nil
        }
    }

    /// Reads the request's fields: the query string for GET, the JSON body otherwise.
    ///
    /// As MLflow's server, only POST and PUT insist on a JSON content type; PATCH and DELETE bodies are
    /// read as JSON whatever they say, and may be absent (the Python client sends none for deletes).
    static func decode(_ request: Request, context: Context) async throws -> MLflowRequest {
        if request.method == .get {
            var members: [(key: String, value: JSONValue)] = []
            var positions: [String: Int] = [:]
            for pair in (request.uri.query ?? "").split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = formDecode(parts[0])
                let text = parts.count > 1 ? formDecode(parts[1]) : ""
                if let index = positions[name] {
                    // Repeated query keys make a repeated field.
                    switch members[index].value {
                    case .array(let values): members[index].value = .array(values + [.string(text)])
                    case let single: members[index].value = .array([single, .string(text)])
                    }
                } else {
                    positions[name] = members.count
                    members.append((name, .string(text)))
                }
            }
            return MLflowRequest(fields: JSONObject(members))
        }
        if request.method == .post || request.method == .put {
            guard let contentType = request.headers[.contentType] else {
                throw SwiftflowError.invalidParameter("Bad Request. Content-Type header is missing.")
            }
            guard contentType.lowercased().hasPrefix("application/json") else {
                throw SwiftflowError.invalidParameter("Bad Request. Content-Type must be one of ['application/json'].")
            }
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Limits.maxRequestBodySize)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge)
        }
        if buffer.readableBytes == 0 { return MLflowRequest(fields: JSONObject()) }
        let value = try buffer.withUnsafeReadableBytes { bytes throws(SwiftflowError) in try JSONParser.parse(bytes) }
        guard case .object(let object) = value else {
            throw SwiftflowError.invalidParameter("The request body must be a JSON object.")
        }
        return MLflowRequest(fields: object)
    }
}

/// Decodes one path component: `%XX` is a byte, `+` stays a plus.
func percentDecode(_ text: Substring) -> String {
    formDecode(text, plusIsSpace: false)
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
func formDecode(_ text: Substring, plusIsSpace: Bool = true) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    func hexValue(_ byte: UInt8?) -> UInt8? { byte.flatMap(Hex.digit) }
    while let byte = iterator.next() {
        switch byte {
        case UInt8(ascii: "+") where plusIsSpace: bytes.append(UInt8(ascii: " "))
        case UInt8(ascii: "%"):
            let high = iterator.next()
            let low = iterator.next()
            if let h = hexValue(high), let l = hexValue(low) {
                bytes.append(h << 4 | l)
            } else {
                bytes.append(byte)
                if let high { bytes.append(high) }
                if let low { bytes.append(low) }
            }
        default: bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// JSON answers, written the way MLflow writes them.
enum JSONResponse {
    static func make(_ body: (inout JSONWriter) -> Void) -> Response {
        raw(JSONWriter.encode(body))
    }

    /// A JSON answer already encoded.
    static func raw(_ bytes: [UInt8]) -> Response {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }

    /// A search page: `{"<key>": [...], "next_page_token": ...}`, the list omitted when empty, as MLflow does.
    static func page<Item>(_ page: Page<Item>, key: String, _ write: (inout JSONWriter, Item) -> Void) -> Response {
        make { w in
            w.beginObject()
            w.repeatedField(key, page.items, write)
            w.optionalField("next_page_token", page.nextPageToken)
            w.endObject()
        }
    }

    /// An answer as Flask's `jsonify` writes it (MLflow's Flask-only routes): compact, keys in the order
    /// written (callers write them sorted), and a newline.
    static func flask(_ body: (inout JSONWriter) -> Void) -> Response {
        raw(JSONWriter.encode(style: .compact, body) + [UInt8(ascii: "\n")])
    }

    /// `{}`, MLflow's answer to most writes.
    static var empty: Response { make { $0.beginObject(); $0.endObject() } }
}
