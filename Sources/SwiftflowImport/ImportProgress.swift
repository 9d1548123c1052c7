import Foundation

/// Progress of a long phase on standard error: a bar with counts and ETA on a terminal, a plain
/// line every few seconds otherwise (logs, CI), nothing when switched off.
final class ImportProgress: @unchecked Sendable {
    enum Style: Sendable { case bar, lines, none }

    private let style: Style
    private var label = ""
    private var total = 0
    private var done = 0
    private var started = Date()
    private var lastPrinted = Date.distantPast

    init(style: Style) { self.style = style }

    /// The style for standard error: a bar on a terminal, lines elsewhere.
    static func automatic(enabled: Bool) -> Style {
        guard enabled else { return .none }
        return isatty(STDERR_FILENO) == 1 ? .bar : .lines
    }

    func begin(_ label: String, total: Int) {
        self.label = label
        self.total = total
        done = 0
        started = Date()
        lastPrinted = .distantPast
        report(force: true)
    }

    func advance(by count: Int) {
        done += count
        report(force: done >= total)
    }

    func finish() {
        if style == .bar { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func report(force: Bool) {
        let now = Date()
        let interval: TimeInterval = style == .bar ? 0.1 : 5
        guard style != .none, force || now.timeIntervalSince(lastPrinted) >= interval else { return }
        lastPrinted = now
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(max(total - done, 0)) / rate : 0
        let fraction = total > 0 ? min(Double(done) / Double(total), 1) : 1
        let counts = "\(done)/\(total)"
        let eta = done >= total ? "done in \(Self.duration(elapsed))" : "ETA \(Self.duration(remaining))"
        switch style {
        case .bar:
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = "\r\(label) [\(bar)] \(counts) \(Int(fraction * 100))%  \(Int(rate))/s  \(eta)   "
            FileHandle.standardError.write(Data(line.utf8))
        case .lines:
            FileHandle.standardError.write(Data("\(label): \(counts) (\(Int(fraction * 100))%), \(eta)\n".utf8))
        case .none:
            break
        }
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total / 3600)h\(String(format: "%02d", total / 60 % 60))m"
    }
}
