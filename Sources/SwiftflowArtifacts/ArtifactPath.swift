import SwiftflowCore

/// A path inside an artifact repository, checked as MLflow's server checks one and normalised.
///
/// Segments are never empty, `.` or `..`, so the text of an `ArtifactPath` cannot lead out of its
/// repository; the root is the empty path. Symbolic links are the repository's business.
public struct ArtifactPath: Hashable, Sendable, CustomStringConvertible {
    /// The path's components, root first.
    public let segments: [String]
    /// Whether the text given was empty or ended in `/` or `.`: it can name a folder but not a file.
    /// Not part of equality.
    public let endsWithSeparator: Bool

    public static let root = ArtifactPath(segments: [])

    private init(segments: [String], endsWithSeparator: Bool = false) {
        self.segments = segments
        self.endsWithSeparator = endsWithSeparator
    }

    public static func == (lhs: ArtifactPath, rhs: ArtifactPath) -> Bool { lhs.segments == rhs.segments }
    public func hash(into hasher: inout Hasher) { hasher.combine(segments) }

    /// Reads a path given by a client the way MLflow's `validate_path_is_safe` does.
    ///
    /// The text is percent-decoded until it stops changing (so `%2e%2e` and `%252e%252e` are `..`),
    /// control characters are escaped as `%XX`, and a `file:` URI is read as its path. Then it is
    /// refused if it holds `#` or a `..` segment or is absolute (`/x`, `C:\x`, `\\server\share`).
    /// Empty and `.` segments are dropped.
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` "Invalid path".
    public init(validating text: String) throws(SwiftflowError) {
        let invalid = SwiftflowError.invalidParameter("Invalid path")
        guard var path = Self.decodedUntilStable(text) else { throw invalid }
        path = Self.escapingControlCharacters(path)
        if path.contains("#") { throw invalid }
        if URLParts(path).scheme == "file" { path = ModelVersionSource.unquote(URLParts(path).path, plus: false) }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") || path.hasPrefix("/") || Self.isWindowsAbsolute(path) { throw invalid }
        segments = parts.filter { !$0.isEmpty && $0 != "." }.map(String.init)
        endsWithSeparator = parts.last == "" || parts.last == "."
    }

    /// The segments joined by `/`; empty for the root.
    public var string: String { segments.joined(separator: "/") }
    public var description: String { string }
    public var isRoot: Bool { segments.isEmpty }
    /// The last segment, nil for the root.
    public var name: String? { segments.last }
    /// The path without its last segment (the root's parent is the root).
    public var parent: ArtifactPath { ArtifactPath(segments: Array(segments.dropLast())) }

    public func appending(_ other: ArtifactPath) -> ArtifactPath {
        ArtifactPath(segments: segments + other.segments)
    }

    /// `self` with one more segment taken as it is: a name read from a folder, which holds no `/`
    /// and is never `.` or `..`, and must not be percent-decoded again.
    func appending(listedName name: String) -> ArtifactPath {
        ArtifactPath(segments: segments + [name])
    }

    // MARK: - MLflow's rules

    /// `mlflow.utils.uri._decode`: unquote and re-parse until nothing changes, at most ten rounds.
    static func decodedUntilStable(_ text: String) -> String? {
        var url = text
        for _ in 0..<10 {
            let next = URLParts(ModelVersionSource.unquote(url, plus: false)).unparsed
            if next == url { return url }
            url = next
        }
        return nil
    }

    /// Control characters (U+0000–U+001F, U+007F) become `%xx`, as MLflow escapes them.
    static func escapingControlCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `PureWindowsPath(path).is_absolute()`: a drive letter with a root (`C:\`, `C:/`), or a UNC path
    /// (`\\server\share`; any path opening with two separators is refused, to be safe).
    static func isWindowsAbsolute(_ path: String) -> Bool {
        let scalars = Array(path.unicodeScalars.prefix(3))
        func isSeparator(_ index: Int) -> Bool { index < scalars.count && (scalars[index] == "/" || scalars[index] == "\\") }
        let hasDrive = scalars.count == 3 && scalars[0].isASCII && scalars[0].properties.isAlphabetic && scalars[1] == ":"
        return (hasDrive && isSeparator(2)) || (isSeparator(0) && isSeparator(1))
    }
}
