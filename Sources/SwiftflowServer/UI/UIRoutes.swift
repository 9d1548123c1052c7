import HTTPTypes
import Hummingbird
import SwiftflowCore
import SwiftflowStore

/// The web UI: server-rendered pages over the same stores as the REST API, plus its assets.
///
/// Pages read the stores directly; everything they change goes through the REST API from the page
/// script, so the UI never has write paths of its own to secure.
struct UIRoutes {
    let store: any TrackingStore
    let registry: any RegistryStore

    func register(on router: Router<ServerRequestContext>) {
        let store = self.store, registry = self.registry
        router.get("/static/{name}") { _, context in
            guard let name = context.parameters.get("name"), let response = Assets.response(name) else {
                throw HTTPError(.notFound)
            }
            return response
        }
        // Pages of one resource are checked by `AuthMiddleware`; lists show only what the user may read.
        router.get("/") { request, context in
            await Self.rendered {
                try await ExperimentsPage(
                    store: store, query: UIQuery(request),
                    visibility: try await context.auth?.visibility(.experiment) ?? .all
                ).render()
            }
        }
        page(router, "/experiments/{id}") { request, parameters in
            try await RunsPage(store: store, experimentId: UIQuery.pathSegment(parameters.get("id")), query: UIQuery(request)).render()
        }
        router.get("/runs/{id}") { _, context in
            await Self.rendered {
                try await RunPage(
                    store: store, registry: registry, runId: UIQuery.pathSegment(context.parameters.get("id")),
                    auth: context.auth
                ).render()
            }
        }
        page(router, "/metric") { request in try await MetricPage(store: store, query: UIQuery(request)).render() }
        page(router, "/compare") { request in try await ComparePage(store: store, query: UIQuery(request)).render() }
        router.get("/models") { request, context in
            await Self.rendered {
                try await ModelsPage(
                    registry: registry, query: UIQuery(request),
                    visibility: try await context.auth?.visibility(.registeredModel) ?? .all
                ).render()
            }
        }
        page(router, "/models/{name}") { request, parameters in
            try await ModelPage(registry: registry, name: UIQuery.pathSegment(parameters.get("name")), query: UIQuery(request)).render()
        }
        page(router, "/models/{name}/versions/{version}") { _, parameters in
            try await ModelVersionPage(
                registry: registry, tracking: store, name: UIQuery.pathSegment(parameters.get("name")),
                version: UIQuery.pathSegment(parameters.get("version"))
            ).render()
        }
        router.get("/ui/api/metric-series") { request, _ in
            try await MetricPage.series(store: store, query: UIQuery(request))
        }
    }

    /// A page route whose errors render as an error page rather than MLflow's JSON.
    private func page(
        _ router: Router<ServerRequestContext>, _ path: RouterPath,
        _ render: @escaping @Sendable (Request, Parameters) async throws -> Response
    ) {
        router.get(path) { request, context in
            await Self.rendered { try await render(request, context.parameters) }
        }
    }

    /// A page, or an error page when rendering fails.
    private static func rendered(_ render: () async throws -> Response) async -> Response {
        do {
            return try await render()
        } catch {
            return Layout.error(error)
        }
    }

    private func page(
        _ router: Router<ServerRequestContext>, _ path: RouterPath,
        _ render: @escaping @Sendable (Request) async throws -> Response
    ) {
        page(router, path) { request, _ in try await render(request) }
    }
}

/// A page's query string.
package struct UIQuery: Sendable {
    private let parameters: [(String, String)]

    init(_ request: Request) {
        self.init(query: request.uri.query ?? "")
    }

    /// Parses `application/x-www-form-urlencoded` text, as a browser's GET form sends it.
    package init(query: String) {
        parameters = query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// A path segment as routed (still percent-encoded), decoded; `+` stays a plus there.
    package static func pathSegment(_ text: String?) -> String {
        decode(Substring(text ?? ""), plusIsSpace: false)
    }

    private static func decode(_ text: Substring, plusIsSpace: Bool = true) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+") where plusIsSpace: bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else {
                    bytes.append(byte)
                    continue
                }
                bytes.append(value)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The first value of `name`, if present and not empty.
    package func string(_ name: String) -> String? {
        guard let value = parameters.first(where: { $0.0 == name })?.1, !value.isEmpty else { return nil }
        return value
    }

    package func strings(_ name: String) -> [String] {
        parameters.filter { $0.0 == name }.map(\.1).filter { !$0.isEmpty }
    }

    package func int(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
        guard let text = string(name), let number = Int(text) else { return value }
        return min(max(number, range.lowerBound), range.upperBound)
    }
}
