import Crypto
import SwiftflowCore

/// The keys that sign S3 requests: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for temporary
/// credentials, `AWS_SESSION_TOKEN`.
public struct S3Credentials: Sendable, Hashable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 for S3, with the signature in the `Authorization` header or in a presigned URL.
///
/// The steps are AWS's: a canonical request (method, URI, sorted query, sorted lower-cased headers,
/// the signed header names, the payload's hash), a string to sign (algorithm, time, scope, the
/// canonical request's hash), and an HMAC-SHA256 chain from the secret key through date, region and
/// service to the signature. S3 does not normalise or double-encode the path, so the canonical URI is
/// the path as sent.
package struct S3Signer: Sendable {
    package static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The SHA-256 of no bytes, for requests without a body.
    package static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    package var credentials: S3Credentials
    package var region: String
    package var service = "s3"

    package init(credentials: S3Credentials, region: String) {
        self.credentials = credentials
        self.region = region
    }

    /// The headers to add to a request so that S3 accepts it: `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` when there is a session token, and `Authorization`.
    ///
    /// - Parameters:
    ///   - method: the HTTP method, upper case.
    ///   - path: the request's path, already URI-encoded as it goes on the wire (`/bucket/a%20b`).
    ///   - query: the query parameters, not encoded.
    ///   - headers: every other header that will be sent and signed; `host` must be among them.
    ///   - payloadHash: the hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    ///   - time: seconds since 1970-01-01 UTC.
    package func signedHeaders(
        method: String, path: String, query: [(String, String)], headers: [(String, String)],
        payloadHash: String, time: Int64
    ) -> [(String, String)] {
        let (date, dateTime) = Self.timestamps(time)
        var added = [("x-amz-date", dateTime), ("x-amz-content-sha256", payloadHash)]
        if let token = credentials.sessionToken, !token.isEmpty { added.append(("x-amz-security-token", token)) }
        let authorization = self.authorization(
            method: method, path: path, query: query, headers: headers + added, payloadHash: payloadHash,
            date: date, dateTime: dateTime)
        return added + [("Authorization", authorization)]
    }

    /// The query of a presigned URL: `query` and the `X-Amz-*` parameters that let whoever holds the URL
    /// send this one request (signed headers: `host` only; payload unsigned) until `expires` seconds
    /// after `time`. Not encoded.
    package func presignedQuery(
        method: String, path: String, query: [(String, String)], host: String, time: Int64, expires: Int
    ) -> [(String, String)] {
        let (date, dateTime) = Self.timestamps(time)
        var signedQuery = query + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyId)/\(date)/\(region)/\(service)/aws4_request"),
            ("X-Amz-Date", dateTime), ("X-Amz-Expires", String(expires)), ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken, !token.isEmpty { signedQuery.append(("X-Amz-Security-Token", token)) }
        let (_, signature) = self.signature(
            method: method, path: path, query: signedQuery, headers: [("host", host)],
            payloadHash: Self.unsignedPayload, date: date, dateTime: dateTime)
        return signedQuery + [("X-Amz-Signature", signature)]
    }

    /// The `Authorization` header's value for a request whose headers already hold `x-amz-date` and
    /// `x-amz-content-sha256`.
    package func authorization(
        method: String, path: String, query: [(String, String)], headers: [(String, String)],
        payloadHash: String, date: String, dateTime: String
    ) -> String {
        let (signedNames, signature) = self.signature(
            method: method, path: path, query: query, headers: headers, payloadHash: payloadHash, date: date,
            dateTime: dateTime)
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(date)/\(region)/\(service)/aws4_request, "
            + "SignedHeaders=\(signedNames), Signature=\(signature)"
    }

    /// The signed header names and the signature of a request.
    func signature(
        method: String, path: String, query: [(String, String)], headers: [(String, String)],
        payloadHash: String, date: String, dateTime: String
    ) -> (signedNames: String, signature: String) {
        var canonicalHeaders: [String: String] = [:]
        for (name, value) in headers {
            let name = name.lowercased()
            let value = Self.trimmed(value)
            canonicalHeaders[name] = canonicalHeaders[name].map { $0 + "," + value } ?? value
        }
        let names = canonicalHeaders.keys.sorted()
        let signedNames = names.joined(separator: ";")
        let encodedQuery: [(name: String, value: String)] = query.map { pair in
            (Self.uriEncode(pair.0, encodeSlash: true), Self.uriEncode(pair.1, encodeSlash: true))
        }
        let sortedQuery = encodedQuery.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = sortedQuery.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, canonicalQuery,
            names.map { $0 + ":" + canonicalHeaders[$0]! + "\n" }.joined(), signedNames, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", dateTime, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(
            for: Array(stringToSign.utf8), using: SymmetricKey(data: signingKey(date: date))))
        return (signedNames, signature)
    }

    /// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    package func signingKey(date: String) -> [UInt8] {
        var key = Array(("AWS4" + credentials.secretAccessKey).utf8)
        for part in [date, region, service, "aws4_request"] {
            key = Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    // MARK: - Encoding

    /// AWS's `UriEncode`: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper-case hex); `/` kept
    /// unless `encodeSlash`.
    package static func uriEncode(_ text: String, encodeSlash: Bool) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where !encodeSlash:
                result.append("/")
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(hex[Int(byte >> 4)])
                result.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return result
    }

    /// Lower-case hex of a digest or byte sequence.
    package static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Hex.encode(bytes)
    }

    /// The hex SHA-256 of `bytes`, for `x-amz-content-sha256`.
    package static func payloadHash<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        return hex(hasher.finalize())
    }

    /// Leading and trailing spaces removed, inner runs of spaces folded to one, as SigV4 asks.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// `yyyyMMdd` and `yyyyMMdd'T'HHmmss'Z'` of a UTC time.
    package static func timestamps(_ time: Int64) -> (date: String, dateTime: String) {
        let (year, month, day) = Timestamp.civilDate(daysSinceEpoch: Timestamp.floorDivide(time, 86_400))
        let seconds = time - Timestamp.floorDivide(time, 86_400) * 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let date = "\(year)" + two(month) + two(day)
        return (date, date + "T" + two(seconds / 3600) + two(seconds / 60 % 60) + two(seconds % 60) + "Z")
    }

    /// Days from 1970-01-01 to a date.
    package static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        Timestamp.daysSinceEpoch(year: year, month: month, day: day)
    }
}
