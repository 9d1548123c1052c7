import SwiftflowArtifacts
import Testing

@Suite("S3 request signing (AWS Signature Version 4)")
struct S3SignerTests {
    /// The credentials and time of the examples in AWS's S3 Signature Version 4 documentation.
    static let signer = S3Signer(
        credentials: S3Credentials(
            accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    /// 2013-05-24T00:00:00Z.
    static let time: Int64 = 1_369_353_600

    static func signature(_ authorization: String?) -> String? {
        authorization?.split(separator: "Signature=").last.map(String.init)
    }

    @Test("timestamps are AWS's basic ISO 8601 forms, in UTC")
    func timestamps() {
        #expect(S3Signer.timestamps(Self.time) == ("20130524", "20130524T000000Z"))
        #expect(S3Signer.timestamps(951_827_696) == ("20000229", "20000229T123456Z"))
        #expect(S3Signer.daysSinceEpoch(year: 2013, month: 5, day: 24) * 86_400 == Self.time)
    }

    @Test("a presigned GET URL: AWS's published example signature")
    func presignedGet() {
        let query = Self.signer.presignedQuery(
            method: "GET", path: "/test.txt", query: [], host: "examplebucket.s3.amazonaws.com", time: Self.time,
            expires: 86_400)
        #expect(query.map(\.0) == [
            "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
        ])
        #expect(query.first { $0.0 == "X-Amz-Credential" }?.1 == "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")
        #expect(query.last?.1 == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("GET object with a range: AWS's published example signature")
    func getObject() {
        let headers = Self.signer.signedHeaders(
            method: "GET", path: "/test.txt", query: [],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
            payloadHash: S3Signer.emptyPayloadHash, time: Self.time)
        let authorization = headers.first { $0.0 == "Authorization" }?.1
        #expect(authorization?.hasPrefix(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ") == true)
        #expect(Self.signature(authorization) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
        #expect(!headers.contains { $0.0 == "x-amz-security-token" })
    }

    @Test("PUT object with an encoded key and a signed payload: AWS's published example signature")
    func putObject() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = S3Signer.payloadHash(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let path = "/" + S3Signer.uriEncode("test$file.text", encodeSlash: false)
        #expect(path == "/test%24file.text")
        let headers = Self.signer.signedHeaders(
            method: "PUT", path: path, query: [],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payloadHash: hash, time: Self.time)
        #expect(Self.signature(headers.first { $0.0 == "Authorization" }?.1)
            == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET bucket with query parameters: AWS's published example signature")
    func listObjects() {
        let headers = Self.signer.signedHeaders(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: S3Signer.emptyPayloadHash, time: Self.time)
        #expect(Self.signature(headers.first { $0.0 == "Authorization" }?.1)
            == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("a session token is sent and signed")
    func sessionToken() {
        var signer = Self.signer
        signer.credentials.sessionToken = "token/with+chars"
        let headers = signer.signedHeaders(
            method: "GET", path: "/test.txt", query: [], headers: [("Host", "examplebucket.s3.amazonaws.com")],
            payloadHash: S3Signer.unsignedPayload, time: Self.time)
        #expect(headers.contains { $0 == ("x-amz-security-token", "token/with+chars") })
        #expect(headers.contains { $0 == ("x-amz-content-sha256", "UNSIGNED-PAYLOAD") })
        #expect(headers.first { $0.0 == "Authorization" }?.1.contains(
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") == true)
    }

    @Test("URI encoding keeps only unreserved characters, and slashes in paths")
    func uriEncoding() {
        #expect(S3Signer.uriEncode("a b/c~d_e.f-g+h=é", encodeSlash: false) == "a%20b/c~d_e.f-g%2Bh%3D%C3%A9")
        #expect(S3Signer.uriEncode("a/b", encodeSlash: true) == "a%2Fb")
    }
}

@Suite("S3 XML answers")
struct S3XMLTests {
    @Test("a ListObjectsV2 page: contents, common prefixes, entities and the continuation token")
    func listing() throws {
        let text = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
              <Prefix>p/</Prefix><IsTruncated>true</IsTruncated>
              <Contents><Key>p/a &amp; b&lt;c&gt;.txt</Key><Size>12</Size><ETag>&quot;x&quot;</ETag></Contents>
              <Contents><Key>p/&#233;t&#xE9;</Key><Size>0</Size></Contents>
              <CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>
              <NextContinuationToken>tok/en==</NextContinuationToken><Empty/>
            </ListBucketResult>
            """
        let document = try #require(S3XMLElement.parse(Array(text.utf8)))
        #expect(document.name == "ListBucketResult")
        #expect(document.children("Contents").map { $0.value("Key") } == ["p/a & b<c>.txt", "p/été"])
        #expect(document.children("Contents").first?.value("ETag") == "\"x\"")
        #expect(document.children("CommonPrefixes").map { $0.value("Prefix") } == ["p/dir/"])
        #expect(document.value("IsTruncated") == "true")
        #expect(document.value("NextContinuationToken") == "tok/en==")
        #expect(document.child("Empty") != nil)
        #expect(S3XMLElement.escape("a&b<'\">") == "a&amp;b&lt;&apos;&quot;&gt;")
    }

    @Test("malformed documents are refused, not guessed")
    func malformed() {
        #expect(S3XMLElement.parse(Array("<a><b></a>".utf8)) == nil)
        #expect(S3XMLElement.parse(Array("<a>".utf8)) == nil)
        #expect(S3XMLElement.parse(Array("<a".utf8)) == nil)
        #expect(S3XMLElement.parse(Array("<Error><Code>NoSuchKey</Code></Error>".utf8))?.value("Code") == "NoSuchKey")
    }
}
