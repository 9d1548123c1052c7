import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `/`: the experiments, searchable by name, with create, rename, delete and restore.
struct ExperimentsPage {
    let store: any TrackingStore
    let query: UIQuery
    /// The experiments the signed-in user may read (all without authentication).
    var visibility: Visibility = .all

    func render() async throws -> Response {
        let text = query.string("q")
        let view = ViewType(wireValue: query.string("view") ?? "") ?? .activeOnly
        var filter = SearchFilter()
        if let text {
            // Built as a comparison, not as filter text, so quotes in the search need no escaping.
            filter.comparisons.append(
                SearchComparison(entity: .attribute, key: "name", op: .ilike, value: .string("%\(text)%")))
        }
        let page = try await store.searchExperiments(
            filter: filter, viewType: view, maxResults: 100,
            orderBy: [OrderByClause(entity: .attribute, key: "name", ascending: true)],
            pageToken: query.string("page_token"), visibility: visibility)
        var rows: [HTML] = []
        for experiment in page.items {
            let deleted = experiment.lifecycleStage == .deleted
            let action: HTML = deleted
                ? """
                  <form class="sf-inline-form" data-api="/ajax-api/2.0/mlflow/experiments/restore">\
                  <input type="hidden" name="experiment_id" value="\(experiment.experimentId)">\
                  <button type="submit">Restore</button></form>
                  """
                : """
                  <details class="sf-inline"><summary>Rename</summary>\
                  <form class="sf-inline-form" data-api="/ajax-api/2.0/mlflow/experiments/update">\
                  <input type="hidden" name="experiment_id" value="\(experiment.experimentId)">\
                  <input type="text" name="new_name" value="\(experiment.name)" aria-label="New name" required>\
                  <button type="submit">Save</button></form></details>\
                  <form class="sf-inline-form" data-api="/ajax-api/2.0/mlflow/experiments/delete" \
                  data-confirm="Delete this experiment? It can be restored from the deleted view.">\
                  <input type="hidden" name="experiment_id" value="\(experiment.experimentId)">\
                  <button type="submit">Delete</button></form>
                  """
            rows.append("""
                <tr data-experiment="\(experiment.experimentId)">\
                <td><a class="\(deleted ? "sf-deleted" : "")" href="/experiments/\(component: experiment.experimentId)">\(experiment.name)</a></td>\
                <td class="mono">\(experiment.experimentId)</td>\
                <td>\(Format.time(experiment.creationTime))</td><td>\(Format.time(experiment.lastUpdateTime))</td>\
                <td class="mono sf-muted">\(experiment.artifactLocation)</td><td>\(action)</td></tr>
                """)
        }
        let views: [(ViewType, String)] = [(.activeOnly, "Active"), (.deletedOnly, "Deleted"), (.all, "All")]
        let options = views.map { value, label -> HTML in
            "<option value=\"\(value.rawValue)\"\(value == view ? " selected" : "")>\(label)</option>"
        }
        var pager: HTML = .empty
        if let token = page.nextPageToken {
            var pairs = [("page_token", token), ("view", view.rawValue)]
            if let text { pairs.append(("q", text)) }
            pager = "<div class=\"sf-pager\"><a href=\"/?\(HTML.query(pairs))\" rel=\"next\">Next page →</a></div>"
        }
        let body: HTML = """
            <h1>Experiments</h1>
            <div class="sf-bar">
            <form method="get" action="/" role="search"><input type="search" name="q" value="\(text)" \
            placeholder="Search experiment names" aria-label="Search experiment names">\
            <select name="view" aria-label="Lifecycle">\(options)</select><button type="submit">Search</button></form>
            <details><summary class="sf-button">New experiment</summary>
            <form class="sf-inline-form" data-api="/ajax-api/2.0/mlflow/experiments/create" data-then="/experiments/{experiment_id}">\
            <input type="text" name="name" placeholder="Name" aria-label="Experiment name" required>\
            <input type="text" name="artifact_location" placeholder="Artifact location (optional)" aria-label="Artifact location">\
            <button class="sf-primary" type="submit">Create</button></form></details>
            </div>
            <div class="sf-error" hidden></div>
            <table class="sf-table" id="sf-experiments"><thead><tr><th>Name</th><th>ID</th><th>Created</th>\
            <th>Last updated</th><th>Artifact location</th><th></th></tr></thead>
            <tbody>\(rows)</tbody></table>
            \(rows.isEmpty ? "<p class=\"sf-muted\">No experiments match.</p>" as HTML : .empty)\(pager)
            """
        return Layout.page("Experiments", body: body)
    }
}
