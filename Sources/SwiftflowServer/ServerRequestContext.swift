import Hummingbird
import NIOCore

/// Hummingbird's basic request context plus the request's connection, so that an upload can answer
/// `Expect: 100-continue` before it reads the body: curl and libcurl-based clients ask for it on bodies
/// over 1 MiB and otherwise wait a second before sending.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    /// The authenticated user when the basic-auth app is on (set by `AuthMiddleware`).
    var auth: RequestAuth?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}
