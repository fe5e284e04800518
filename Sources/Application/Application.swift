import HTTP1
import Metrics
import Router

/// A route's handler: answers one request through the writer it is lent.
public typealias RouteHandler = @Sendable (HTTPRequest, RouteParameters, inout ResponseWriter) -> Void

/// Routes requests through middleware to handlers; the responder every engine drives.
///
/// Built once at start-up (`route`, `use`), then shared read-only by all
/// worker threads.
public final class Application: HTTPResponder, @unchecked Sendable {
    // safety (@unchecked Sendable): `router` and `middleware` are mutated only
    // while the application is being configured, before any engine starts.
    private let router = Router<RouteHandler>()
    private var middleware: [any Middleware] = []

    public init() {}

    public func use(_ step: any Middleware) {
        middleware.append(step)
    }

    /// Registers a handler; throws for a malformed or conflicting pattern.
    public func route(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) throws(RouteError) {
        try router.add(method, pattern, handler)
    }

    public var routes: [(method: HTTPMethod, pattern: String)] { router.routes }

    public func respond(to request: HTTPRequest, writer: inout ResponseWriter) {
        runMiddleware(from: 0, request, &writer)
    }

    private func runMiddleware(from index: Int, _ request: HTTPRequest, _ writer: inout ResponseWriter) {
        guard index < middleware.count else {
            dispatch(request, &writer)
            return
        }
        middleware[index].handle(request, &writer) { writer in
            runMiddleware(from: index + 1, request, &writer)
        }
    }

    private func dispatch(_ request: HTTPRequest, _ writer: inout ResponseWriter) {
        var parameters = RouteParameters()
        switch router.lookup(request.method, path: request.path, parameters: &parameters) {
        case .found(let handler):
            handler(request, parameters, &writer)
        case .methodNotAllowed(let allow):
            writer.head(.methodNotAllowed)
            writer.header("Allow", allow)
            writer.body(contentType: .textPlain, Bodies.methodNotAllowed)
        case .notFound:
            writer.respond(.notFound, contentType: .textPlain, body: Bodies.notFound)
        }
    }
}

/// Response bodies known at start-up.
enum Bodies {
    static let helloWorld = StaticBytes("Hello, World!")
    static let notFound = StaticBytes("404 Not Found\n")
    static let methodNotAllowed = StaticBytes("405 Method Not Allowed\n")
    static let ok = StaticBytes("ok\n")
}
