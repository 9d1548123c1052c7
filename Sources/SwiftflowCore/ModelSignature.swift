/// A model signature: the input schema, the output schema and the params schema.
///
/// MLflow stores each part in the MLmodel file as a JSON string (`signature.inputs`, ...). The
/// source strings are kept so that a parsed file is written back unchanged.
public struct ModelSignature: Sendable, Equatable {
    public var inputs: Schema?
    public var outputs: Schema?
    public var params: [ParamSpec]?
    public var inputsJSON: String?
    public var outputsJSON: String?
    public var paramsJSON: String?

    public init(inputs: String?, outputs: String?, params: String?) throws(SwiftflowError) {
        inputsJSON = inputs
        outputsJSON = outputs
        paramsJSON = params
        self.inputs = try inputs.map { json throws(SwiftflowError) in try Schema.parse(json, field: "inputs") }
        self.outputs = try outputs.map { json throws(SwiftflowError) in try Schema.parse(json, field: "outputs") }
        self.params = try params.map { json throws(SwiftflowError) in try ParamSpec.parseList(json) }
    }
}

/// A column-based or tensor-based schema.
public enum Schema: Sendable, Equatable {
    case columns([ColumnSpec])
    case tensors([TensorSpec])

    static func parse(_ json: String, field: String) throws(SwiftflowError) -> Schema {
        guard case .array(let items) = try JSONParser.parse(json) else {
            throw .invalidParameter("Invalid MLmodel file: `signature.\(field)` must be a JSON list.")
        }
        let objects = items.compactMap { item -> JSONObject? in if case .object(let o) = item { o } else { nil } }
        guard objects.count == items.count else {
            throw .invalidParameter("Invalid MLmodel file: `signature.\(field)` must be a list of objects.")
        }
        // MLflow refuses to mix the two kinds in one schema.
        if objects.contains(where: { $0["type"] == .string("tensor") }) {
            return .tensors(try objects.map { object throws(SwiftflowError) in try TensorSpec(object, field: field) })
        }
        return .columns(try objects.map { object throws(SwiftflowError) in try ColumnSpec(object, field: field) })
    }
}

/// One column of a column-based schema.
public struct ColumnSpec: Sendable, Equatable {
    /// A scalar MLflow data type, or `other` for arrays, objects, maps and `any`.
    public enum DataType: Sendable, Equatable {
        case boolean, integer, long, float, double, string, binary, datetime
        case other(String)

        init(_ name: String) {
            switch name {
            case "boolean": self = .boolean
            case "integer": self = .integer
            case "long": self = .long
            case "float": self = .float
            case "double": self = .double
            case "string": self = .string
            case "binary": self = .binary
            case "datetime": self = .datetime
            default: self = .other(name)
            }
        }
    }

    public var name: String?
    public var type: DataType
    public var required: Bool

    init(_ object: JSONObject, field: String) throws(SwiftflowError) {
        guard case .string(let type)? = object["type"] else {
            throw .invalidParameter("Invalid MLmodel file: a column in `signature.\(field)` has no type.")
        }
        self.type = DataType(type)
        if case .string(let name)? = object["name"] { self.name = name }
        if case .bool(let required)? = object["required"] { self.required = required } else { required = true }
    }
}

/// One tensor of a tensor-based schema.
public struct TensorSpec: Sendable, Equatable {
    public var name: String?
    public var dtype: String
    public var shape: [Int]

    init(_ object: JSONObject, field: String) throws(SwiftflowError) {
        guard case .object(let spec)? = object["tensor-spec"], case .string(let dtype)? = spec["dtype"] else {
            throw .invalidParameter("Invalid MLmodel file: a tensor in `signature.\(field)` has no tensor-spec.")
        }
        self.dtype = dtype
        if case .string(let name)? = object["name"] { self.name = name }
        var shape: [Int] = []
        if case .array(let dims)? = spec["shape"] {
            for case .number(let text) in dims { shape.append(Int(text) ?? -1) }
        }
        self.shape = shape
    }
}

/// One inference parameter: name, type, default and optional shape.
public struct ParamSpec: Sendable, Equatable {
    public var name: String
    public var type: String
    public var defaultValue: JSONValue
    public var shape: [Int]?

    static func parseList(_ json: String) throws(SwiftflowError) -> [ParamSpec] {
        guard case .array(let items) = try JSONParser.parse(json) else {
            throw .invalidParameter("Invalid MLmodel file: `signature.params` must be a JSON list.")
        }
        var specs: [ParamSpec] = []
        for item in items {
            guard case .object(let object) = item, case .string(let name)? = object["name"],
                  case .string(let type)? = object["type"] else {
                throw .invalidParameter("Invalid MLmodel file: a param in `signature.params` needs a name and a type.")
            }
            var shape: [Int]?
            if case .array(let dims)? = object["shape"] {
                shape = dims.compactMap { if case .number(let text) = $0 { Int(text) } else { nil } }
            }
            specs.append(ParamSpec(name: name, type: type, defaultValue: object["default"] ?? .null, shape: shape))
        }
        return specs
    }
}
