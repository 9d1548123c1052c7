import HTTPTypes
import Hummingbird
import NIOCore
import SwiftflowCore

/// The frame every UI page shares, and the headers that keep user data inert.
enum Layout {
    /// No inline or foreign script can run, whatever a page shows: user data reaches scripts only as
    /// JSON in `<script type="application/json">` blocks, which are never executed.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        + "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

    enum Section { case experiments, models }

    /// A whole page.
    /// - Parameters:
    ///   - title: the page's title (escaped).
    ///   - section: which top-level link is current.
    ///   - body: the `<main>` content.
    ///   - scripts: asset names to load after the common script (e.g. `chart.js`).
    static func page(
        _ title: String, section: Section = .experiments, body: HTML, scripts: [String] = [], styles: [String] = []
    ) -> Response {
        let links = styles.map { name -> HTML in "<link rel=\"stylesheet\" href=\"\(Assets.url(name))\">" }
        let tags = scripts.map { name -> HTML in "<script src=\"\(Assets.url(name))\" defer></script>" }
        let page: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Swiftflow</title><link rel="icon" href="data:,">
            <link rel="stylesheet" href="\(Assets.url("ui.css"))">\(links)
            <script src="\(Assets.url("ui.js"))" defer></script>\(tags)</head>
            <body><header class="sf-top"><a class="sf-brand" href="/">Swiftflow</a><nav>\
            <a href="/"\(section == .experiments ? " aria-current=\"page\"" : "")>Experiments</a>\
            <a href="/models"\(section == .models ? " aria-current=\"page\"" : "")>Models</a></nav></header>
            <main>
            \(body)
            </main></body></html>
            """
        return html(page)
    }

    static func html(_ page: HTML, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(page.text)
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: contentSecurityPolicy,
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                .cacheControl: "no-store",
            ],
            body: ResponseBody(byteBuffer: buffer))
    }

    /// The page shown for an error: MLflow's message, and a status that matches its code.
    static func error(_ error: any Error) -> Response {
        let failure = error as? SwiftflowError ?? SwiftflowError(.internalError, "Internal error")
        let status: HTTPResponse.Status = failure.code == .resourceDoesNotExist ? .notFound
            : (failure.code == .internalError ? .internalServerError : .badRequest)
        var response = page("Error", body: """
            <h1>\(status.code == 404 ? "Not found" : "Something went wrong")</h1>
            <div class="sf-error">\(failure.code.rawValue): \(failure.message)</div>
            <p><a href="/">Back to experiments</a></p>
            """)
        response.status = status
        return response
    }

    /// A `<script type="application/json">` block for the page script. `<` is escaped so no text in
    /// the data can close the element.
    static func data(id: String, _ body: (inout JSONWriter) -> Void) -> HTML {
        let bytes = JSONWriter.encode(style: .compact, body)
        var text = String(decoding: bytes, as: UTF8.self)
        text = text.replacingLessThan()
        return "<script type=\"application/json\" id=\"\(id)\">\(HTML(unsafe: text))</script>"
    }
}

extension String {
    /// `<` as the JSON escape `\u003c` (valid only inside JSON strings, which is where it can occur).
    fileprivate func replacingLessThan() -> String {
        guard utf8.contains(UInt8(ascii: "<")) else { return self }
        var result = ""
        result.reserveCapacity(utf8.count + 16)
        for character in unicodeScalars {
            if character == "<" { result += "\\u003c" } else { result.unicodeScalars.append(character) }
        }
        return result
    }
}
