import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `/metric?key=<key>&run=<id>[&run=<id>...]`: one metric of one or more runs as a line chart.
///
/// The page script fetches `/ui/api/metric-series`, which samples each history on the server with
/// `get-history-bulk-interval`'s rule and answers in columns (`step`, `ts`, `v` arrays), about 40
/// bytes a point: a million-point history reaches the browser as 1,000 points.
struct MetricPage {
    let store: any TrackingStore
    let query: UIQuery

    static let defaultPoints = 1000

    func render() async throws -> Response {
        guard let key = query.string("key") else { throw SwiftflowError.invalidParameter("Missing value for required parameter 'key'") }
        let runIds = Array(query.strings("run").prefix(Limits.maxRunsPerHistoryBulk))
        guard !runIds.isEmpty else { throw SwiftflowError.invalidParameter("Missing value for required parameter 'run'") }
        var runs: [Run] = []
        for id in runIds { runs.append(try await store.getRun(id: id)) }
        let experiment = try await store.getExperiment(id: runs[0].info.experimentId)
        let running = runs.contains { $0.info.status == .running || $0.info.status == .scheduled }

        // The other metrics these runs have, to switch charts.
        var otherKeys = Set<String>()
        for run in runs { for metric in run.metrics where metric.key != key { otherKeys.insert(metric.key) } }
        let others = otherKeys.sorted().map { other -> HTML in
            let link = "/metric?" + HTML.query([("key", other)] + runIds.map { ("run", $0) })
            return "<a class=\"sf-chip\" href=\"\(link)\">\(other)</a>"
        }
        let runLinks = runs.map { run -> HTML in
            "<a href=\"/runs/\(component: run.info.runId)\">\(run.info.runName.isEmpty ? run.info.runId : run.info.runName)</a>"
        }
        let config = Layout.data(id: "sf-chart-config") { w in
            w.beginObject()
            w.field("key", key)
            w.key("runs")
            w.beginArray()
            for run in runs {
                w.beginObject()
                w.field("id", run.info.runId)
                w.field("name", run.info.runName.isEmpty ? run.info.runId : run.info.runName)
                w.endObject()
            }
            w.endArray()
            w.key("live"); w.bool(running)
            w.field("points", Int64(Self.defaultPoints))
            w.endObject()
        }
        let body: HTML = """
            <div class="sf-crumbs"><a href="/">Experiments</a> › \
            <a href="/experiments/\(component: experiment.experimentId)">\(experiment.name)</a> ›\
            \(runs.count == 1 ? " <a href=\"/runs/\(component: runs[0].info.runId)\">\(runLinks[0])</a> ›" as HTML : "")</div>
            <h1>\(key)</h1>
            <div class="sf-muted">Runs: \(HTML(unsafe: runLinks.map(\.text).joined(separator: ", ")))</div>
            <div class="sf-controls">
            <label>X axis <select data-chart-control="x" aria-label="X axis">\
            <option value="step">Step</option><option value="time">Wall time</option>\
            <option value="relative">Relative time</option></select></label>
            <label><input type="checkbox" data-chart-control="log"> Log scale</label>
            <label>Smoothing <input type="range" min="0" max="99" value="0" data-chart-control="smoothing" aria-label="Smoothing"></label>
            <span class="sf-muted" id="sf-chart-status"></span>
            </div>
            <div class="sf-chart-box"><div id="sf-chart"></div></div>
            \(others.isEmpty ? "" : "<h2>Other metrics</h2><div>\(others)</div>" as HTML)
            \(config)
            """
        return Layout.page(key, body: body, scripts: ["chart.js"], styles: ["chart.css"])
    }

    /// `GET /ui/api/metric-series?key=&run_id=...&points=`: each run's sampled history in columns,
    /// and whether any of the runs is still running.
    static func series(store: any TrackingStore, query: UIQuery) async throws -> Response {
        guard let key = query.string("key") else { throw SwiftflowError.invalidParameter("Missing value for required parameter 'key'") }
        let runIds = query.strings("run_id")
        if runIds.isEmpty || runIds.count > Limits.maxRunsPerHistoryBulk {
            throw SwiftflowError.invalidParameter("Give between 1 and \(Limits.maxRunsPerHistoryBulk) run_id values.")
        }
        let points = query.int("points", default: defaultPoints, range: 1...Limits.maxSampledPointsPerRun)
        let sampled = try await store.sampledMetricHistory(runIds: runIds, key: key, maxResults: points, steps: nil)
        var byRun: [String: [Metric]] = [:]
        for point in sampled { byRun[point.runId, default: []].append(point.metric) }
        var running = false
        for id in runIds {
            if let run = try? await store.getRun(id: id), run.info.status == .running || run.info.status == .scheduled {
                running = true
            }
        }
        return JSONResponse.raw(JSONWriter.encode(style: .compact) { w in
            w.beginObject()
            w.key("running"); w.bool(running)
            w.key("runs")
            w.beginObject()
            for id in runIds {
                guard let metrics = byRun[id] else { continue }
                w.key(id)
                w.beginObject()
                w.key("step"); w.beginArray(); for metric in metrics { w.int(metric.step) }; w.endArray()
                w.key("ts"); w.beginArray(); for metric in metrics { w.int(metric.timestamp) }; w.endArray()
                // JSON has no NaN or infinities; the chart skips nulls.
                w.key("v"); w.beginArray()
                for metric in metrics { if metric.value.isFinite { w.double(metric.value) } else { w.null() } }
                w.endArray()
                w.endObject()
            }
            w.endObject()
            w.endObject()
        })
    }
}
