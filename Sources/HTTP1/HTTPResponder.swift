/// The application side of the session: turns a request into a response.
///
/// Called on the connection's thread; it must write exactly one response
/// through `writer`. If it writes none, the session answers 500. The request
/// is valid only during the call.
public protocol HTTPResponder: AnyObject, Sendable {
    func respond(to request: HTTPRequest, writer: inout ResponseWriter)
}
