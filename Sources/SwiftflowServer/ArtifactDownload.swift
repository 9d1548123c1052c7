#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwiftflowArtifacts

/// A file streamed from a repository to the client, with the headers MLflow's server sends: its MIME
/// type, `Content-Disposition: attachment` (never shown inline, against XSS), `nosniff`, and a single
/// byte range when asked for one.
enum ArtifactDownload {
    static let contentTypeOptions = HTTPField.Name("X-Content-Type-Options")!

    /// The response for the file at `path`; its bytes are read only as the socket takes them.
    ///
    /// - Throws: `RESOURCE_DOES_NOT_EXIST`, or `INVALID_PARAMETER_VALUE` for a folder (from the repository).
    static func response(
        _ repository: any ArtifactRepository, _ path: ArtifactPath, request: Request
    ) async throws -> Response {
        let attributes = try await repository.attributes(of: path)
        let name = path.name ?? ""
        let size = attributes.size
        let entityTag = "\"\(String(attributes.modificationTime, radix: 16))-"
            + "\(String(attributes.modificationNanoseconds, radix: 16))-\(String(size, radix: 16))\""
        let lastModified = httpDate(attributes.modificationTime)
        var headers: HTTPFields = [
            .contentType: ArtifactMimeType.of(name),
            .contentDisposition: contentDisposition(name),
            contentTypeOptions: "nosniff",
            .acceptRanges: "bytes",
            .lastModified: lastModified,
            .eTag: entityTag,
        ]
        var status = HTTPResponse.Status.ok
        var range: Range<Int64>?
        if let requested = request.headers[.range],
           request.headers[.ifRange].map({ $0 == entityTag || $0 == lastModified }) ?? true {
            switch byteRange(requested, size: size) {
            case .none:
                break
            case .some(.unsatisfiable):
                return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(size)"])
            case .some(.bytes(let part)):
                range = part
                status = .partialContent
                headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(size)"
            }
        }
        // Never more than announced, even if the file is replaced while it is sent.
        let bytes = range ?? 0..<size
        let body = ResponseBody(contentLength: Int(bytes.upperBound - bytes.lowerBound)) { writer in
            try await repository.read(path, range: bytes) { chunk in try await writer.write(chunk) }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    enum ByteRange: Equatable {
        case bytes(Range<Int64>)
        case unsatisfiable
    }

    /// One `bytes=` range of a file of `size` bytes, as Starlette (MLflow's file server) reads it; nil
    /// means "send the whole file", which HTTP allows for ranges a server does not support (several
    /// ranges, other units, malformed ones).
    static func byteRange(_ header: String, size: Int64) -> ByteRange? {
        let parts = header.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0].trimmingSpaces.lowercased() == "bytes", !parts[1].contains(",") else { return nil }
        let bounds = parts[1].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2 else { return nil }
        let first = bounds[0].trimmingSpaces
        let last = bounds[1].trimmingSpaces
        let start: Int64
        let end: Int64
        if first.isEmpty {
            guard let suffix = Int64(last) else { return nil }
            start = max(size - suffix, 0)
            end = size
        } else {
            guard let from = Int64(first) else { return nil }
            start = from
            if last.isEmpty {
                end = size
            } else {
                guard let to = Int64(last) else { return nil }
                end = to < size ? to + 1 : size
            }
        }
        if start < 0 || start >= size { return .unsatisfiable }
        return start < end ? .bytes(start..<end) : nil
    }

    /// `attachment; filename=...` as MLflow writes it (`_content_disposition_attachment`): a bare token
    /// when possible, else quoted; a non-ASCII name gets an ASCII fallback and an RFC 5987 `filename*`.
    static func contentDisposition(_ name: String) -> String {
        if name.unicodeScalars.allSatisfy(\.isASCII) { return "attachment; filename=\(quotedHeaderValue(name))" }
        // NFKD, then ASCII only: "ünï.txt" falls back to "uni.txt".
        var fallback = String(String.UnicodeScalarView(
            name.decomposedStringWithCompatibilityMapping.unicodeScalars.filter(\.isASCII)))
        if fallback.isEmpty { fallback = "download" }
        let safe = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~!#$&+^`|".utf8)
        var encoded = ""
        for byte in name.utf8 {
            if safe.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return "attachment; filename=\(quotedHeaderValue(fallback)); filename*=UTF-8''\(encoded)"
    }

    /// Werkzeug's `quote_header_value`: a token as it is, anything else in quotes with `\` and `"` escaped.
    static func quotedHeaderValue(_ value: String) -> String {
        let token = Set("!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~".unicodeScalars)
        if !value.isEmpty, value.unicodeScalars.allSatisfy({ token.contains($0) }) { return value }
        var escaped = ""
        for scalar in value.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { escaped.unicodeScalars.append("\\") }
            escaped.unicodeScalars.append(scalar)
        }
        return "\"\(escaped)\""
    }

    /// An IMF-fixdate (`Wed, 25 Nov 2026 06:58:29 GMT`), the form of `Last-Modified`.
    static func httpDate(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
