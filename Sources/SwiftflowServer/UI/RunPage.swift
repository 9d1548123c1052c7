import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `/runs/{id}`: one run's overview, description, params, metrics, tags, datasets, models and
/// artifacts.
struct RunPage {
    let store: any TrackingStore
    let registry: any RegistryStore
    let runId: String
    /// The signed-in user, whose unreadable registered models are left out of the run's versions.
    var auth: RequestAuth? = nil

    static let noteTag = "mlflow.note.content"

    func render() async throws -> Response {
        let run = try await store.getRun(id: runId)
        let info = run.info
        let experiment = try await store.getExperiment(id: info.experimentId)
        var tags: [String: String] = [:]
        for tag in run.tags { tags[tag.key] = tag.value }

        // Children: runs of the same experiment naming this one as parent.
        let children = try await store.searchRuns(
            experimentIds: [info.experimentId],
            filter: SearchFilter(comparisons: [
                SearchComparison(entity: .tag, key: "mlflow.parentRunId", op: .equal, value: .string(info.runId)),
            ]),
            viewType: .activeOnly, maxResults: 100,
            orderBy: [OrderByClause(entity: .attribute, key: "start_time", ascending: true)], pageToken: nil)
        var versions = try await registry.searchModelVersions(
            filter: SearchFilter(comparisons: [
                SearchComparison(entity: .attribute, key: "run_id", op: .equal, value: .string(info.runId)),
            ]),
            maxResults: 100, orderBy: [], pageToken: nil)
        if let auth {
            var readable: [ModelVersion] = []
            for version in versions.items where try await auth.canReadVersions(of: version.name) { readable.append(version) }
            versions.items = readable
        }

        let deleted = info.lifecycleStage == .deleted
        var overview: [(String, HTML)] = [
            ("Run ID", "<span class=\"mono\">\(info.runId)</span>"),
            ("Experiment", "<a href=\"/experiments/\(component: experiment.experimentId)\">\(experiment.name)</a>"),
            ("Status", "<span class=\"sf-status sf-status-\(info.status.rawValue)\">\(info.status.rawValue)</span>"),
            ("Started", Format.time(info.startTime)),
        ]
        if let end = info.endTime {
            overview.append(("Ended", Format.time(end)))
            overview.append(("Duration", "\(Format.duration(end - info.startTime))"))
        }
        overview.append(("User", "\(tags[MLflowTags.user] ?? info.userId)"))
        if let source = tags["mlflow.source.name"] {
            let kind = tags["mlflow.source.type"].map { " (\($0))" } ?? ""
            overview.append(("Source", "<span class=\"mono\">\(source)</span>\(kind)"))
        }
        if let commit = tags["mlflow.source.git.commit"] {
            overview.append(("Git commit", "<span class=\"mono\">\(commit)</span>"))
        }
        if let parent = tags["mlflow.parentRunId"] {
            overview.append(("Parent run", "<a href=\"/runs/\(component: parent)\">\(parent)</a>"))
        }
        if !children.items.isEmpty {
            let links = children.items.map { child -> HTML in
                "<a href=\"/runs/\(component: child.info.runId)\">\(child.info.runName.isEmpty ? child.info.runId : child.info.runName)</a>"
            }
            overview.append(("Child runs", HTML(unsafe: links.map(\.text).joined(separator: ", "))))
        }
        overview.append(("Lifecycle", "\(info.lifecycleStage.rawValue)"))
        overview.append(("Artifact URI", "<span class=\"mono\">\(info.artifactUri)</span>"))

        let note = tags[Self.noteTag] ?? ""
        let userTags = run.tags.filter { !$0.key.hasPrefix("mlflow.") }.sorted { $0.key < $1.key }
        let systemTags = run.tags.filter { $0.key.hasPrefix("mlflow.") && $0.key != Self.noteTag }.sorted { $0.key < $1.key }
        let hidden: HTML = "<input type=\"hidden\" name=\"run_id\" value=\"\(info.runId)\">"

        let body: HTML = """
            <div class="sf-crumbs"><a href="/">Experiments</a> › \
            <a href="/experiments/\(component: experiment.experimentId)">\(experiment.name)</a> ›</div>
            <h1 id="sf-run-name" class="\(deleted ? "sf-deleted" : "")">\(info.runName.isEmpty ? info.runId : info.runName)</h1>
            <div class="sf-bar">
            <details><summary class="sf-button">Rename</summary><form class="sf-inline-form" data-api="/ajax-api/2.0/mlflow/runs/update">\
            \(hidden)<input type="text" name="run_name" value="\(info.runName)" aria-label="Run name" required>\
            <button type="submit">Save</button></form></details>
            \(deleted
                ? "<form class=\"sf-inline-form\" data-api=\"/ajax-api/2.0/mlflow/runs/restore\">\(hidden)<button type=\"submit\">Restore run</button></form>" as HTML
                : "<form class=\"sf-inline-form\" data-api=\"/ajax-api/2.0/mlflow/runs/delete\" data-confirm=\"Delete this run?\">\(hidden)<button type=\"submit\">Delete run</button></form>")
            </div>
            <div class="sf-error" hidden></div>
            <div class="sf-grid">
            <section><h2>Overview</h2>\(keyValueTable(overview, id: "sf-overview"))</section>
            <section><h2>Description</h2>
            <div class="sf-markdown" id="sf-description">\(note.isEmpty ? "<p class=\"sf-muted\">No description.</p>" : Markdown.render(note))</div>
            <details><summary>Edit description</summary>
            <form data-api="/ajax-api/2.0/mlflow/runs/set-tag">\(hidden)<input type="hidden" name="key" value="\(Self.noteTag)">\
            <textarea name="value" rows="6" cols="60" data-keep-empty aria-label="Description (Markdown)">\(note)</textarea><br>\
            <button type="submit">Save description</button></form></details></section>
            </div>
            <div class="sf-grid">
            <section><h2>Parameters (\(run.params.count))</h2>\(paramsTable(run.params))</section>
            <section><h2>Metrics (\(run.metrics.count))</h2>\(metricsTable(run))</section>
            </div>
            <div class="sf-grid">
            <section><h2>Tags (\(userTags.count))</h2>\(tagsTable(userTags, runId: info.runId))
            <form class="sf-inline-form" id="sf-tag-form" data-api="/ajax-api/2.0/mlflow/runs/set-tag">\(hidden)\
            <input type="text" name="key" placeholder="Key" aria-label="Tag key" required>\
            <input type="text" name="value" placeholder="Value" aria-label="Tag value" data-keep-empty>\
            <button type="submit">Set tag</button></form>
            <details><summary>System tags (\(systemTags.count))</summary>\(keyValueTable(systemTags.map { ($0.key, "\($0.value)" as HTML) }, id: "sf-system-tags"))</details>
            </section>
            <section><h2>Datasets (\(run.inputs.count))</h2>\(datasetsTable(run.inputs))
            <h2>Models</h2>\(modelsSection(run, versions: versions.items))</section>
            </div>
            <h2>Artifacts</h2>
            <div class="sf-artifacts" data-run="\(info.runId)"><div class="sf-tree" aria-label="Artifact tree"></div>\
            <div class="sf-preview"><p class="sf-muted">Select a file to preview it.</p></div></div>
            """
        return Layout.page(info.runName.isEmpty ? info.runId : info.runName, body: body, scripts: [])
    }

    private func keyValueTable(_ rows: [(String, HTML)], id: String) -> HTML {
        let cells = rows.map { key, value -> HTML in "<tr><th>\(key)</th><td>\(value)</td></tr>" }
        return "<table class=\"sf-kv\" id=\"\(id)\"><tbody>\(cells)</tbody></table>"
    }

    private func paramsTable(_ params: [Param]) -> HTML {
        guard !params.isEmpty else { return "<p class=\"sf-muted\">No parameters.</p>" }
        let rows = params.sorted { $0.key < $1.key }.map { "<tr><th>\($0.key)</th><td class=\"mono\">\($0.value)</td></tr>" as HTML }
        return "<table class=\"sf-kv\" id=\"sf-params\"><tbody>\(rows)</tbody></table>"
    }

    private func metricsTable(_ run: Run) -> HTML {
        guard !run.metrics.isEmpty else { return "<p class=\"sf-muted\">No metrics.</p>" }
        let rows = run.metrics.sorted { $0.key < $1.key }.map { metric -> HTML in
            let link = "/metric?" + HTML.query([("run", run.info.runId), ("key", metric.key)])
            return """
                <tr><th><a href="\(link)">\(metric.key)</a></th><td class="num" title="\(String(metric.value))">\(Format.number(metric.value))</td>\
                <td class="sf-muted">step \(metric.step)</td></tr>
                """
        }
        return "<table class=\"sf-kv\" id=\"sf-metrics\"><tbody>\(rows)</tbody></table>"
    }

    private func tagsTable(_ tags: [RunTag], runId: String) -> HTML {
        guard !tags.isEmpty else { return "<p class=\"sf-muted\">No tags.</p>" }
        let rows = tags.map { tag -> HTML in
            """
            <tr><th>\(tag.key)</th><td>\(tag.value)</td><td><form class="sf-inline-form" \
            data-api="/ajax-api/2.0/mlflow/runs/delete-tag"><input type="hidden" name="run_id" value="\(runId)">\
            <input type="hidden" name="key" value="\(tag.key)"><button type="submit" aria-label="Delete tag">×</button></form></td></tr>
            """
        }
        return "<table class=\"sf-kv\" id=\"sf-tags\"><tbody>\(rows)</tbody></table>"
    }

    private func datasetsTable(_ inputs: [DatasetInput]) -> HTML {
        guard !inputs.isEmpty else { return "<p class=\"sf-muted\">No datasets.</p>" }
        let rows = inputs.map { input -> HTML in
            let context = input.tags.first { $0.key == MLflowTags.datasetContext }?.value
            return """
                <tr><td>\(input.dataset.name)</td><td class="mono">\(input.dataset.digest)</td>\
                <td>\(input.dataset.sourceType)</td><td>\(context)</td></tr>
                """
        }
        return """
            <table class="sf-table" id="sf-datasets"><thead><tr><th>Name</th><th>Digest</th><th>Source</th>\
            <th>Context</th></tr></thead><tbody>\(rows)</tbody></table>
            """
    }

    private func modelsSection(_ run: Run, versions: [ModelVersion]) -> HTML {
        var items: [HTML] = []
        for output in run.modelOutputs {
            items.append("<li>Logged model <span class=\"mono\">\(output.modelId)</span> (step \(output.step))</li>")
        }
        for input in run.modelInputs {
            items.append("<li>Used model <span class=\"mono\">\(input.modelId)</span></li>")
        }
        for version in versions {
            items.append("""
                <li>Registered as <a href="/models/\(component: version.name)/versions/\(version.version)">\
                \(version.name) version \(version.version)</a></li>
                """)
        }
        return items.isEmpty ? "<p class=\"sf-muted\">No models.</p>" : "<ul id=\"sf-models\">\(items)</ul>"
    }
}
