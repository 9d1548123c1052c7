import Foundation
import SwiftflowCore
import Testing

private let project = """
    name: demo
    python_env: python_env.yaml
    entry_points:
      main:
        parameters:
          alpha: {type: float, default: 0.5}
          epochs: {type: int, default: 3}
          label: {type: string, default: "a b"}
          flag: {default: true}
          data: path
        command: "python train.py --alpha {alpha} --epochs {epochs} --label {label} --data {data} {{literal}}"
      other:
        command: "bash run.sh"
    """

@Suite("MLproject files")
struct MLprojectTests {
    @Test("entry points, parameters with types and defaults, and the environment")
    func parses() throws {
        let parsed = try MLproject.parse(yaml: project)
        #expect(parsed.name == "demo")
        #expect(parsed.environment == .python(file: "python_env.yaml"))
        #expect(parsed.entryPoints.map(\.name) == ["main", "other"])
        let main = try parsed.entryPoint("main")
        #expect(main.parameters.map(\.name) == ["alpha", "epochs", "label", "flag", "data"])
        #expect(main.parameters.map(\.type) == [.float, .int, .string, .string, .path])
        #expect(main.parameters.map(\.defaultValue) == ["0.5", "3", "a b", "True", nil])
    }

    @Test("the command: values substituted and shell-quoted, extra parameters appended as --key value")
    func command() throws {
        let main = try MLproject.parse(yaml: project).entryPoint("main")
        let command = try main.command([("data", "x.csv"), ("alpha", "0.1"), ("extra key", "it's")])
        #expect(command == "python train.py --alpha 0.1 --epochs 3 --label 'a b' --data x.csv {literal} --'extra key' 'it'\"'\"'s'")
        let (parameters, extra) = try main.resolve([("data", "x.csv")])
        #expect(parameters.map(\.value) == ["0.5", "3", "'a b'", "True", "x.csv"])
        #expect(extra.isEmpty)
    }

    @Test("missing parameters and values of the wrong type are refused before anything runs")
    func refuses() throws {
        let main = try MLproject.parse(yaml: project).entryPoint("main")
        #expect(throws: SwiftflowError.self) { try main.command([]) }
        do {
            _ = try main.command([])
        } catch {
            #expect(error.message == "No value given for missing parameters: 'data'")
        }
        for (key, value) in [("epochs", "2.5"), ("epochs", "ten"), ("alpha", "abc")] {
            #expect(throws: SwiftflowError.self, "\(key)=\(value)") { try main.command([("data", "x"), (key, value)]) }
        }
        #expect(try main.command([("data", "x"), ("alpha", "1e-3"), ("epochs", "-2")]).contains("--alpha 1e-3 --epochs -2"))
    }

    @Test("a local path parameter must exist and becomes absolute")
    func paths() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlproject-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("x.csv").path, contents: Data())
        let main = try MLproject.parse(yaml: project).entryPoint("main")
        let command = try main.command([("data", "x.csv")], workingDirectory: folder)
        #expect(command.contains(folder.appendingPathComponent("x.csv").standardizedFileURL.path))
        #expect(throws: SwiftflowError.self) { try main.command([("data", "nope.csv")], workingDirectory: folder) }
    }

    @Test(".py and .sh files are entry points of their own; anything else is named in the error")
    func scripts() throws {
        let parsed = try MLproject.parse(yaml: project)
        #expect(try parsed.entryPoint("hello.py").command == "python hello.py")
        #expect(try parsed.entryPoint("my script.sh").command == "bash 'my script.sh'")
        do {
            _ = try parsed.entryPoint("train")
            Issue.record("an unknown entry point was accepted")
        } catch {
            #expect(error.message.contains("Could not find train among entry points ['main', 'other']"))
        }
    }

    @Test("two environments, a docker_env without an image, and bad types are refused")
    func invalid() {
        #expect(throws: SwiftflowError.self) { try MLproject.parse(yaml: "python_env: a.yaml\nconda_env: b.yaml\n") }
        #expect(throws: SwiftflowError.self) { try MLproject.parse(yaml: "docker_env: {volumes: []}\n") }
        #expect(throws: SwiftflowError.self) {
            try MLproject.parse(yaml: "entry_points: {main: {parameters: {a: decimal}, command: x}}\n")
        }
        #expect(throws: SwiftflowError.self) { try MLproject.parse(yaml: "entry_points: {main: {parameters: {}}}\n") }
    }

    @Test("docker_env with volumes and environment variables")
    func docker() throws {
        let parsed = try MLproject.parse(yaml: """
            docker_env:
              image: repo/image:1
              volumes: ["/a:/a"]
              environment: [["NEW", "value"], "COPIED"]
            entry_points: {main: {command: "python x.py"}}
            """)
        #expect(parsed.environment == .docker(.init(image: "repo/image:1", volumes: ["/a:/a"],
                                                     environment: [.set("NEW", "value"), .copy("COPIED")])))
    }

    @Test("shell quoting is Python's shlex.quote")
    func quoting() {
        #expect(ShellQuote.quote("") == "''")
        #expect(ShellQuote.quote("abc-1.2_x/y:z@%+=,") == "abc-1.2_x/y:z@%+=,")
        #expect(ShellQuote.quote("a b") == "'a b'")
        #expect(ShellQuote.quote("it's") == "'it'\"'\"'s'")
        #expect(ShellQuote.quote("é") == "'é'")
    }
}

@Suite("MLproject defaults as PyYAML reads them")
struct MLprojectDefaultTests {
    @Test("YAML 1.1 scalars: floats need a dot, yes/no are booleans, quoted text stays text")
    func defaults() throws {
        let parsed = try MLproject.parse(yaml: """
            entry_points:
              main:
                parameters:
                  a: {default: 1.0}
                  b: {default: 1.5e3}
                  c: {default: 1e-3}
                  d: {default: 1.5e+3}
                  e: {default: yes}
                  f: {default: "yes"}
                  g: {default: 0x1F}
                  h: {default: 1_000}
                  i: {default: .inf}
                  j: {default: ~}
                  k: {default: -2}
                  l: {default: 0.10}
                command: x
            """)
        let defaults = try parsed.entryPoint("main").parameters.map(\.defaultValue)
        #expect(defaults == ["1.0", "1.5e3", "1e-3", "1500.0", "True", "yes", "31", "1000", "inf", nil, "-2", "0.1"])
    }
}
