import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `/experiments/{id}`: the runs table, filtered with the tracking API's language, sorted by any
/// column, paged with the API's page tokens.
///
/// Query: `filter`, `view` (ACTIVE_ONLY, DELETED_ONLY, ALL), `sort` (`attr:start_time`, `metric:<key>`,
/// `param:<key>`, `tag:<key>`), `dir` (`asc`/`desc`), `max` (rows per page), `page_token`, and the
/// chosen columns `p`, `m`, `t` (params, metrics, tags; `cols=1` marks a choice, even an empty one).
struct RunsPage {
    let store: any TrackingStore
    let experimentId: String
    let query: UIQuery

    /// Attribute columns that can be sorted: label and order-by key.
    static let attributes: [(label: String, key: String)] = [
        ("Run name", "run_name"), ("Created", "start_time"), ("Duration", ""), ("User", "user_id"),
        ("Status", "status"),
    ]

    struct Sort: Equatable {
        var entity: SearchEntity
        var key: String
        var ascending: Bool

        init(entity: SearchEntity, key: String, ascending: Bool) {
            self.entity = entity
            self.key = key
            self.ascending = ascending
        }

        init?(_ text: String?, ascending: Bool) {
            guard let text, let colon = text.firstIndex(of: ":") else { return nil }
            let key = String(text[text.index(after: colon)...])
            switch text[..<colon] {
            case "attr": entity = .attribute
            case "metric": entity = .metric
            case "param": entity = .param
            case "tag": entity = .tag
            default: return nil
            }
            guard !key.isEmpty else { return nil }
            self.key = key
            self.ascending = ascending
        }

        var parameter: String {
            let prefix = switch entity {
            case .attribute: "attr"
            case .metric: "metric"
            case .param: "param"
            default: "tag"
            }
            return "\(prefix):\(key)"
        }
    }

    func render() async throws -> Response {
        let experiment = try await store.getExperiment(id: experimentId)
        let filterText = query.string("filter")
        let view = ViewType(wireValue: query.string("view") ?? "") ?? .activeOnly
        let sort = Sort(query.string("sort"), ascending: query.string("dir") == "asc")
            ?? Sort(entity: .attribute, key: "start_time", ascending: false)
        let maxResults = query.int("max", default: 100, range: 1...1000)
        var runs: [Run] = []
        var nextToken: String?
        var failure: SwiftflowError?
        do {
            let filter = try SearchFilter.parseRunFilter(filterText)
            let page = try await store.searchRuns(
                experimentIds: [experimentId], filter: filter, viewType: view, maxResults: maxResults,
                orderBy: [OrderByClause(entity: sort.entity, key: sort.key, ascending: sort.ascending)],
                pageToken: query.string("page_token"))
            runs = page.items
            nextToken = page.nextPageToken
        } catch let error as SwiftflowError where error.code == .invalidParameterValue || error.code == .badRequest {
            failure = error
        }

        // Columns: the keys present on this page, unless the reader chose some.
        var paramKeys = Set<String>(), metricKeys = Set<String>(), tagKeys = Set<String>()
        for run in runs {
            for param in run.params { paramKeys.insert(param.key) }
            for metric in run.metrics { metricKeys.insert(metric.key) }
            for tag in run.tags where !tag.key.hasPrefix("mlflow.") { tagKeys.insert(tag.key) }
        }
        let chosen = query.string("cols") != nil
        let shownParams = chosen ? query.strings("p") : Array(paramKeys.sorted().prefix(40))
        let shownMetrics = chosen ? query.strings("m") : Array(metricKeys.sorted().prefix(40))
        let shownTags = chosen ? query.strings("t") : Array(tagKeys.sorted().prefix(10))

        var state: [(String, String)] = []
        if let filterText { state.append(("filter", filterText)) }
        if view != .activeOnly { state.append(("view", view.rawValue)) }
        if maxResults != 100 { state.append(("max", String(maxResults))) }
        if chosen {
            state.append(("cols", "1"))
            state += shownParams.map { ("p", $0) } + shownMetrics.map { ("m", $0) } + shownTags.map { ("t", $0) }
        }
        let base = "/experiments/\(HTML.percentEncode(experimentId))"

        func header(_ label: String, _ column: Sort) -> HTML {
            let current = column.entity == sort.entity && column.key == sort.key
            // A new column sorts descending first; clicking the current one flips its direction.
            let ascending = current ? !sort.ascending : false
            let link = base + "?" + HTML.query(state + [("sort", column.parameter), ("dir", ascending ? "asc" : "desc")])
            let arrow = current ? (sort.ascending ? " ▲" : " ▼") : ""
            return "<th class=\"\(current ? "sf-sorted" : "")\" data-sort-key=\"\(column.parameter)\"><a href=\"\(link)\">\(label)\(arrow)</a></th>"
        }

        var headers: [HTML] = [
            "<th><input type=\"checkbox\" id=\"sf-select-all\" aria-label=\"Select all runs\"></th>"
        ]
        for attribute in Self.attributes {
            // Duration is not a stored column, so it cannot be sorted on.
            headers.append(attribute.key.isEmpty
                ? "<th>\(attribute.label)</th>"
                : header(attribute.label, Sort(entity: .attribute, key: attribute.key, ascending: false)))
        }
        headers += shownMetrics.map { header($0, Sort(entity: .metric, key: $0, ascending: false)) }
        headers += shownParams.map { header($0, Sort(entity: .param, key: $0, ascending: false)) }
        headers += shownTags.map { header($0, Sort(entity: .tag, key: $0, ascending: false)) }
        let groups: HTML = """
            <tr><th colspan="\(1 + Self.attributes.count)"></th>\
            \(shownMetrics.isEmpty ? .empty : "<th class=\"sf-group\" colspan=\"\(shownMetrics.count)\">Metrics</th>" as HTML)\
            \(shownParams.isEmpty ? .empty : "<th class=\"sf-group\" colspan=\"\(shownParams.count)\">Parameters</th>" as HTML)\
            \(shownTags.isEmpty ? .empty : "<th class=\"sf-group\" colspan=\"\(shownTags.count)\">Tags</th>" as HTML)</tr>
            """

        var rows: [HTML] = []
        rows.reserveCapacity(runs.count)
        for run in runs {
            rows.append(row(run, metrics: shownMetrics, params: shownParams, tags: shownTags))
        }

        let views: [(ViewType, String)] = [(.activeOnly, "Active runs"), (.deletedOnly, "Deleted runs"), (.all, "All runs")]
        let viewOptions = views.map { value, label -> HTML in
            "<option value=\"\(value.rawValue)\"\(value == view ? " selected" : "")>\(label)</option>"
        }
        let sortFields: HTML = """
            <input type="hidden" name="sort" value="\(sort.parameter)"><input type="hidden" name="dir" value="\(sort.ascending ? "asc" : "desc")">
            """
        var pager: [HTML] = []
        if query.string("page_token") != nil {
            pager.append("<a href=\"\(base)?\(HTML.query(state + [("sort", sort.parameter), ("dir", sort.ascending ? "asc" : "desc")]))\">« First page</a>")
        }
        if let nextToken {
            let link = base + "?" + HTML.query(
                state + [("sort", sort.parameter), ("dir", sort.ascending ? "asc" : "desc"), ("page_token", nextToken)])
            pager.append("<a href=\"\(link)\" rel=\"next\" id=\"sf-next\">Next page »</a>")
        }
        let chooser = columnChooser(
            params: paramKeys.union(shownParams).sorted(), metrics: metricKeys.union(shownMetrics).sorted(),
            tags: tagKeys.union(shownTags).sorted(), shown: (Set(shownParams), Set(shownMetrics), Set(shownTags)),
            hidden: state.filter { !["cols", "p", "m", "t"].contains($0.0) } + [("sort", sort.parameter), ("dir", sort.ascending ? "asc" : "desc")])

        let body: HTML = """
            <div class="sf-crumbs"><a href="/">Experiments</a> ›</div>
            <h1>\(experiment.name)</h1>
            <div class="sf-muted">Experiment ID <span class="mono">\(experiment.experimentId)</span> · \
            Artifact location <span class="mono">\(experiment.artifactLocation)</span>\
            \(experiment.lifecycleStage == .deleted ? " · <strong>deleted</strong>" : "")</div>
            <div class="sf-bar">
            <form method="get" action="\(base)" role="search" id="sf-filter-form">\
            <input class="sf-filter" type="text" name="filter" value="\(filterText)" \
            placeholder="metrics.rmse &lt; 1 and params.model = 'tree'" aria-label="Filter runs">\
            <select name="view" aria-label="Lifecycle">\(viewOptions)</select>\(sortFields)\
            <button type="submit">Search</button></form>
            <button type="button" id="sf-compare" disabled>Compare</button>
            </div>
            \(failure.map { "<div class=\"sf-error\" id=\"sf-filter-error\" role=\"alert\">\($0.code.rawValue): \($0.message)</div>" as HTML } ?? .empty)
            \(chooser)
            <div class="sf-scroll"><table class="sf-table" id="sf-runs" data-runs>\
            <thead>\(groups)<tr>\(headers)</tr></thead><tbody>\(rows)</tbody></table></div>
            \(runs.isEmpty && failure == nil ? "<p class=\"sf-muted\" id=\"sf-no-runs\">No runs match.</p>" as HTML : .empty)
            <div class="sf-pager"><span class="sf-muted">\(runs.count) runs on this page</span>\(pager)</div>
            """
        return Layout.page(experiment.name, body: body)
    }

    private func row(_ run: Run, metrics: [String], params: [String], tags: [String]) -> HTML {
        let info = run.info
        let deleted = info.lifecycleStage == .deleted
        var cells: HTML = """
            <tr data-run="\(info.runId)"><td><input type="checkbox" class="sf-run-check" value="\(info.runId)" \
            aria-label="Select run"></td>\
            <td><a class="sf-run-link\(deleted ? " sf-deleted" : "")" href="/runs/\(component: info.runId)">\(info.runName.isEmpty ? info.runId : info.runName)</a></td>\
            <td>\(Format.time(info.startTime))</td>\
            <td>\(info.endTime.map { Format.duration($0 - info.startTime) } ?? "")</td>\
            <td>\(run.tags.first { $0.key == MLflowTags.user }?.value ?? info.userId)</td><td><span class="sf-status sf-status-\(info.status.rawValue)">\(info.status.rawValue)</span></td>
            """
        if !metrics.isEmpty {
            var latest: [String: Double] = [:]
            for metric in run.metrics { latest[metric.key] = metric.value }
            for key in metrics {
                if let value = latest[key] { cells += "<td class=\"num\">\(Format.number(value))</td>" } else { cells += "<td></td>" }
            }
        }
        if !params.isEmpty {
            var values: [String: String] = [:]
            for param in run.params { values[param.key] = param.value }
            for key in params { cells += "<td>\(values[key])</td>" }
        }
        if !tags.isEmpty {
            var values: [String: String] = [:]
            for tag in run.tags { values[tag.key] = tag.value }
            for key in tags { cells += "<td>\(values[key])</td>" }
        }
        return cells + "</tr>"
    }

    private func columnChooser(
        params: [String], metrics: [String], tags: [String],
        shown: (params: Set<String>, metrics: Set<String>, tags: Set<String>), hidden: [(String, String)]
    ) -> HTML {
        func boxes(_ name: String, _ keys: [String], _ on: Set<String>) -> HTML {
            HTML(unsafe: keys.map { key -> HTML in
                "<label><input type=\"checkbox\" name=\"\(name)\" value=\"\(key)\"\(on.contains(key) ? " checked" : "")>\(key)</label>"
            }.map(\.text).joined())
        }
        let fields = hidden.map { name, value -> HTML in "<input type=\"hidden\" name=\"\(name)\" value=\"\(value)\">" }
        return """
            <details class="sf-columns"><summary>Columns</summary>
            <form method="get" class="sf-column-form" action="/experiments/\(component: experimentId)">\(fields)\
            <input type="hidden" name="cols" value="1">
            <div><strong>Metrics</strong> \(boxes("m", metrics, shown.metrics))</div>
            <div><strong>Parameters</strong> \(boxes("p", params, shown.params))</div>
            <div><strong>Tags</strong> \(boxes("t", tags, shown.tags))</div>
            <noscript><button type="submit">Apply</button></noscript></form></details>
            """
    }
}
