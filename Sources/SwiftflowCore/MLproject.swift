import Foundation
import Yams

/// An `MLproject` file: entry points with typed parameters and command templates, and the
/// environment the commands run in. Read as MLflow's `_project_spec.load_project` reads it.
public struct MLproject: Sendable, Equatable {
    public enum Environment: Sendable, Equatable {
        /// `python_env: file` (or a `python_env.yaml` beside the file).
        case python(file: String)
        /// `conda_env: file` (or a `conda.yaml` beside the file).
        case conda(file: String)
        case docker(DockerEnvironment)
        /// Nothing declared: the current environment.
        case none
    }

    public struct DockerEnvironment: Sendable, Equatable {
        public var image: String
        public var volumes: [String]
        /// `"NAME"` copies a variable from the host; `["NAME", "value"]` sets one.
        public var environment: [DockerVariable]

        public init(image: String, volumes: [String] = [], environment: [DockerVariable] = []) {
            self.image = image
            self.volumes = volumes
            self.environment = environment
        }
    }

    public enum DockerVariable: Sendable, Equatable {
        case copy(String)
        case set(String, String)
    }

    public var name: String?
    /// Entry points in file order.
    public var entryPoints: [EntryPoint]
    public var environment: Environment

    public init(name: String? = nil, entryPoints: [EntryPoint] = [], environment: Environment = .none) {
        self.name = name
        self.entryPoints = entryPoints
        self.environment = environment
    }

    /// The project in `directory`: its `MLproject` file (any letter case) or, without one, a project
    /// whose entry points are the folder's `.py` and `.sh` files.
    public static func load(directory: URL) throws(SwiftflowError) -> MLproject {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var project = MLproject()
        if let file = names.first(where: { $0.lowercased() == "mlproject" }) {
            let url = directory.appendingPathComponent(file)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw .invalidParameter("Could not read \(url.path).")
            }
            project = try parse(yaml: text)
        }
        switch project.environment {
        case .python(let file), .conda(let file):
            let path = directory.appendingPathComponent(file).path
            guard FileManager.default.fileExists(atPath: path) else {
                let kind = if case .python = project.environment { "python_env file" } else { "conda environment file" }
                throw .invalidParameter("Project specified \(kind) \(path), but no such file was found.")
            }
        case .docker:
            break
        case .none:
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("python_env.yaml").path) {
                project.environment = .python(file: "python_env.yaml")
            } else if FileManager.default.fileExists(atPath: directory.appendingPathComponent("conda.yaml").path) {
                project.environment = .conda(file: "conda.yaml")
            }
        }
        return project
    }

    /// Parses an MLproject file's text.
    /// - Throws: `INVALID_PARAMETER_VALUE` saying what is wrong.
    public static func parse(yaml text: String) throws(SwiftflowError) -> MLproject {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw .invalidParameter("Invalid MLproject file: the text is not valid YAML (\(error)).")
        }
        guard let node else { return MLproject() }
        guard let root = node.mapping else {
            throw .invalidParameter("Invalid MLproject file: the document must be a mapping.")
        }
        var project = MLproject()
        project.name = root["name"]?.string
        let environments = ["python_env", "conda_env", "docker_env"].filter { root[$0] != nil }
        if environments.count > 1 {
            throw .invalidParameter(
                "Project cannot contain multiple environment fields: {\(environments.map { "'\($0)'" }.joined(separator: ", "))}")
        }
        if let entryPoints = root["entry_points"] {
            guard let mapping = entryPoints.mapping else {
                throw .invalidParameter("Invalid MLproject file: `entry_points` must be a mapping.")
            }
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                project.entryPoints.append(try EntryPoint(name: name, node: value))
            }
        }
        if let docker = root["docker_env"] {
            guard let image = docker.mapping?["image"]?.string, !image.isEmpty else {
                throw .invalidParameter("Project configuration (MLproject file) was invalid: Docker environment specified "
                                        + "but no image attribute found.")
            }
            var environment = DockerEnvironment(image: image, volumes: [], environment: [])
            if let volumes = docker.mapping?["volumes"] {
                guard let items = volumes.sequence, let strings = Optional(items.compactMap(\.string)),
                      strings.count == items.count else {
                    throw .invalidParameter("Project configuration (MLproject file) was invalid: Docker volumes must be a "
                                            + "list of strings, e.g.: '[\"/path1/:/path1\", \"/path2/:/path2\"])")
                }
                environment.volumes = strings
            }
            if let variables = docker.mapping?["environment"] {
                let invalid = SwiftflowError.invalidParameter(
                    "Project configuration (MLproject file) was invalid: environment must be a list containing either "
                        + "strings (to copy environment variables from host system) or lists of string pairs (to define "
                        + "new environment variables).E.g.: '[[\"NEW_VAR\", \"new_value\"], \"VAR_TO_COPY_FROM_HOST\"])")
                guard let items = variables.sequence else { throw invalid }
                for item in items {
                    if let name = item.string {
                        environment.environment.append(.copy(name))
                    } else if let pair = item.sequence, pair.count == 2, let name = pair[0].string, let value = pair[1].string {
                        environment.environment.append(.set(name, value))
                    } else {
                        throw invalid
                    }
                }
            }
            project.environment = .docker(environment)
        } else if let file = root["python_env"]?.string {
            project.environment = .python(file: file)
        } else if let file = root["conda_env"]?.string {
            project.environment = .conda(file: file)
        }
        return project
    }

    /// The entry point called `name`, or one made for a `.py` / `.sh` file as MLflow does.
    /// - Throws: `INVALID_PARAMETER_VALUE` naming the entry points there are.
    public func entryPoint(_ name: String, shell: String = "bash") throws(SwiftflowError) -> EntryPoint {
        if let entry = entryPoints.first(where: { $0.name == name }) { return entry }
        if name.hasSuffix(".py") {
            return EntryPoint(name: name, parameters: [], command: "python \(ShellQuote.quote(name))")
        }
        if name.hasSuffix(".sh") {
            return EntryPoint(name: name, parameters: [], command: "\(shell) \(ShellQuote.quote(name))")
        }
        throw .invalidParameter(
            "Could not find \(name) among entry points [\(entryPoints.map { "'\($0.name)'" }.joined(separator: ", "))] or interpret \(name) "
                + "as a runnable script. Supported script file extensions: ['.py', '.sh']")
    }
}

/// One entry point: its parameters in file order and its command template.
public struct EntryPoint: Sendable, Equatable {
    public var name: String
    public var parameters: [ProjectParameter]
    public var command: String

    public init(name: String, parameters: [ProjectParameter], command: String) {
        self.name = name
        self.parameters = parameters
        self.command = command
    }

    init(name: String, node: Node) throws(SwiftflowError) {
        self.name = name
        guard let mapping = node.mapping, let command = mapping["command"]?.string else {
            throw .invalidParameter("Invalid MLproject file: entry point '\(name)' has no command.")
        }
        self.command = command
        parameters = []
        if let declared = mapping["parameters"] {
            guard let items = declared.mapping else {
                throw .invalidParameter("Invalid MLproject file: the parameters of entry point '\(name)' must be a mapping.")
            }
            for (key, value) in items {
                guard let parameterName = key.string else { continue }
                parameters.append(try ProjectParameter(name: parameterName, node: value))
            }
        }
    }

    /// The values to substitute and to log: declared parameters (given or default) and the extra
    /// ones given, each checked against its type and shell-quoted as MLflow does.
    /// - Throws: `INVALID_PARAMETER_VALUE` for missing parameters and values of the wrong type.
    public func resolve(_ given: [(key: String, value: String)], workingDirectory: URL? = nil)
        throws(SwiftflowError) -> (parameters: [(key: String, value: String)], extra: [(key: String, value: String)])
    {
        let byName = Dictionary(given.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        let missing = parameters.filter { byName[$0.name] == nil && $0.defaultValue == nil }.map { "'\($0.name)'" }
        if !missing.isEmpty {
            throw .invalidParameter("No value given for missing parameters: \(missing.joined(separator: ", "))")
        }
        var resolved: [(key: String, value: String)] = []
        for parameter in parameters {
            let value = byName[parameter.name] ?? parameter.defaultValue!
            resolved.append((parameter.name, ShellQuote.quote(try parameter.check(value, workingDirectory: workingDirectory))))
        }
        var extra: [(key: String, value: String)] = []
        var seen = Set(parameters.map(\.name))
        for (key, value) in given where seen.insert(key).inserted {
            extra.append((ShellQuote.quote(key), ShellQuote.quote(byName[key] ?? value)))
        }
        return (resolved, extra)
    }

    /// The shell command: the template with `{name}` replaced, then `--key value` for each extra parameter.
    public func command(_ given: [(key: String, value: String)], workingDirectory: URL? = nil) throws(SwiftflowError) -> String {
        let (resolved, extra) = try resolve(given, workingDirectory: workingDirectory)
        var text = try Self.format(command, Dictionary(resolved.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }))
        for (key, value) in extra { text += " --\(key) \(value)" }
        return text
    }

    /// Python's `str.format` with named fields only: `{name}` substituted, `{{` and `}}` kept as braces.
    static func format(_ template: String, _ values: [String: String]) throws(SwiftflowError) -> String {
        var out = ""
        var index = template.startIndex
        while index < template.endIndex {
            let character = template[index]
            let next = template.index(after: index)
            if character == "{" {
                if next < template.endIndex, template[next] == "{" {
                    out.append("{")
                    index = template.index(after: next)
                    continue
                }
                guard let close = template[next...].firstIndex(of: "}") else {
                    throw .invalidParameter("The command template has an unmatched '{': \(template)")
                }
                let field = String(template[next..<close])
                guard let value = values[field] else {
                    throw .invalidParameter("The command template refers to '{\(field)}', which is not a parameter of the entry point.")
                }
                out += value
                index = template.index(after: close)
            } else if character == "}" {
                guard next < template.endIndex, template[next] == "}" else {
                    throw .invalidParameter("The command template has an unmatched '}': \(template)")
                }
                out.append("}")
                index = template.index(after: next)
            } else {
                out.append(character)
                index = next
            }
        }
        return out
    }
}

/// A declared parameter: `name: type` or `name: {type: ..., default: ...}`.
public struct ProjectParameter: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case string, float, int, path, uri
    }

    public var name: String
    public var type: Kind
    /// The default as MLflow's `str()` prints it; nil when the parameter must be given.
    public var defaultValue: String?

    public init(name: String, type: Kind, defaultValue: String?) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
    }

    init(name: String, node: Node) throws(SwiftflowError) {
        self.name = name
        let typeName: String
        if let text = node.string, node.mapping == nil {
            typeName = text
            defaultValue = nil
        } else if let mapping = node.mapping {
            typeName = mapping["type"]?.string ?? "string"
            defaultValue = mapping["default"].flatMap(Self.pythonString)
        } else {
            throw .invalidParameter("Invalid MLproject file: parameter '\(name)' must be a type name or a mapping.")
        }
        guard let kind = Kind(rawValue: typeName) else {
            throw .invalidParameter(
                "Invalid MLproject file: parameter '\(name)' has the unknown type '\(typeName)' (string, float, int, path, uri).")
        }
        type = kind
    }

    /// A YAML scalar as Python's `str()` prints what PyYAML makes of it (nil for null). PyYAML reads
    /// YAML 1.1: `1e-3` is a string (a float needs a dot), `yes` is True, `0x1F` is 31.
    static func pythonString(_ node: Node) -> String? {
        guard let scalar = node.scalar else { return nil }
        let text = scalar.string
        guard scalar.style == .plain || scalar.style == .any else { return text }
        if ["", "~", "null", "Null", "NULL"].contains(text) { return nil }
        if ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"].contains(text) { return "True" }
        if ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"].contains(text) { return "False" }
        if let integer = yaml11Int(text) { return integer }
        if let float = yaml11Float(text) { return float }
        return text
    }

    private static func yaml11Int(_ text: String) -> String? {
        var body = Substring(text)
        var sign = ""
        if let first = body.first, first == "-" || first == "+" {
            sign = first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        let digits = body.replacingOccurrences(of: "_", with: "")
        let value: Int?
        if body.hasPrefix("0b") {
            value = Int(digits.dropFirst(2), radix: 2)
        } else if body.hasPrefix("0x") {
            value = Int(digits.dropFirst(2), radix: 16)
        } else if body.count > 1, body.hasPrefix("0") {
            value = digits.allSatisfy({ ("0"..."7").contains($0) }) ? Int(digits, radix: 8) : nil
        } else if let first = body.first, first.isASCII, first.isNumber, body.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) {
            value = Int(digits)
        } else {
            value = nil
        }
        guard let value, !digits.isEmpty else { return nil }
        return sign + String(value)
    }

    private static func yaml11Float(_ text: String) -> String? {
        let lower = text.lowercased()
        if [".inf", "+.inf"].contains(lower) { return "inf" }
        if lower == "-.inf" { return "-inf" }
        if lower == ".nan" { return "nan" }
        // [-+]?digits.digits?([eE][-+]digits)? or .digits([eE][-+]digits)?
        var rest = Substring(text)
        if let first = rest.first, first == "-" || first == "+" { rest = rest.dropFirst() }
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        let whole = rest[..<dot]
        var fraction = rest[rest.index(after: dot)...]
        var exponent: Substring = ""
        if let e = fraction.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = fraction[fraction.index(after: e)...]
            fraction = fraction[..<e]
            guard let sign = exponent.first, sign == "-" || sign == "+", exponent.count > 1,
                  exponent.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        }
        let isDigits: (Substring) -> Bool = { $0.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "_" } }
        guard isDigits(whole), isDigits(fraction), !(whole.isEmpty && fraction.isEmpty),
              whole.isEmpty ? !fraction.isEmpty : whole.first!.isNumber,
              let value = Double(text.replacingOccurrences(of: "_", with: "")) else { return nil }
        return value.description
    }

    /// `value` checked against the type: ints and floats must parse, `uri` needs a scheme, a local
    /// `path` must exist (and becomes absolute).
    func check(_ value: String, workingDirectory: URL?) throws(SwiftflowError) -> String {
        switch type {
        case .string:
            return value
        case .int:
            guard Int(value.trimmingCharacters(in: .whitespaces)) != nil else {
                throw .invalidParameter("Parameter '\(name)' is of type int, but the value '\(value)' is not an integer.")
            }
            return value
        case .float:
            let text = value.trimmingCharacters(in: .whitespaces).lowercased()
            guard Double(text) != nil || ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"].contains(text) else {
                throw .invalidParameter("Parameter '\(name)' is of type float, but the value '\(value)' is not a number.")
            }
            return value
        case .uri:
            guard URLParts(value).scheme.count > 0 || value.hasPrefix("/") else {
                throw .invalidParameter("Expected URI for parameter \(name) but got \(value)")
            }
            return value
        case .path:
            guard let workingDirectory else { return value }
            let parts = URLParts(value)
            if !parts.scheme.isEmpty && parts.scheme != "file" {
                throw .invalidParameter(
                    "Parameter '\(name)' is a remote URI (\(value)); only local paths are supported for `path` parameters.")
            }
            let local = parts.scheme == "file" ? parts.path : value
            let url = local.hasPrefix("/") ? URL(fileURLWithPath: local)
                : workingDirectory.appendingPathComponent(local)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw .invalidParameter("Got value \(value) for parameter \(name), but no such file or directory was found.")
            }
            return url.standardizedFileURL.path
        }
    }
}

/// Python's `shlex.quote`.
public enum ShellQuote {
    public static func quote(_ text: String) -> String {
        if text.isEmpty { return "''" }
        let safe = text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "@%+=:,./-_".unicodeScalars.contains(scalar))
        }
        if safe { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }
}
