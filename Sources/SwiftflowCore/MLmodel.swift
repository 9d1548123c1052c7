import Foundation
import Yams

/// An `MLmodel` file: the metadata MLflow writes beside every logged model.
///
/// Fields we act on are typed; the whole document is kept too (`document`) so that writing a parsed
/// file back loses nothing we do not know about (a flavor's own settings, future fields).
public struct MLmodel: Sendable {
    /// The `python_function` flavor: how a generic Python process loads and calls the model.
    public struct PythonFunction: Sendable, Equatable {
        public var loaderModule: String
        public var pythonVersion: String?
        /// `env.virtualenv` and `env.conda` (older models give `env` as the conda file name alone).
        public var virtualenvFile: String?
        public var condaFile: String?
        public var predictFunction: String?

        public init(loaderModule: String, pythonVersion: String? = nil, virtualenvFile: String? = nil,
                    condaFile: String? = nil, predictFunction: String? = nil) {
            self.loaderModule = loaderModule
            self.pythonVersion = pythonVersion
            self.virtualenvFile = virtualenvFile
            self.condaFile = condaFile
            self.predictFunction = predictFunction
        }
    }

    /// `saved_input_example_info`.
    public struct InputExampleInfo: Sendable, Equatable {
        public var artifactPath: String
        public var type: String?
        public var pandasOrient: String?
        public var servingInputPath: String?
    }

    public var artifactPath: String?
    public var runId: String?
    public var modelUUID: String?
    public var modelId: String?
    public var utcTimeCreated: String?
    public var mlflowVersion: String?
    /// The flavor names in file order.
    public var flavorNames: [String]
    public var pythonFunction: PythonFunction?
    public var signature: ModelSignature?
    public var inputExample: InputExampleInfo?
    public var isSignatureFromTypeHint: Bool
    public var typeHintFromExample: Bool
    /// The parsed YAML mapping as read (or as built by `init`), written back by `yaml()`.
    public var document: [String: YAMLValue]

    /// Parses an `MLmodel` file's text.
    /// - Throws: `INVALID_PARAMETER_VALUE` naming the field at fault.
    public static func parse(yaml text: String) throws(SwiftflowError) -> MLmodel {
        let node: YAMLValue
        do {
            node = YAMLValue(try Yams.load(yaml: text))
        } catch {
            throw .invalidParameter("Invalid MLmodel file: the text is not valid YAML (\(error)).")
        }
        guard case .mapping(let root) = node else {
            throw .invalidParameter("Invalid MLmodel file: the document must be a mapping.")
        }
        return try MLmodel(document: root)
    }

    public init(document root: [String: YAMLValue]) throws(SwiftflowError) {
        func string(_ key: String) -> String? { root[key]?.string }
        document = root
        artifactPath = string("artifact_path")
        runId = string("run_id")
        modelUUID = string("model_uuid")
        modelId = string("model_id")
        utcTimeCreated = string("utc_time_created")
        mlflowVersion = string("mlflow_version")
        isSignatureFromTypeHint = root["is_signature_from_type_hint"]?.bool ?? false
        typeHintFromExample = root["type_hint_from_example"]?.bool ?? false
        guard case .mapping(let flavors)? = root["flavors"] else {
            throw .invalidParameter("Invalid MLmodel file: `flavors` is missing or not a mapping.")
        }
        flavorNames = root.flavorOrder ?? flavors.keys.sorted()
        if case .mapping(let pyfunc)? = flavors["python_function"] {
            guard let loader = pyfunc["loader_module"]?.string else {
                throw .invalidParameter("Invalid MLmodel file: `flavors.python_function.loader_module` is missing.")
            }
            var function = PythonFunction(loaderModule: loader, pythonVersion: pyfunc["python_version"]?.string,
                                          predictFunction: pyfunc["predict_fn"]?.string)
            switch pyfunc["env"] {
            case .mapping(let env)?:
                function.virtualenvFile = env["virtualenv"]?.string
                function.condaFile = env["conda"]?.string
            case .string(let conda)?:
                function.condaFile = conda
            default:
                break
            }
            pythonFunction = function
        }
        if case .mapping(let raw)? = root["signature"] {
            signature = try ModelSignature(
                inputs: raw["inputs"]?.string, outputs: raw["outputs"]?.string, params: raw["params"]?.string)
        }
        if case .mapping(let info)? = root["saved_input_example_info"], let path = info["artifact_path"]?.string {
            inputExample = InputExampleInfo(
                artifactPath: path, type: info["type"]?.string, pandasOrient: info["pandas_orient"]?.string,
                servingInputPath: info["serving_input_path"]?.string)
        }
    }

    /// The file's text, keys sorted as MLflow's `yaml.safe_dump` writes them.
    public func yaml() throws(SwiftflowError) -> String {
        var root = document
        func set(_ key: String, _ value: String?) { if let value { root[key] = .string(value) } }
        set("artifact_path", artifactPath)
        set("run_id", runId)
        set("model_uuid", modelUUID)
        set("model_id", modelId)
        set("utc_time_created", utcTimeCreated)
        set("mlflow_version", mlflowVersion)
        if let signature {
            var raw: [String: YAMLValue] = [:]
            raw["inputs"] = signature.inputsJSON.map(YAMLValue.string) ?? .null
            raw["outputs"] = signature.outputsJSON.map(YAMLValue.string) ?? .null
            raw["params"] = signature.paramsJSON.map(YAMLValue.string) ?? .null
            root["signature"] = .mapping(raw)
        }
        do {
            return try Yams.serialize(node: YAMLValue.mapping(root).node, sortKeys: true)
        } catch {
            throw SwiftflowError(.internalError, "Could not write the MLmodel file.", cause: error)
        }
    }
}

/// A YAML value as plain Swift data (Yams' `Any` made Sendable and comparable).
public enum YAMLValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case sequence([YAMLValue])
    case mapping([String: YAMLValue])

    init(_ any: Any?) {
        switch any {
        case nil, is NSNull: self = .null
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .int(value)
        case let value as Double: self = .double(value)
        case let value as String: self = .string(value)
        case let value as [Any]: self = .sequence(value.map(YAMLValue.init))
        case let value as [String: Any]: self = .mapping(value.mapValues(YAMLValue.init))
        case let value as [AnyHashable: Any]:
            self = .mapping(Dictionary(value.map { ("\($0.key)", YAMLValue($0.value)) }, uniquingKeysWith: { a, _ in a }))
        default: self = .string("\(any!)")
        }
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }

    var node: Node {
        switch self {
        case .null: Node("null", Tag(.null))
        case .bool(let value): Node(value ? "true" : "false", Tag(.bool))
        case .int(let value): Node(String(value), Tag(.int))
        case .double(let value): Node(String(value), Tag(.float))
        case .string(let value): Node(value, Tag(.str), Self.needsQuotes(value) ? .singleQuoted : .any)
        case .sequence(let items): Node(items.map(\.node))
        case .mapping(let members):
            Node(members.sorted { $0.key < $1.key }.map { (Node($0.key), $0.value.node) })
        }
    }

    /// Strings a plain scalar would read back as another type ("null", "1.0", "2026-01-01 ...").
    private static func needsQuotes(_ value: String) -> Bool {
        guard let resolved = try? Yams.load(yaml: value) else { return true }
        return !(resolved is String) || (resolved as? String) != value
    }
}

extension Dictionary where Key == String, Value == YAMLValue {
    /// MLflow writes flavors sorted; we keep that order.
    fileprivate var flavorOrder: [String]? {
        if case .mapping(let flavors)? = self["flavors"] { return flavors.keys.sorted() }
        return nil
    }
}
