/// Python's `repr` of the values MLflow quotes in its messages, so that ours read the same.
package enum PythonRepr {
    /// `repr(str)`: single quotes unless the text holds a single quote and no double quote.
    package static func string(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where Character(scalar) == quote: result += "\\" + String(quote)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                result += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        result.append(quote)
        return result
    }

    /// `repr` of the Python value `json.loads` makes of `value` (`None`, `True`, lists, dicts).
    package static func value(_ value: JSONValue) -> String {
        switch value {
        case .null: "None"
        case .bool(let flag): flag ? "True" : "False"
        case .number(let text): text
        case .string(let text): string(text)
        case .array(let items): "[" + items.map { Self.value($0) }.joined(separator: ", ") + "]"
        case .object(let object):
            "{" + object.members.map { "\(string($0.key)): \(Self.value($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}
