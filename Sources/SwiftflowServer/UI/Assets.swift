import HTTPTypes
import Hummingbird
import NIOCore

/// The UI's stylesheets and scripts, compiled into the binary (`UI/Assets`, embedded by SwiftPM).
enum Assets {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        /// A hash of the content: URLs carry it, so browsers may cache an asset for good.
        let version: String
    }

    static let all: [String: Asset] = [
        "ui.css": asset(PackageResources.ui_css, "text/css; charset=utf-8"),
        "ui.js": asset(PackageResources.ui_js, "text/javascript; charset=utf-8"),
        "chart.css": asset(PackageResources.chart_css, "text/css; charset=utf-8"),
        "chart.js": asset(PackageResources.chart_js, "text/javascript; charset=utf-8"),
    ]

    private static func asset(_ bytes: [UInt8], _ contentType: String) -> Asset {
        // FNV-1a, 64 bits: enough to tell builds apart.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Asset(bytes: bytes, contentType: contentType, version: String(hash, radix: 16))
    }

    static func url(_ name: String) -> String {
        "/static/\(name)?v=\(all[name]?.version ?? "0")"
    }

    static func response(_ name: String) -> Response? {
        guard let asset = all[name] else { return nil }
        return Response(
            status: .ok,
            headers: [
                .contentType: asset.contentType,
                .cacheControl: "public, max-age=31536000, immutable",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
