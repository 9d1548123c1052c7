extension Validation {
    /// Characters MLflow refuses in a logged model's name (they would break `models:/` URIs and paths).
    static let loggedModelNameBadCharacters = ["/", ":", ".", "%", "\"", "'"]

    /// Checks a logged model's name (`_validate_logged_model_name`); nil means "generate one".
    ///
    /// Only the name is checked: like MLflow's server, logged model tags and params take any key and value.
    /// - Throws: `INVALID_PARAMETER_VALUE` for an empty name or one holding `/ : . % " '`.
    public static func validateLoggedModelName(_ name: String?) throws(SwiftflowError) {
        guard let name else { return }
        if name.isEmpty || loggedModelNameBadCharacters.contains(where: { name.contains($0) }) {
            let characters = "(" + loggedModelNameBadCharacters.map { PythonRepr.string($0) }.joined(separator: ", ") + ")"
            throw .invalidParameter(
                "Invalid model name (\(PythonRepr.string(name))) provided. Model name must be a non-empty string and "
                    + "cannot contain the following characters: \(characters)")
        }
    }

    /// `validate_path_is_safe` for an artifact directory path: no `..` segment, no `#`, not absolute
    /// (POSIX or Windows).
    /// - Returns: the path, percent-decoded as MLflow decodes it.
    /// - Throws: `INVALID_PARAMETER_VALUE` "Invalid path".
    public static func safeArtifactPath(_ path: String) throws(SwiftflowError) -> String {
        var decoded = path
        while true {
            let next = percentDecoded(decoded)
            if next == decoded { break }
            decoded = next
        }
        var checked = decoded
        if checked.hasPrefix("file://") { checked = String(checked.dropFirst("file://".count)) }
        else if checked.hasPrefix("file:") { checked = String(checked.dropFirst("file:".count)) }
        let characters = Array(checked)
        let windowsAbsolute = checked.hasPrefix("\\\\")
            || (characters.count >= 3 && characters[0].isLetter && characters[1] == ":"
                && (characters[2] == "/" || characters[2] == "\\"))
        let invalid = checked.contains("#") || checked.hasPrefix("/") || windowsAbsolute
            || checked.split(separator: "/", omittingEmptySubsequences: false).contains("..")
        if invalid { throw .invalidParameter("Invalid path") }
        return decoded
    }

    /// `urllib.parse.unquote`: `%XX` as UTF-8 bytes, anything else kept.
    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
        }
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
               let high = hex(utf8[index + 1]), let low = hex(utf8[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
