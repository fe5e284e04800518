/// The request methods this server understands (RFC 9110 section 9 plus PATCH).
///
/// A method token that is syntactically valid but not listed here is answered
/// with 501 Not Implemented; one that is not a token at all gets 400.
public enum HTTPMethod: UInt8, CaseIterable, Sendable {
    case get, head, post, put, delete, connect, options, trace, patch

    /// The method's name as it appears on the request line.
    public var name: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .connect: "CONNECT"
        case .options: "OPTIONS"
        case .trace: "TRACE"
        case .patch: "PATCH"
        }
    }

    /// Recognises a method token without allocating. Method names are
    /// case-sensitive (RFC 9110 section 9.1), so `get` is not `GET`.
    public init?(token: UnsafeRawBufferPointer) {
        switch token.count {
        case 3:
            if token[0] == 0x47, token[1] == 0x45, token[2] == 0x54 { self = .get; return }  // GET
            if token[0] == 0x50, token[1] == 0x55, token[2] == 0x54 { self = .put; return }  // PUT
        case 4:
            if equalsExactly(token, "POST") { self = .post; return }
            if equalsExactly(token, "HEAD") { self = .head; return }
        case 5:
            if equalsExactly(token, "PATCH") { self = .patch; return }
            if equalsExactly(token, "TRACE") { self = .trace; return }
        case 6:
            if equalsExactly(token, "DELETE") { self = .delete; return }
        case 7:
            if equalsExactly(token, "OPTIONS") { self = .options; return }
            if equalsExactly(token, "CONNECT") { self = .connect; return }
        default:
            break
        }
        return nil
    }
}
