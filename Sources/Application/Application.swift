import HTTP1
import LoopRuntime
import Metrics
import Router

/// A route's handler: answers one request through the writer it is lent.
public typealias RouteHandler = @Sendable (HTTPRequest, RouteParameters, inout ResponseWriter) -> Void

/// A route's handler and its priority class, both fixed at start-up.
final class Route: Sendable {
    let handler: RouteHandler
    let priority: PriorityClass

    init(handler: @escaping RouteHandler, priority: PriorityClass) {
        self.handler = handler
        self.priority = priority
    }
}

/// Routes requests through middleware to handlers; the responder every engine drives.
///
/// Built once at start-up (`route`, `use`), then shared read-only by all
/// worker threads.
public final class Application: HTTPResponder, @unchecked Sendable {
    // safety (@unchecked Sendable): `router` and `middleware` are mutated only
    // while the application is being configured, before any engine starts.
    /// The router holds unowned references, which copy without reference
    /// counting: a lookup then costs no retain and release of the route and
    /// its handler's context per request. `routeObjects` keeps them alive.
    private let router = Router<Unmanaged<Route>>()
    private var routeObjects: [Route] = []
    private var middleware: [any Middleware] = []
    /// Classes given to routes as they are registered.
    public let priorities: PriorityRules
    /// Status lines followed by the fixed headers, serialized once here.
    public let statusLines: StatusLines
    private let notFound = StaticResponse(contentType: .textPlain, body: "404 Not Found\n")

    /// `fixedHeaders` go out with every response, this application's and
    /// the session's own (400, 408, ...), after the status line: bytes made
    /// once, as nginx's `server_tokens` line is, not a middleware step per
    /// request.
    public init(priorities: PriorityRules = .defaults, fixedHeaders: [(name: String, value: String)] = []) {
        self.priorities = priorities
        statusLines = StatusLines(fixedHeaders: fixedHeaders)
    }

    public func use(_ step: any Middleware) {
        middleware.append(step)
    }

    /// Registers a handler; throws for a malformed or conflicting pattern.
    public func route(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) throws(RouteError) {
        let route = Route(handler: handler, priority: priorities.priority(of: pattern))
        try router.add(method, pattern, Unmanaged.passUnretained(route))
        routeObjects.append(route)
    }

    public var routes: [(method: HTTPMethod, pattern: String)] { router.routes }

    /// Each route with the class the priority rules gave it.
    public var routePriorities: [(method: HTTPMethod, pattern: String, priority: PriorityClass)] {
        router.routes.map { ($0.method, $0.pattern, priorities.priority(of: $0.pattern)) }
    }

    public func respond(to request: HTTPRequest, writer: inout ResponseWriter) {
        if middleware.isEmpty {
            dispatch(request, &writer)
        } else {
            runMiddleware(from: 0, request, &writer)
        }
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

    @inline(__always)
    private func dispatch(_ request: HTTPRequest, _ writer: inout ResponseWriter) {
        // Counted on the serving thread's counters, through a guaranteed
        // reference (a strong copy of `request.loop` would be retained).
        Unmanaged.passUnretained(request.loop).guaranteed { $0.counters.recordRoutedRequest() }
        var parameters = RouteParameters()
        switch router.lookup(request.method, path: request.path, parameters: &parameters) {
        case .found(let found):
            // safety: `routeObjects` holds every route the router returns.
            found.guaranteed { run($0, request, parameters, &writer) }
        case .methodNotAllowed(let allow):
            writer.head(.methodNotAllowed)
            writer.header("Allow", allow)
            writer.body(contentType: .textPlain, Bodies.methodNotAllowed)
        case .notFound:
            writer.respond(.notFound, notFound)
        }
    }

    /// Runs the route's handler, unless its class is being shed.
    @inline(__always)
    private func run(_ route: Route, _ request: HTTPRequest, _ parameters: RouteParameters, _ writer: inout ResponseWriter) {
        let shed = Unmanaged.passUnretained(request.loop).guaranteed { loop in
            if loop.overload.sheds(route.priority) {
                loop.counters.recordShed(priority: route.priority.rawValue)
                return true
            }
            loop.overload.answered(route.priority)
            return false
        }
        if shed {
            // The loop is overloaded and this class waits too long: a
            // cheap answer instead of the handler; the connection stays.
            writer.head(.serviceUnavailable)
            writer.header(Bodies.retryAfter)
            writer.body(contentType: .textPlain, Bodies.overloaded)
            return
        }
        route.handler(request, parameters, &writer)
        if writer.isDeferred {
            // Sampled when it is answered, with its real duration, not in this turn.
            Unmanaged.passUnretained(request.loop).guaranteed { $0.overload.deferred(route.priority) }
            writer.setDeferredPriority(route.priority)
        }
    }
}

/// Response bodies known at start-up.
enum Bodies {
    static let helloWorld = StaticBytes("Hello, World!")
    static let methodNotAllowed = StaticBytes("405 Method Not Allowed\n")
    static let overloaded = StaticBytes("503 overloaded: retry later\n")
    static let retryAfter = StaticHeader(name: "Retry-After", value: "1")
}
