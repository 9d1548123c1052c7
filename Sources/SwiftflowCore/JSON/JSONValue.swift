/// A parsed JSON document, as MLflow's protobuf JSON mapping sees it.
///
/// Numbers keep their source text so that int64 values survive exactly and so that the
/// proto3 JSON rules (numbers given as strings, `"NaN"`, `"Infinity"`) can be applied per field.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The value of `key` if this is an object holding it.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// A short name of the value's type, for error messages ("Value was of type 'int'").
    public var pythonTypeName: String {
        switch self {
        case .null: "NoneType"
        case .bool: "bool"
        case .number(let text): text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? "float" : "int"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }
}

/// A JSON object that keeps its keys in document order (the writer needs order; lookups are few).
public struct JSONObject: Sendable, Equatable {
    public var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) { self.members = members }

    public subscript(key: String) -> JSONValue? {
        // Last one wins, as in Python's json.loads.
        for member in members.reversed() where member.key == key { return member.value }
        return nil
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
