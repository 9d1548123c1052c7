import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// `/models`: registered models, searchable by name.
struct ModelsPage {
    let registry: any RegistryStore
    let query: UIQuery
    /// The models the signed-in user may read (all without authentication).
    var visibility: Visibility = .all

    func render() async throws -> Response {
        let text = query.string("q")
        var filter = SearchFilter()
        if let text {
            filter.comparisons.append(SearchComparison(entity: .attribute, key: "name", op: .ilike, value: .string("%\(text)%")))
        }
        let page = try await registry.searchRegisteredModels(
            filter: filter, maxResults: 100, orderBy: [OrderByClause(entity: .attribute, key: "name", ascending: true)],
            pageToken: query.string("page_token"), visibility: visibility)
        let rows = page.items.map { model -> HTML in
            let latest = model.latestVersions.max { $0.version < $1.version }
            let aliases = model.aliases.map { "<span class=\"sf-chip\">@\($0.alias) → v\($0.version)</span>" as HTML }
            return """
                <tr data-model="\(model.name)"><td><a href="/models/\(component: model.name)">\(model.name)</a></td>\
                <td>\(latest.map { "<a href=\"/models/\(component: model.name)/versions/\($0.version)\">Version \($0.version)</a>" as HTML } ?? "")</td>\
                <td>\(aliases)</td><td>\(Format.time(model.lastUpdatedTimestamp))</td>\
                <td>\(HTML(unsafe: model.tags.map { "<span class=\"sf-chip\">\(HTML.escaped($0.key))=\(HTML.escaped($0.value))</span>" }.joined()))</td></tr>
                """
        }
        var pager: HTML = .empty
        if let token = page.nextPageToken {
            pager = "<div class=\"sf-pager\"><a rel=\"next\" href=\"/models?\(HTML.query([("page_token", token)] + (text.map { [("q", $0)] } ?? [])))\">Next page »</a></div>"
        }
        let body: HTML = """
            <h1>Registered models</h1>
            <div class="sf-bar"><form method="get" action="/models" role="search">\
            <input type="search" name="q" value="\(text)" placeholder="Search model names" aria-label="Search model names">\
            <button type="submit">Search</button></form>
            <details><summary class="sf-button">New model</summary><form class="sf-inline-form" \
            data-api="/ajax-api/2.0/mlflow/registered-models/create" data-then="/models/{name}">\
            <input type="text" name="name" placeholder="Name" aria-label="Model name" required>\
            <button class="sf-primary" type="submit">Create</button></form></details></div>
            <div class="sf-error" hidden></div>
            <table class="sf-table" id="sf-models-table"><thead><tr><th>Name</th><th>Latest version</th><th>Aliases</th>\
            <th>Last modified</th><th>Tags</th></tr></thead><tbody>\(rows)</tbody></table>
            \(rows.isEmpty ? "<p class=\"sf-muted\">No registered models match.</p>" as HTML : .empty)\(pager)
            """
        return Layout.page("Registered models", section: .models, body: body)
    }
}

/// `/models/{name}`: a registered model with its versions, stages, aliases and tags.
struct ModelPage {
    let registry: any RegistryStore
    let name: String
    let query: UIQuery

    func render() async throws -> Response {
        let model = try await registry.getRegisteredModel(name: name)
        let page = try await registry.searchModelVersions(
            filter: SearchFilter(comparisons: [SearchComparison(entity: .attribute, key: "name", op: .equal, value: .string(name))]),
            maxResults: 200, orderBy: [OrderByClause(entity: .attribute, key: "version_number", ascending: false)],
            pageToken: query.string("page_token"))
        var aliasesByVersion: [Int64: [String]] = [:]
        for alias in model.aliases { aliasesByVersion[alias.version, default: []].append(alias.alias) }
        let rows = page.items.map { version -> HTML in
            let aliases = (aliasesByVersion[version.version] ?? []).sorted().map { "<span class=\"sf-chip\">@\($0)</span>" as HTML }
            return """
                <tr data-version="\(version.version)"><td><a href="/models/\(component: name)/versions/\(version.version)">Version \(version.version)</a></td>\
                <td>\(version.currentStage.rawValue)</td><td>\(aliases)</td><td>\(Format.time(version.creationTimestamp))</td>\
                <td>\(version.runId.map { "<a href=\"/runs/\(component: $0)\" class=\"mono\">\($0)</a>" as HTML } ?? "")</td>\
                <td>\(HTML(unsafe: version.tags.map { "<span class=\"sf-chip\">\(HTML.escaped($0.key))=\(HTML.escaped($0.value))</span>" }.joined()))</td></tr>
                """
        }
        var pager: HTML = .empty
        if let token = page.nextPageToken {
            pager = "<div class=\"sf-pager\"><a rel=\"next\" href=\"/models/\(component: name)?\(HTML.query([("page_token", token)]))\">Older versions »</a></div>"
        }
        let tags = model.tags.map { "<tr><th>\($0.key)</th><td>\($0.value)</td></tr>" as HTML }
        let aliases = model.aliases.map {
            "<tr><th>@\($0.alias)</th><td><a href=\"/models/\(component: name)/versions/\($0.version)\">Version \($0.version)</a></td></tr>" as HTML
        }
        let body: HTML = """
            <div class="sf-crumbs"><a href="/models">Registered models</a> ›</div>
            <h1>\(model.name)</h1>
            <div class="sf-muted">Created \(Format.time(model.creationTimestamp)) · Last modified \(Format.time(model.lastUpdatedTimestamp))</div>
            <div class="sf-grid">
            <section><h2>Description</h2><div class="sf-markdown" id="sf-description">\
            \((model.description ?? "").isEmpty ? "<p class=\"sf-muted\">No description.</p>" : Markdown.render(model.description ?? ""))</div></section>
            <section><h2>Aliases</h2>\(aliases.isEmpty ? "<p class=\"sf-muted\">No aliases.</p>" as HTML : "<table class=\"sf-kv\" id=\"sf-aliases\">\(aliases)</table>")
            <h2>Tags</h2>\(tags.isEmpty ? "<p class=\"sf-muted\">No tags.</p>" as HTML : "<table class=\"sf-kv\" id=\"sf-model-tags\">\(tags)</table>")</section>
            </div>
            <h2>Versions</h2>
            <table class="sf-table" id="sf-versions"><thead><tr><th>Version</th><th>Stage</th><th>Aliases</th><th>Registered</th>\
            <th>Source run</th><th>Tags</th></tr></thead><tbody>\(rows)</tbody></table>
            \(rows.isEmpty ? "<p class=\"sf-muted\">No versions yet.</p>" as HTML : .empty)\(pager)
            """
        return Layout.page(model.name, section: .models, body: body)
    }
}

/// `/models/{name}/versions/{version}`: one version, linking to its run and source.
struct ModelVersionPage {
    let registry: any RegistryStore
    let tracking: any TrackingStore
    let name: String
    let version: String

    func render() async throws -> Response {
        let modelVersion = try await registry.getModelVersion(name: name, version: version)
        var runLink: HTML = ""
        if let runId = modelVersion.runId, !runId.isEmpty {
            let runName = (try? await tracking.getRun(id: runId))?.info.runName
            runLink = "<a href=\"/runs/\(component: runId)\">\(runName ?? runId)</a>"
        }
        let rows: [(String, HTML)] = [
            ("Model", "<a href=\"/models/\(component: name)\">\(modelVersion.name)</a>"),
            ("Version", "\(modelVersion.version)"),
            ("Stage", "\(modelVersion.currentStage.rawValue)"),
            ("Aliases", HTML(unsafe: modelVersion.aliases.sorted().map { "<span class=\"sf-chip\">@\(HTML.escaped($0))</span>" }.joined())),
            ("Status", "\(modelVersion.status.rawValue)"),
            ("Registered", Format.time(modelVersion.creationTimestamp)),
            ("Last modified", Format.time(modelVersion.lastUpdatedTimestamp)),
            ("Source", "<span class=\"mono\">\(modelVersion.source)</span>"),
            ("Run", runLink),
            ("Created by", "\(modelVersion.userId)"),
        ]
        let table = rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" as HTML }
        let tags = modelVersion.tags.map { "<tr><th>\($0.key)</th><td>\($0.value)</td></tr>" as HTML }
        let description = modelVersion.description ?? ""
        let body: HTML = """
            <div class="sf-crumbs"><a href="/models">Registered models</a> › <a href="/models/\(component: name)">\(name)</a> ›</div>
            <h1>\(name) version \(modelVersion.version)</h1>
            <div class="sf-grid">
            <section><h2>Overview</h2><table class="sf-kv" id="sf-version">\(table)</table></section>
            <section><h2>Description</h2><div class="sf-markdown" id="sf-description">\
            \(description.isEmpty ? "<p class=\"sf-muted\">No description.</p>" : Markdown.render(description))</div>
            <h2>Tags</h2>\(tags.isEmpty ? "<p class=\"sf-muted\">No tags.</p>" as HTML : "<table class=\"sf-kv\" id=\"sf-version-tags\">\(tags)</table>")</section>
            </div>
            """
        return Layout.page("\(name) v\(modelVersion.version)", section: .models, body: body)
    }
}
