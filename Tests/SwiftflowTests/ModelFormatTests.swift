import SwiftflowCore
import SwiftflowModels
import Testing

/// The MLmodel file of a scikit-learn model as mlflow 3.17.2 writes it.
private let sklearnMLmodel = """
    artifact_path: mlflow-artifacts:/0/models/m-5843/artifacts
    flavors:
      python_function:
        env:
          conda: conda.yaml
          virtualenv: python_env.yaml
        loader_module: mlflow.sklearn
        model_path: model.skops
        predict_fn: predict
        python_version: 3.11.7
      sklearn:
        code: null
        pickled_model: model.skops
        serialization_format: skops
        sklearn_version: 1.9.1
    is_signature_from_type_hint: false
    mlflow_version: 3.17.2
    model_id: m-5843
    model_size_bytes: 26911
    model_uuid: m-5843
    run_id: e8a93ea155c3481b84050bde9ed6273d
    saved_input_example_info:
      artifact_path: input_example.json
      pandas_orient: split
      serving_input_path: serving_input_example.json
      type: dataframe
    signature:
      inputs: '[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "n", "required": false}]'
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
      params: '[{"name": "factor", "default": 2.0, "shape": null, "type": "double"}]'
    type_hint_from_example: false
    utc_time_created: '2026-11-25 17:00:30.795113'

    """

@Suite("MLmodel, signatures and python_env.yaml")
struct ModelFormatTests {
    @Test("an MLmodel file is read field by field")
    func parsesMLmodel() throws {
        let model = try MLmodel.parse(yaml: sklearnMLmodel)
        #expect(model.flavorNames == ["python_function", "sklearn"])
        #expect(model.pythonFunction == MLmodel.PythonFunction(
            loaderModule: "mlflow.sklearn", pythonVersion: "3.11.7", virtualenvFile: "python_env.yaml",
            condaFile: "conda.yaml", predictFunction: "predict"))
        #expect(model.modelId == "m-5843")
        #expect(model.runId == "e8a93ea155c3481b84050bde9ed6273d")
        #expect(model.utcTimeCreated == "2026-11-25 17:00:30.795113")
        #expect(model.inputExample?.servingInputPath == "serving_input_example.json")
        guard case .columns(let columns)? = model.signature?.inputs else {
            Issue.record("expected a column-based input schema")
            return
        }
        #expect(columns.map(\.name) == ["a", "n"])
        #expect(columns.map(\.type) == [.double, .long])
        #expect(columns.map(\.required) == [true, false])
        guard case .tensors(let tensors)? = model.signature?.outputs else {
            Issue.record("expected a tensor-based output schema")
            return
        }
        #expect(tensors.first?.dtype == "int64")
        #expect(tensors.first?.shape == [-1])
        #expect(model.signature?.params?.first?.name == "factor")
        #expect(model.signature?.params?.first?.defaultValue == .number("2.0"))
    }

    @Test("writing a parsed file and reading it back keeps every field")
    func roundTrips() throws {
        let model = try MLmodel.parse(yaml: sklearnMLmodel)
        let text = try model.yaml()
        let again = try MLmodel.parse(yaml: text)
        #expect(again.document == model.document)
        #expect(again.signature == model.signature)
        // Strings that look like other types stay strings.
        #expect(text.contains("utc_time_created: '2026-11-25 17:00:30.795113'"))
        #expect(text.contains("mlflow_version: 3.17.2"))
    }

    @Test("a file without flavors or with a bad signature is refused with a reason")
    func refusesBadFiles() {
        #expect(throws: SwiftflowError.self) { try MLmodel.parse(yaml: "run_id: x\n") }
        #expect(throws: SwiftflowError.self) {
            try MLmodel.parse(yaml: "flavors: {python_function: {loader_module: m}}\nsignature: {inputs: 'not json'}\n")
        }
        #expect(throws: SwiftflowError.self) { try MLmodel.parse(yaml: "flavors: {python_function: {env: x}}\n") }
    }

    @Test("python_env.yaml and requirements.txt")
    func pythonEnv() throws {
        let env = try PythonEnvFile.parse(yaml: """
            python: 3.11.7
            build_dependencies:
            - pip==23.2.1
            - wheel
            dependencies:
            - -r requirements.txt
            """)
        #expect(env.python == "3.11.7")
        #expect(env.buildDependencies == ["pip==23.2.1", "wheel"])
        #expect(env.dependencies == ["-r requirements.txt"])
        #expect(PythonEnvFile.requirementLines("mlflow==3.17.2\n\n# comment\nnumpy  # pinned below\n") == ["mlflow==3.17.2", "numpy"])
    }
}

@Suite("Scoring requests read by the server")
struct TypedRequestTests {
    private func contract(_ signature: String? = nil) throws -> TypedRequest.Contract {
        var text = "flavors: {python_function: {loader_module: mlflow.sklearn}}\n"
        if let signature { text += "signature: {inputs: '\(signature)'}\n" }
        return TypedRequest.Contract(model: try MLmodel.parse(yaml: text))
    }

    private func parse(_ json: String, _ contract: TypedRequest.Contract) -> TypedRequest? {
        TypedRequest.parse(body: Array(json.utf8), contract: contract)
    }

    @Test("dataframe_split becomes typed columns as pandas would infer them")
    func split() throws {
        let request = try #require(parse(
            #"{"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[1, 2.5, true, "x"], [3, -1, false, "é"]]}, "params": {"k": 1.0}}"#,
            try contract()))
        #expect(request.rowCount == 2)
        #expect(request.columns.map(\.kind) == [.int64, .float64, .bool, .strings])
        #expect(request.columns[0].data == [1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0])
        #expect(request.columns[1].data == (2.5).bitPattern.littleEndianBytes + (-1.0).bitPattern.littleEndianBytes)
        #expect(request.columns[2].data == [1, 0])
        #expect(String(decoding: request.columns[3].data, as: UTF8.self) == #"["x","\u00e9"]"#)
        #expect(String(decoding: request.paramsJSON ?? [], as: UTF8.self) == #"{"k":1.0}"#)
        #expect(request.batchable)
    }

    @Test("dataframe_records with keys in any order")
    func records() throws {
        let request = try #require(parse(#"{"dataframe_records": [{"a": 1, "b": "p"}, {"b": "q", "a": 2}]}"#, try contract()))
        #expect(request.columns.map(\.name) == ["a", "b"])
        #expect(request.columns.map(\.kind) == [.int64, .strings])
        #expect(request.rowCount == 2)
    }

    @Test("anything pandas or MLflow might read differently goes to MLflow's own code")
    func declines() throws {
        let any = try contract()
        for body in [
            "", "[]", "null", "{", #"{"dataframe_split": {"columns": ["a"], "data": [[1]]}, "other": 1}"#,
            #"{"instances": [{"a": 1}]}"#, #"{"inputs": {"a": [1]}}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[1]]}, "dataframe_records": []}"#,
            #"{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}"#,
            #"{"dataframe_split": {"data": [[1]]}}"#,
            #"{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[null]]}}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[1], ["x"]]}}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[[1, 2]]]}}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[99999999999999999999]]}}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": []}}"#,
            #"{"dataframe_records": [{"a": 1}, {"b": 2}]}"#,
            #"{"dataframe_records": [{"a": 1}, {"a": 2, "b": 3}]}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[1]]}, "params": [1]}"#,
            #"{"dataframe_split": {"columns": ["a"], "data": [[NaN]]}}"#,
        ] {
            #expect(parse(body, any) == nil, "\(body)")
        }
        #expect(TypedRequest.parse(body: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], contract: any) == nil)
    }

    @Test("the signature is checked: missing required columns and wrong types go to MLflow")
    func signature() throws {
        let schema = try contract(#"[{"type": "double", "name": "x", "required": true}, {"type": "long", "name": "n", "required": true}, {"type": "string", "name": "s", "required": false}]"#)
        #expect(parse(#"{"dataframe_records": [{"x": 1, "n": 2}]}"#, schema) != nil)
        #expect(parse(#"{"dataframe_records": [{"x": 1.5, "n": 2, "s": "a", "extra": true}]}"#, schema) != nil)
        #expect(parse(#"{"dataframe_records": [{"x": 1.5}]}"#, schema) == nil)
        #expect(parse(#"{"dataframe_records": [{"x": "1.5", "n": 2}]}"#, schema) == nil)
        #expect(parse(#"{"dataframe_records": [{"x": 1.5, "n": 2.5}]}"#, schema) == nil)
        #expect(parse(#"{"dataframe_records": [{"x": 1.5, "n": 2, "s": 3}]}"#, schema) == nil)
    }

    @Test("a request with an index is never batched with others")
    func index() throws {
        let request = try #require(parse(#"{"dataframe_split": {"columns": ["a"], "index": [7, "x"], "data": [[1], [2]]}}"#, try contract()))
        #expect(!request.batchable)
        #expect(String(decoding: request.indexJSON ?? [], as: UTF8.self) == #"[7,"x"]"#)
        #expect(parse(#"{"dataframe_split": {"columns": ["a"], "index": [7], "data": [[1], [2]]}}"#, try contract()) == nil)
    }

    @Test("a batch frame stacks the rows of its requests and the answers frame splits back")
    func frames() throws {
        let any = try contract()
        let first = try #require(parse(#"{"dataframe_split": {"columns": ["a", "s"], "data": [[1, "x"]]}}"#, any))
        let second = try #require(parse(#"{"dataframe_split": {"columns": ["a", "s"], "data": [[2, "y"], [3, "z"]]}}"#, any))
        #expect(first.batchKey == second.batchKey)
        let frame = WorkerFrame.batch([first, second])
        let text = String(decoding: frame, as: UTF8.self)
        #expect(frame.first == UInt8(ascii: "B"))
        #expect(text.contains(#"{"columns":[["a","i8"],["s","s"]],"counts":[1,2]}"#))
        #expect(text.hasSuffix(#"["x","y","z"]"#))

        var payload: [UInt8] = []
        WorkerFrame.appendUInt32(&payload, 2)
        for (status, body) in [(200, "{\"predictions\": [1]}"), (0, "")] {
            payload += [UInt8(status & 0xFF), UInt8(status >> 8)]
            let media = status == 0 ? "" : "application/json"
            payload.append(UInt8(media.utf8.count))
            payload += Array(media.utf8)
            WorkerFrame.appendUInt32(&payload, UInt32(body.utf8.count))
            payload += Array(body.utf8)
        }
        let answers = try #require(WorkerFrame.answers(payload))
        #expect(answers.map(\.status) == [200, 0])
        #expect(String(decoding: answers[0].body, as: UTF8.self) == "{\"predictions\": [1]}")
        #expect(WorkerFrame.answers(Array(payload.dropLast())) == nil)
    }
}

extension UInt64 {
    fileprivate var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
