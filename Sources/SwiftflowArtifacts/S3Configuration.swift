import SwiftflowCore

/// How to reach an S3-compatible store, read from the variables MLflow reads.
public struct S3Configuration: Sendable, Hashable {
    public var credentials: S3Credentials
    /// `AWS_DEFAULT_REGION`, us-east-1 when unset.
    public var region: String
    /// `MLFLOW_S3_ENDPOINT_URL`: an S3-compatible server (`http://127.0.0.1:9000`), addressed path-style
    /// (`endpoint/bucket/key`). Nil means AWS itself, addressed virtual-host style.
    public var endpoint: String?
    /// `MLFLOW_S3_IGNORE_TLS`: whether certificates go unchecked.
    public var ignoreTLS: Bool

    public init(credentials: S3Credentials, region: String = "us-east-1", endpoint: String? = nil, ignoreTLS: Bool = false) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.ignoreTLS = ignoreTLS
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_DEFAULT_REGION`
    /// (or `AWS_REGION`), `MLFLOW_S3_ENDPOINT_URL` and `MLFLOW_S3_IGNORE_TLS` (true when `true`, `1` or
    /// `yes`, as MLflow's boolean variables are read).
    ///
    /// - Throws: `INVALID_PARAMETER_VALUE` when the access key or secret is missing, or the endpoint is
    ///   not an http(s) URL.
    public init(environment: [String: String]) throws(SwiftflowError) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let accessKey = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") else {
            throw SwiftflowError.invalidParameter(
                "S3 artifact storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.")
        }
        var endpoint = value("MLFLOW_S3_ENDPOINT_URL")
        if let given = endpoint {
            let parts = URLParts(given)
            guard parts.scheme == "http" || parts.scheme == "https", !parts.netloc.isEmpty else {
                throw SwiftflowError.invalidParameter("MLFLOW_S3_ENDPOINT_URL must be an http(s) URL: '\(given)'.")
            }
            endpoint = parts.scheme + "://" + parts.netloc
        }
        self.init(
            credentials: S3Credentials(
                accessKeyId: accessKey, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN")),
            region: value("AWS_DEFAULT_REGION") ?? value("AWS_REGION") ?? "us-east-1",
            endpoint: endpoint,
            ignoreTLS: ["true", "1", "yes"].contains(value("MLFLOW_S3_IGNORE_TLS")?.lowercased() ?? ""))
    }
}

/// An `s3://bucket/prefix` URI.
public struct S3Location: Sendable, Hashable {
    public var bucket: String
    /// The key prefix, without leading or trailing `/`; empty for the bucket's root.
    public var prefix: String

    public init(bucket: String, prefix: String = "") {
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
    }

    /// - Throws: `INVALID_PARAMETER_VALUE` unless `uri` is `s3://` followed by a bucket name.
    public init(uri: String) throws(SwiftflowError) {
        guard uri.hasPrefix("s3://") else { throw SwiftflowError.invalidParameter("Not an s3:// URI: '\(uri)'.") }
        let rest = uri.dropFirst("s3://".count)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { throw SwiftflowError.invalidParameter("No bucket in '\(uri)'.") }
        self.init(bucket: String(bucket), prefix: String(rest.dropFirst(bucket.count)))
    }

    public var uri: String { "s3://" + bucket + (prefix.isEmpty ? "" : "/" + prefix) }
}
