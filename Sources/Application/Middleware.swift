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
/// `next` is a non-escaping closure, so the chain allocates nothing. A
/// header every response carries needs no middleware: give it to the
/// `Application` as a fixed header, serialized once with the status lines.
public protocol Middleware: Sendable {
    func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void)
}
