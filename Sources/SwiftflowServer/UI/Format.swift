import SwiftflowCore

/// How the UI shows times, durations and numbers.
package enum Format {
    /// `2026-11-25 09:46:40` (UTC) for epoch milliseconds; the page script rewrites it in local time.
    package static func utc(_ millis: Int64) -> String {
        let seconds = Timestamp.floorDivide(millis, 1000)
        let days = Timestamp.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Timestamp.civilDate(daysSinceEpoch: days)
        return "\(year)-\(two(month))-\(two(day)) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
    }

    private static func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : String(value) }

    /// A `<time>` element the page script shows in the reader's time zone.
    package static func time(_ millis: Int64?) -> HTML {
        guard let millis else { return "" }
        return "<time data-ms=\"\(millis)\">\(utc(millis)) UTC</time>"
    }

    /// `1h 2m 3s`, `4.2s`, `350ms`.
    package static func duration(_ millis: Int64) -> String {
        if millis < 1000 { return "\(max(0, millis))ms" }
        if millis < 60_000 {
            let tenths = millis / 100
            return "\(tenths / 10).\(tenths % 10)s"
        }
        var seconds = millis / 1000
        var parts: [String] = []
        if seconds >= 86_400 { parts.append("\(seconds / 86_400)d"); seconds %= 86_400 }
        if seconds >= 3600 || !parts.isEmpty { parts.append("\(seconds / 3600)h"); seconds %= 3600 }
        parts.append("\(seconds / 60)m")
        parts.append("\(seconds % 60)s")
        return parts.joined(separator: " ")
    }

    /// A metric value for a table cell: at most 6 significant digits (the full value goes in a tooltip).
    package static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        if magnitude >= 1e6 || magnitude < 1e-4 { return exponent(value) }
        // Round to 6 significant digits, then drop trailing zeros.
        let digitsBefore = magnitude >= 1 ? Int(log10floor(magnitude)) + 1 : 0
        let decimals = max(0, 6 - digitsBefore)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if text.contains("e") { return exponent(value) }
        if let dot = text.firstIndex(of: ".") {
            let fraction = text[text.index(after: dot)...]
            if fraction.count > decimals { text = String(text[..<text.index(dot, offsetBy: decimals + 1)]) }
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    private static func log10floor(_ value: Double) -> Double {
        var exponent = 0.0
        var v = value
        while v >= 10 { v /= 10; exponent += 1 }
        return exponent
    }

    private static func exponent(_ value: Double) -> String {
        // Swift's description is the shortest round-trip form; trim the mantissa to 4 decimals.
        let text = String(value)
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return text }
        var mantissa = String(text[..<e])
        if let dot = mantissa.firstIndex(of: "."), mantissa.distance(from: dot, to: mantissa.endIndex) > 5 {
            mantissa = String(mantissa[..<mantissa.index(dot, offsetBy: 5)])
        }
        return mantissa + "e" + text[text.index(after: e)...]
    }
}
