/// The outcome of `Router.lookup`.
public enum RouteMatch<Handler> {
    case found(Handler)
    /// Path exists but not for this method. `allow` is the pre-serialized value of the Allow header,
    /// e.g. "GET, HEAD, POST" (bytes valid for the router's lifetime, built when routes are added/finalized, not per lookup).
    case methodNotAllowed(allow: UnsafeRawBufferPointer)
    case notFound
}
