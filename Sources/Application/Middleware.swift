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
    /// The line alone (16 bytes), so the middleware fits an existential's
    /// inline buffer: the chain copies it without a heap box.
    let line: StaticBytes

    public init(_ value: String = "switchyard") {
        // The line alone: a StaticHeader would also make its
        // Content-Length variant, which nothing would hold (a leak to ASan).
        line = StaticBytes("Server: \(value)\r\n")
    }

    public func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void) {
        writer.addHeader(line: line)
        next(&writer)
    }
}

/// Counts requests that reach the router, on the serving thread's counters
/// (no lock, no shared cache line).
public struct RequestCounter: Middleware {
    public init() {}

    public func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void) {
        // A guaranteed reference: a strong copy of `request.worker` is retained.
        Unmanaged.passUnretained(request.worker)._withUnsafeGuaranteedRef { $0.counters.recordRoutedRequest() }
        next(&writer)
    }
}
