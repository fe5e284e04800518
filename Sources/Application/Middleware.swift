import HTTP1

/// A step around every routed request.
///
/// Pass on by calling `next`, or answer early by writing a response and not
/// calling it:
///
///     struct RequireToken: Middleware {
///         func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter,
///                     next: (inout ResponseWriter) -> Void) {
///             guard request.headers.first("x-token") != nil else {
///                 writer.respond(.forbidden, contentType: .textPlain, body: denied)
///                 return
///             }
///             next(&writer)
///         }
///     }
///
/// `next` is a non-escaping closure, so the chain allocates nothing.
public protocol Middleware: Sendable {
    func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void)
}

/// Adds a pre-serialized `Server` header to every response.
public struct ServerHeader: Middleware {
    let header: StaticHeader

    public init(_ value: String = "switchyard") {
        header = StaticHeader(name: "Server", value: value)
    }

    public func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void) {
        writer.addHeader(header)
        next(&writer)
    }
}

/// Counts requests that reach the router, on the serving thread's counters
/// (no lock, no shared cache line).
public struct RequestCounter: Middleware {
    public init() {}

    public func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void) {
        request.worker.counters.recordRoutedRequest()
        next(&writer)
    }
}
