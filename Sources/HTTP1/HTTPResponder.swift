/// The application side of the session: turns a request into a response.
///
/// Called on the connection's thread; it must write exactly one response
/// through `writer`. If it writes none, the session answers 500. The request
/// is valid only during the call.
public protocol HTTPResponder: AnyObject, Sendable {
    func respond(to request: HTTPRequest, writer: inout ResponseWriter)

    /// The status lines, with the header lines every response carries, that
    /// this responder's sessions write (read once, when a session is made).
    var statusLines: StatusLines { get }
}

extension HTTPResponder {
    /// Status lines alone: no fixed headers.
    public var statusLines: StatusLines { .shared }
}
