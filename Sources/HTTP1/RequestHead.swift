/// Where one header field lies, as offsets from the first byte of the request.
/// Offsets (not pointers) survive the input buffer being moved or compacted.
public struct FieldSlot: Sendable {
    var nameStart: UInt32 = 0
    var nameLength: UInt32 = 0
    var valueStart: UInt32 = 0
    var valueLength: UInt32 = 0
}

/// How a request's body is framed (RFC 9112 section 6.3).
enum BodyFraming: Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// Everything the parser learned from a request head, as offsets and flags.
struct RequestHead {
    var method: HTTPMethod = .get
    var version: HTTPVersion = .http11
    var targetStart = 0, targetLength = 0
    /// Path of the target; length 0 means "/" (absolute-form without a path).
    var pathStart = 0, pathLength = 0
    /// Query after '?', or queryStart == -1 when the target has none.
    var queryStart = -1, queryLength = 0
    var fieldCount = 0
    /// Bytes from the request line's first byte through the blank line.
    var headLength = 0
    var framing: BodyFraming = .none
    var hostCount = 0
    var connectionClose = false
    var connectionKeepAlive = false
    var expectContinue = false

    /// Whether the connection may carry another request after this one.
    var keepAlive: Bool {
        switch version {
        case .http11: !connectionClose
        case .http10: connectionKeepAlive && !connectionClose
        }
    }
}
