import Foundation
import SwiftflowCore
import SwiftflowServer
import Testing

/// The UI's building blocks: escaping, Markdown, formatting and query strings. Pages themselves are
/// tested in headless Chromium (scripts/ui_test.py); the live tests here cover headers and assets.
@Suite("UI: HTML, Markdown, formats")
struct UIBuildingBlockTests {
    static let hostile = #"<img src=x onerror="alert(1)"><script>alert('x')</script> & done"#

    @Test("interpolated strings are escaped for text and attributes; HTML values are not")
    func escaping() {
        let name = Self.hostile
        let html: HTML = "<a title=\"\(name)\">\(name)</a>\(HTML(unsafe: "<b>ok</b>"))"
        #expect(html.text == "<a title=\"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; done\">"
            + "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; done</a><b>ok</b>")
        let optional: String? = nil
        #expect(("[\(optional)]" as HTML).text == "[]")
        #expect(("\(42)-\(Int64(-7))" as HTML).text == "42--7")
    }

    @Test("URL parts are percent-encoded, multi-byte characters included")
    func urls() {
        #expect(HTML.percentEncode("a b/c?d=e&f#g\"<'é") == "a%20b%2Fc%3Fd%3De%26f%23g%22%3C%27%C3%A9")
        #expect(HTML.percentEncode("run-id_1.2~x") == "run-id_1.2~x")
        #expect(HTML.query([("filter", "params.a = 'x y'"), ("p", "")]) == "filter=params.a%20%3D%20%27x%20y%27&p=")
        let html: HTML = "<a href=\"/models/\(component: "a/b <c>")\">"
        #expect(html.text == "<a href=\"/models/a%2Fb%20%3Cc%3E\">")
    }

    @Test("query strings decode as browsers encode forms")
    func queries() {
        let query = UIQuery(query: "filter=metrics.acc+%3E+0.9&m=a&m=b&m=&empty=&bad=%zz&x")
        #expect(query.string("filter") == "metrics.acc > 0.9")
        #expect(query.strings("m") == ["a", "b"])
        #expect(query.string("empty") == nil)
        #expect(query.string("missing") == nil)
        #expect(query.string("x") == nil)
        #expect(query.int("n", default: 100, range: 1...1000) == 100)
        #expect(UIQuery(query: "n=5000").int("n", default: 100, range: 1...1000) == 1000)
        #expect(UIQuery(query: "n=abc").int("n", default: 100, range: 1...1000) == 100)
        #expect(UIQuery.pathSegment("my%20model+v2%2Fx") == "my model+v2/x")
    }

    @Test("Markdown renders the common subset and leaves raw HTML as text")
    func markdown() {
        let html = Markdown.render("""
            # Title
            Some **bold**, *em*, `code <b>` and snake_case_name.

            - one
            - two [site](https://example.com/a?b=1)

            1. first
            ```
            <script>alert(1)</script>
            ```
            > quoted
            \(Self.hostile)
            """).text
        #expect(html.contains("<h3>Title</h3>"))
        #expect(html.contains("<strong>bold</strong>"))
        #expect(html.contains("<em>em</em>"))
        #expect(html.contains("<code>code &lt;b&gt;</code>"))
        #expect(html.contains("snake_case_name"))
        #expect(html.contains("<ul><li>one</li><li>two <a href=\"https://example.com/a?b=1\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">site</a></li></ul>"))
        #expect(html.contains("<ol><li>first</li></ol>"))
        #expect(html.contains("<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>"))
        #expect(html.contains("<blockquote>quoted</blockquote>"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
    }

    @Test("Markdown links keep only http, https and mailto targets", arguments: [
        "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>",
        "vbscript:x", "https://ok.example/\"onmouseover=\"alert(1)", "/relative",
    ])
    func unsafeLinks(_ target: String) {
        let html = Markdown.render("[click](\(target))").text
        #expect(!html.contains("<a "))
        #expect(!html.contains("\"onmouseover"))
    }

    @Test("times, durations and numbers", arguments: [
        (Int64(0), "1970-01-01 00:00:00"), (1_795_600_032_039, "2026-11-25 09:47:12"),
        (951_782_400_000, "2000-02-29 00:00:00"), (-1000, "1969-12-31 23:59:59"),
    ])
    func times(_ millis: Int64, _ text: String) {
        #expect(Format.utc(millis) == text)
    }

    @Test("durations and metric values as the tables show them")
    func numbers() {
        #expect(Format.duration(350) == "350ms")
        #expect(Format.duration(4_250) == "4.2s")
        #expect(Format.duration(3_723_000) == "1h 2m 3s")
        #expect(Format.duration(90_061_000) == "1d 1h 1m 1s")
        #expect(Format.number(.nan) == "NaN")
        #expect(Format.number(.infinity) == "inf")
        #expect(Format.number(-.infinity) == "-inf")
        #expect(Format.number(3) == "3")
        #expect(Format.number(0.123456789) == "0.123457")
        #expect(Format.number(-12.5) == "-12.5")
        #expect(Format.number(123456.789) == "123457")
        #expect(Format.number(1e-7) == "1e-07")
        #expect(Format.number(6.133277818184416e-44) == "6.1332e-44")
    }
}

/// Pages and assets over real HTTP: status, headers that keep data inert, and error pages.
@Suite("Live server: UI", .serialized)
struct UIServerTests {
    @Test("pages are HTML with a no-inline-script policy; assets are cached by content hash")
    func pagesAndAssets() async throws {
        let folder = try TemporaryFolder()
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let home = try RawHTTP.send(port: server.port, "GET", "/")
        #expect(home.status == 200)
        #expect(home.headers["content-type"] == "text/html; charset=utf-8")
        #expect(home.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        #expect(home.headers["x-content-type-options"] == "nosniff")
        #expect(home.text.contains("Default"))
        let script = try #require(home.text.firstRange(of: "/static/ui.js?v=")).lowerBound
        let url = String(home.text[script...].prefix { $0 != "\"" })
        let asset = try RawHTTP.send(port: server.port, "GET", url)
        #expect(asset.status == 200)
        #expect(asset.headers["content-type"] == "text/javascript; charset=utf-8")
        #expect(asset.headers["cache-control"] == "public, max-age=31536000, immutable")
        #expect(try RawHTTP.send(port: server.port, "GET", "/static/nope.js").status == 404)
    }

    @Test("unknown objects and bad input render error pages with MLflow's codes")
    func errors() async throws {
        let folder = try TemporaryFolder()
        let server = try await ServerProcess.started(dataFolder: folder.path)
        defer { server.stop() }
        let run = try RawHTTP.send(port: server.port, "GET", "/runs/nope")
        #expect(run.status == 404)
        #expect(run.text.contains("RESOURCE_DOES_NOT_EXIST"))
        let model = try RawHTTP.send(port: server.port, "GET", "/models/%3Cscript%3E")
        #expect(model.status == 404)
        #expect(model.text.contains("&lt;script&gt;"))
        #expect(!model.text.contains("<script>"))
        let filter = try RawHTTP.send(port: server.port, "GET", "/experiments/0?filter=metrics.a+%3C%3C+1")
        #expect(filter.status == 200)
        #expect(filter.text.contains("INVALID_PARAMETER_VALUE"))
        let series = try RawHTTP.send(port: server.port, "GET", "/ui/api/metric-series?key=loss")
        #expect(series.status == 400)
        #expect(series.errorCode == "INVALID_PARAMETER_VALUE")
    }
}
