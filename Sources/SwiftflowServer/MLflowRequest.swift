import SwiftflowCore

/// The fields of one API request, from a JSON body (POST, PATCH, DELETE) or the query string (GET),
/// read with the proto3 JSON rules MLflow's server applies and its error messages.
struct MLflowRequest: Sendable {
    let fields: JSONObject
    /// The `{name}` parts of the route path, decoded; separate from the fields, as in MLflow's handlers.
    var pathParameters: [String: String] = [:]
    /// The authenticated caller when the basic-auth app is on.
    var auth: RequestAuth?

    init(fields: JSONObject) { self.fields = fields }

    /// A path parameter of the route (always present when the route matched).
    func pathParameter(_ name: String) -> String {
        pathParameters[name] ?? ""
    }

    /// A field's raw value; JSON null counts as absent, as in protobuf.
    func value(_ name: String) -> JSONValue? {
        guard let value = fields[name] else { return nil }
        if case .null = value { return nil }
        return value
    }

    static func invalidType(_ name: String, _ value: JSONValue) -> SwiftflowError {
        let rendered = String(decoding: JSONWriter.encode(style: .line) { $0.value(value) }, as: UTF8.self)
        return .invalidParameter(
            "Invalid value \(rendered) for parameter '\(name)' supplied:  Hint: Value was of type "
                + "'\(value.pythonTypeName)'. See the API docs for more information about request parameters.")
    }

    // MARK: - Scalars

    func string(_ name: String) throws(SwiftflowError) -> String? {
        guard let value = value(name) else { return nil }
        guard case .string(let text) = value else { throw Self.invalidType(name, value) }
        return text
    }

    /// A string that must be present and non-empty (MLflow's `_assert_required`).
    func requiredString(_ name: String) throws(SwiftflowError) -> String {
        guard let text = try string(name), !text.isEmpty else { throw .invalidParameter(Validation.missingValue(name)) }
        return text
    }

    /// The first present, non-empty one of several aliases (`run_id` / `run_uuid`).
    func requiredString(_ names: String...) throws(SwiftflowError) -> String {
        for name in names {
            if let text = try string(name), !text.isEmpty { return text }
        }
        throw .invalidParameter(Validation.missingValue(names[0]))
    }

    /// An int64 field: a JSON integer or a string holding one.
    func int64(_ name: String) throws(SwiftflowError) -> Int64? {
        guard let value = value(name) else { return nil }
        switch value {
        case .number(let text), .string(let text):
            if let number = Int64(text) { return number }
            if case .number = value, let double = Double(text), double == double.rounded(), abs(double) < 9.2e18 {
                return Int64(double)
            }
            throw Self.invalidType(name, value)
        default:
            throw Self.invalidType(name, value)
        }
    }

    func requiredInt64(_ name: String) throws(SwiftflowError) -> Int64 {
        guard let number = try int64(name) else { throw .invalidParameter(Validation.missingValue(name)) }
        return number
    }

    /// A double field: a JSON number, a numeric string, or `"NaN"` / `"Infinity"` / `"-Infinity"`.
    func double(_ name: String) throws(SwiftflowError) -> Double? {
        guard let value = value(name) else { return nil }
        switch value {
        case .number(let text), .string(let text):
            switch text {
            case "NaN", "nan": return .nan
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default:
                if let number = Double(text), text.first != "+", !text.contains(where: \.isWhitespace) { return number }
                throw Self.invalidType(name, value)
            }
        default:
            throw Self.invalidType(name, value)
        }
    }

    func bool(_ name: String) throws(SwiftflowError) -> Bool? {
        guard let value = value(name) else { return nil }
        switch value {
        case .bool(let flag): return flag
        case .string(let text) where text.lowercased() == "true": return true
        case .string(let text) where text.lowercased() == "false": return false
        case .string(let text):
            throw .invalidParameter("Invalid boolean value: \(text), must be 'true' or 'false'.")
        default: throw Self.invalidType(name, value)
        }
    }

    // MARK: - Repeated fields

    func array(_ name: String) throws(SwiftflowError) -> [JSONValue] {
        guard let value = value(name) else { return [] }
        switch value {
        case .array(let elements): return elements
        case .string: return [value]  // a repeated field given once in a query string
        default: throw Self.invalidType(name, value)
        }
    }

    func stringArray(_ name: String) throws(SwiftflowError) -> [String] {
        try array(name).map { element throws(SwiftflowError) -> String in
            guard case .string(let text) = element else { throw Self.invalidType(name, element) }
            return text
        }
    }

    /// A repeated `{key, value}` message, e.g. tags.
    func keyValues(_ name: String) throws(SwiftflowError) -> [KeyValue] {
        try objects(name).map { item throws(SwiftflowError) -> KeyValue in
            guard let key = try item.string("key") else { throw .invalidParameter(Validation.missingValue("\(name).key")) }
            return KeyValue(key, try item.string("value") ?? "")
        }
    }

    /// A repeated message field, each element as a request of its own.
    func objects(_ name: String) throws(SwiftflowError) -> [MLflowRequest] {
        try array(name).map { element throws(SwiftflowError) -> MLflowRequest in
            guard case .object(let object) = element else { throw Self.invalidType(name, element) }
            return MLflowRequest(fields: object)
        }
    }

    func object(_ name: String) throws(SwiftflowError) -> MLflowRequest? {
        guard let value = value(name) else { return nil }
        guard case .object(let object) = value else { throw Self.invalidType(name, value) }
        return MLflowRequest(fields: object)
    }
}
