import Foundation
import Yams

/// A model's `python_env.yaml`: the Python version and the pip packages its environment needs.
public struct PythonEnvFile: Sendable, Equatable {
    public var python: String?
    public var buildDependencies: [String]
    /// pip requirement lines; `-r requirements.txt` refers to a file beside this one.
    public var dependencies: [String]

    public init(python: String?, buildDependencies: [String], dependencies: [String]) {
        self.python = python
        self.buildDependencies = buildDependencies
        self.dependencies = dependencies
    }

    public static func parse(yaml text: String) throws(SwiftflowError) -> PythonEnvFile {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw .invalidParameter("Invalid python_env.yaml: the text is not valid YAML (\(error)).")
        }
        guard let root = document as? [String: Any] else {
            throw .invalidParameter("Invalid python_env.yaml: the document must be a mapping.")
        }
        func list(_ key: String) throws(SwiftflowError) -> [String] {
            guard let value = root[key] else { return [] }
            guard let items = value as? [Any] else {
                throw .invalidParameter("Invalid python_env.yaml: `\(key)` must be a list.")
            }
            return items.map { "\($0)" }
        }
        let python = root["python"].map { "\($0)" }
        return PythonEnvFile(python: python, buildDependencies: try list("build_dependencies"),
                             dependencies: try list("dependencies"))
    }

    /// The text of a `requirements.txt`, as pip requirement lines (comments and blanks dropped).
    public static func requirementLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline)
            .map { line in
                let withoutComment = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                return withoutComment.trimmingCharacters(in: .whitespaces)
            }
            .filter { !$0.isEmpty }
    }
}
