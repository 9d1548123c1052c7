import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `/compare?runs=<id>,<id>,...`: params and metrics side by side, rows that differ highlighted, and
/// a scatter plot of a param against a metric.
struct ComparePage {
    let store: any TrackingStore
    let query: UIQuery

    func render() async throws -> Response {
        var ids: [String] = []
        for value in query.strings("runs") + query.strings("run") {
            for id in value.split(separator: ",") where !id.isEmpty && !ids.contains(String(id)) { ids.append(String(id)) }
        }
        guard ids.count >= 1 else { throw SwiftflowError.invalidParameter("Choose at least one run to compare.") }
        guard ids.count <= Limits.maxRunsPerHistoryBulk else {
            throw SwiftflowError.invalidParameter("Compare at most \(Limits.maxRunsPerHistoryBulk) runs at once.")
        }
        var runs: [Run] = []
        for id in ids { runs.append(try await store.getRun(id: id)) }
        let onlyDifferences = query.string("diff") != nil
        let names = runs.map { $0.info.runName.isEmpty ? $0.info.runId : $0.info.runName }

        let paramMaps = runs.map { Dictionary($0.params.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        let metricMaps = runs.map { Dictionary($0.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        let paramKeys = Set(paramMaps.flatMap(\.keys)).sorted()
        let metricKeys = Set(metricMaps.flatMap(\.keys)).sorted()

        var rows: [HTML] = []
        rows.append("<tr><th colspan=\"\(runs.count + 1)\" class=\"sf-group\">Parameters</th></tr>")
        for key in paramKeys {
            let values = paramMaps.map { $0[key] }
            let differs = Set(values.map { $0 ?? "\u{0}" }).count > 1
            if onlyDifferences && !differs { continue }
            let cells = values.map { "<td class=\"mono\">\($0)</td>" as HTML }
            rows.append("<tr class=\"\(differs ? "sf-diff" : "")\" data-param=\"\(key)\"><th>\(key)</th>\(cells)</tr>")
        }
        rows.append("<tr><th colspan=\"\(runs.count + 1)\" class=\"sf-group\">Metrics</th></tr>")
        for key in metricKeys {
            let values = metricMaps.map { $0[key] }
            let differs = Set(values.map { $0.map { $0.isNaN ? "nan" : String($0) } ?? "-" }).count > 1
            if onlyDifferences && !differs { continue }
            let cells = values.map { value -> HTML in
                value.map { "<td class=\"num\" title=\"\(String($0))\">\(Format.number($0))</td>" } ?? "<td></td>"
            }
            let link = "/metric?" + HTML.query([("key", key)] + ids.map { ("run", $0) })
            rows.append("<tr class=\"\(differs ? "sf-diff" : "")\" data-metric=\"\(key)\"><th><a href=\"\(link)\">\(key)</a></th>\(cells)</tr>")
        }
        let heads = zip(runs, names).map { run, name -> HTML in
            "<th><a href=\"/runs/\(component: run.info.runId)\">\(name)</a></th>"
        }
        let toggle = "/compare?" + HTML.query([("runs", ids.joined(separator: ","))] + (onlyDifferences ? [] : [("diff", "1")]))

        let data = Layout.data(id: "sf-compare-data") { w in
            w.beginObject()
            w.key("runs")
            w.beginArray()
            for (index, run) in runs.enumerated() {
                w.beginObject()
                w.field("id", run.info.runId)
                w.field("name", names[index])
                w.key("params"); w.beginObject()
                for (key, value) in paramMaps[index].sorted(by: { $0.key < $1.key }) { w.field(key, value) }
                w.endObject()
                w.key("metrics"); w.beginObject()
                for (key, value) in metricMaps[index].sorted(by: { $0.key < $1.key }) {
                    w.key(key)
                    if value.isFinite { w.double(value) } else { w.null() }
                }
                w.endObject()
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        let xOptions = paramKeys.map { "<option value=\"\($0)\">\($0)</option>" as HTML }
        let yOptions = metricKeys.map { "<option value=\"\($0)\">\($0)</option>" as HTML }
        let experiment = try await store.getExperiment(id: runs[0].info.experimentId)
        let body: HTML = """
            <div class="sf-crumbs"><a href="/">Experiments</a> › \
            <a href="/experiments/\(component: experiment.experimentId)">\(experiment.name)</a> ›</div>
            <h1>Comparing \(runs.count) runs</h1>
            <div class="sf-bar"><a class="sf-button" href="\(toggle)">\(onlyDifferences ? "Show all rows" : "Show differences only")</a></div>
            <div class="sf-scroll"><table class="sf-table" id="sf-compare"><thead><tr><th></th>\(heads)</tr></thead>
            <tbody>\(rows)</tbody></table></div>
            <h2>Parameter against metric</h2>
            \(paramKeys.isEmpty || metricKeys.isEmpty
                ? "<p class=\"sf-muted\">The runs need at least one parameter and one metric.</p>" as HTML
                : """
                  <div class="sf-controls"><label>Parameter <select id="sf-scatter-x">\(xOptions)</select></label>\
                  <label>Metric <select id="sf-scatter-y">\(yOptions)</select></label></div>
                  <div class="sf-chart-box"><div id="sf-scatter"></div></div>
                  """)
            \(data)
            """
        return Layout.page("Compare runs", body: body, scripts: ["chart.js"], styles: ["chart.css"])
    }
}
