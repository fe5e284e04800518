import HTTP1

/// A radix-tree HTTP router. See README.md in this directory for the design.
///
/// Add all routes first (`add` is not thread-safe); afterwards `lookup` may
/// be called from any number of threads at once, since it only reads.
public final class Router<Handler> {
    private var builder = TreeBuilder()
    private var handlers: [Handler] = []
    private var registered: [(method: HTTPMethod, pattern: String)] = []

    /// Lookup state, rebuilt from `builder` and `handlers` after every
    /// successful `add`. Kept as raw buffers rather than arrays so that
    /// concurrent lookups do not all retain and release the same buffers.
    private var tree: FlatTree
    private var handlerTable: UnsafeMutableBufferPointer<Handler>
    /// Copied out of the process-wide table here, so the table is built at
    /// start-up and lookups never trigger its one-time initialisation.
    private let allowValues = AllowValues.shared

    public init() {
        tree = FlatTree(builder)
        handlerTable = .allocate(capacity: 0)
    }

    deinit {
        tree.deallocate()
        handlerTable.deinitialize().deallocate()
    }

    /// Patterns: "/plaintext", "/users/:id", "/static/*path", "/a/:x/b/:y". Throws RouteError for: empty or not starting with "/",
    /// a wildcard not last, an empty param name, conflicting param names at the same position (":id" vs ":name"),
    /// more than 8 params, duplicate (method, pattern).
    ///
    /// Also refused: a parameter name containing ":" or "*", and the same
    /// name twice in one pattern. A failed call changes nothing.
    public func add(_ method: HTTPMethod, _ pattern: String, _ handler: Handler) throws(RouteError) {
        let parsed = try RoutePattern(pattern)
        try builder.insert(parsed, method: method, handler: handlers.count)
        handlers.append(handler)
        registered.append((method, pattern))

        // Rebuilding everything costs O(routes) per add, O(routes^2) in all:
        // negligible at start-up, and it keeps lookups free of any "is the
        // tree up to date" check or lazy mutation.
        tree.deallocate()
        tree = FlatTree(builder)
        handlerTable.deinitialize().deallocate()
        handlerTable = .allocate(capacity: handlers.count)
        _ = handlerTable.initialize(from: handlers)
    }

    /// `path` is the raw request path bytes (no query string). Must not allocate for any lookup
    /// (static, param or wildcard). Parameter values are slices of `path`.
    ///
    /// Among the routes matching `path`, the first one in precedence order
    /// (literal before `:param` before `*wildcard`, decided at the first
    /// place where routes differ) that has a handler for `method` wins; HEAD
    /// uses GET's handler where a route has no HEAD of its own. If routes
    /// match the path but none has the method, the Allow value lists the
    /// methods of all of them.
    public func lookup(_ method: HTTPMethod, path: UnsafeRawBufferPointer, parameters: inout RouteParameters)
        -> RouteMatch<Handler>
    {
        parameters.start(path: path.baseAddress, nameTable: tree.nameTable)
        let (handler, allowed) = tree.match(method, path: path, parameters: &parameters)
        if handler >= 0 {
            // safety: handler indices in the tree are positions in `handlers`,
            // which `handlerTable` mirrors element for element.
            return .found(handlerTable[handler])
        }
        if allowed != 0 {
            return .methodNotAllowed(allow: allowValues.value(for: allowed))
        }
        return .notFound
    }

    /// All registered (method, pattern) pairs, for diagnostics.
    public var routes: [(method: HTTPMethod, pattern: String)] {
        registered
    }
}

// Lookups only read, so sharing a router between threads is safe once the
// start-up code has finished calling `add`; that ordering is the caller's
// contract, which the compiler cannot check.
extension Router: @unchecked Sendable where Handler: Sendable {}
