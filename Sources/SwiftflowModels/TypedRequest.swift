import SwiftflowCore

/// A `dataframe_split` or `dataframe_records` request the server has parsed and checked itself, held
/// as typed columns ready for the worker.
///
/// `TypedRequest.parse` answers nil for anything it is not sure pandas and MLflow would read the
/// same way (nulls, mixed types, nested values, odd shapes, schema mismatches): those requests go to
/// the worker as received, where MLflow's own code answers them.
package struct TypedRequest: Sendable {
    package enum Kind: String, Sendable {
        case float64 = "f8", int64 = "i8", bool = "b1", strings = "s"
    }

    package struct Column: Sendable {
        package var name: String
        package var kind: Kind
        /// Little-endian values, or a JSON list for strings.
        package var data: [UInt8]
    }

    package var columns: [Column]
    package var rowCount: Int
    package var paramsJSON: [UInt8]?
    package var indexJSON: [UInt8]?

    /// Requests with equal keys may share one prediction call.
    package var batchKey: String {
        var key = columns.map { "\($0.name)\u{0}\($0.kind.rawValue)" }.joined(separator: "\u{1}")
        key += "\u{2}" + String(decoding: paramsJSON ?? [], as: UTF8.self)
        return key
    }

    package var batchable: Bool { indexJSON == nil }

    /// What the server knows of the model's input schema, decided once at start-up.
    package struct Contract: Sendable {
        /// nil: no column-based signature, so any well-typed frame goes.
        var columns: [ColumnSpec]?

        package init(model: MLmodel) {
            if case .columns(let specs)? = model.signature?.inputs { columns = specs } else { columns = nil }
        }

        /// Whether MLflow would accept `kind` for a column of `type` without an error.
        static func accepts(_ type: ColumnSpec.DataType, _ kind: Kind) -> Bool {
            switch (type, kind) {
            case (.double, .float64), (.double, .int64), (.float, .float64), (.float, .int64): true
            case (.long, .int64), (.integer, .int64): true
            case (.boolean, .bool): true
            case (.string, .strings): true
            default: false
            }
        }

        func check(_ request: TypedRequest) -> Bool {
            guard let columns else { return true }
            for spec in columns {
                guard let name = spec.name else { return false }
                guard let column = request.columns.first(where: { $0.name == name }) else {
                    if spec.required { return false }
                    continue
                }
                guard Self.accepts(spec.type, column.kind) else { return false }
            }
            return true
        }
    }

    /// The typed form of a JSON body, or nil when MLflow's own code must read it.
    package static func parse(body: [UInt8], contract: Contract) -> TypedRequest? {
        guard String(validating: body, as: UTF8.self) != nil,
              case .object(let root)? = try? JSONParser.parse(body) else { return nil }
        var format: (key: String, value: JSONValue)?
        var params: JSONValue?
        var seen = Set<String>()
        for member in root.members {
            guard seen.insert(member.key).inserted else { return nil }
            switch member.key {
            case "dataframe_split", "dataframe_records":
                guard format == nil else { return nil }
                format = member
            case "params":
                params = member.value
            default:
                return nil
            }
        }
        guard let format else { return nil }
        var request: TypedRequest?
        if format.key == "dataframe_split" {
            request = split(format.value)
        } else {
            request = records(format.value)
        }
        guard var request, contract.check(request) else { return nil }
        switch params {
        case nil, .null?:
            break
        case .object(let object)?:
            var writer = JSONWriter(style: .compact)
            writer.value(.object(object))
            request.paramsJSON = writer.bytes
        default:
            return nil
        }
        return request
    }

    private static func split(_ value: JSONValue) -> TypedRequest? {
        guard case .object(let object) = value else { return nil }
        var names: [String] = []
        var data: [JSONValue] = []
        var index: [JSONValue]?
        var seen = Set<String>()
        for member in object.members {
            guard seen.insert(member.key).inserted else { return nil }
            switch (member.key, member.value) {
            case ("columns", .array(let items)):
                for item in items {
                    guard case .string(let name) = item else { return nil }
                    names.append(name)
                }
            case ("data", .array(let items)):
                data = items
            case ("index", .array(let items)):
                index = items
            default:
                return nil
            }
        }
        guard !names.isEmpty, Set(names).count == names.count, !data.isEmpty,
              seen.contains("columns") else { return nil }
        var cells: [[JSONValue]] = Array(repeating: [], count: names.count)
        for column in cells.indices { cells[column].reserveCapacity(data.count) }
        for row in data {
            guard case .array(let values) = row, values.count == names.count else { return nil }
            for (column, value) in values.enumerated() { cells[column].append(value) }
        }
        var request = TypedRequest(columns: [], rowCount: data.count)
        for (name, values) in zip(names, cells) {
            guard let column = Self.column(name, values) else { return nil }
            request.columns.append(column)
        }
        if let index {
            guard index.count == data.count, index.allSatisfy({
                switch $0 { case .number, .string: true; default: false }
            }) else { return nil }
            var writer = JSONWriter(style: .compact)
            writer.value(.array(index))
            request.indexJSON = writer.bytes
        }
        return request
    }

    private static func records(_ value: JSONValue) -> TypedRequest? {
        guard case .array(let items) = value, case .object(let first)? = items.first else { return nil }
        let names = first.members.map(\.key)
        guard !names.isEmpty, Set(names).count == names.count else { return nil }
        var position: [String: Int] = [:]
        for (i, name) in names.enumerated() { position[name] = i }
        var cells: [[JSONValue]] = Array(repeating: [], count: names.count)
        for item in items {
            guard case .object(let record) = item, record.members.count == names.count else { return nil }
            var filled = Array(repeating: false, count: names.count)
            for member in record.members {
                guard let column = position[member.key], !filled[column] else { return nil }
                filled[column] = true
                cells[column].append(member.value)
            }
        }
        var request = TypedRequest(columns: [], rowCount: items.count)
        for (name, values) in zip(names, cells) {
            guard let column = Self.column(name, values) else { return nil }
            request.columns.append(column)
        }
        return request
    }

    /// The column pandas would infer from these JSON values, when it is a plain one.
    private static func column(_ name: String, _ values: [JSONValue]) -> Column? {
        switch values.first {
        case .number?:
            var integers: [Int64] = []
            integers.reserveCapacity(values.count)
            var allIntegers = true
            for value in values {
                guard case .number(let text) = value else { return nil }
                if allIntegers, !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                    // Beyond int64 pandas keeps Python ints as objects.
                    guard let integer = Int64(text) else { return nil }
                    integers.append(integer)
                } else {
                    allIntegers = false
                }
            }
            if allIntegers {
                var data: [UInt8] = []
                data.reserveCapacity(values.count * 8)
                for integer in integers { withUnsafeBytes(of: integer.littleEndian) { data.append(contentsOf: $0) } }
                return Column(name: name, kind: .int64, data: data)
            }
            var data: [UInt8] = []
            data.reserveCapacity(values.count * 8)
            for value in values {
                guard case .number(let text) = value, let double = Double(text) else { return nil }
                withUnsafeBytes(of: double.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
            return Column(name: name, kind: .float64, data: data)
        case .bool?:
            var data: [UInt8] = []
            data.reserveCapacity(values.count)
            for value in values {
                guard case .bool(let flag) = value else { return nil }
                data.append(flag ? 1 : 0)
            }
            return Column(name: name, kind: .bool, data: data)
        case .string?:
            var writer = JSONWriter(style: .compact, reserve: values.count * 16)
            writer.beginArray()
            for value in values {
                guard case .string(let text) = value else { return nil }
                writer.string(text)
            }
            writer.endArray()
            return Column(name: name, kind: .strings, data: writer.bytes)
        default:
            return nil
        }
    }
}
