/// A response status code with its reason phrase.
public struct HTTPStatus: Sendable, Equatable, Hashable {
    public let code: Int

    public init(_ code: Int) { self.code = code }

    public static let `continue` = HTTPStatus(100)
    public static let ok = HTTPStatus(200)
    public static let created = HTTPStatus(201)
    public static let noContent = HTTPStatus(204)
    public static let partialContent = HTTPStatus(206)
    public static let movedPermanently = HTTPStatus(301)
    public static let notModified = HTTPStatus(304)
    public static let badRequest = HTTPStatus(400)
    public static let forbidden = HTTPStatus(403)
    public static let notFound = HTTPStatus(404)
    public static let methodNotAllowed = HTTPStatus(405)
    public static let requestTimeout = HTTPStatus(408)
    public static let lengthRequired = HTTPStatus(411)
    public static let contentTooLarge = HTTPStatus(413)
    public static let uriTooLong = HTTPStatus(414)
    public static let rangeNotSatisfiable = HTTPStatus(416)
    public static let expectationFailed = HTTPStatus(417)
    public static let headerFieldsTooLarge = HTTPStatus(431)
    public static let internalServerError = HTTPStatus(500)
    public static let notImplemented = HTTPStatus(501)
    public static let serviceUnavailable = HTTPStatus(503)
    public static let gatewayTimeout = HTTPStatus(504)
    public static let versionNotSupported = HTTPStatus(505)

    public var reasonPhrase: String {
        switch code {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// 1xx, 204 and 304 responses never carry a body or Content-Length
    /// (RFC 9110 sections 8.6 and 15).
    public var allowsBody: Bool { code >= 200 && code != 204 && code != 304 }
}

/// Pre-serialized "HTTP/1.1 NNN Reason\r\n" lines, each followed by the
/// header lines every response carries (`Server`, say), built once.
///
/// Responses always carry HTTP/1.1: a server sends the highest minor version it
/// supports, also to HTTP/1.0 clients (RFC 9110 section 6.2).
/// An application builds its table at start-up (`HTTPResponder.statusLines`);
/// sessions keep the table's pointer, so the hot path never touches a lazy
/// global, and a fixed header costs no work per response beyond its bytes.
public struct StatusLines: @unchecked Sendable {
    // safety: 600 entries, built once, immutable, never freed (the bytes
    // live as long as the process, as every `StaticBytes` does).
    let lines: UnsafePointer<StaticBytes>

    /// Status lines alone.
    public static let shared = StatusLines(fixedHeaders: [])

    /// Status lines, each followed by `fixedHeaders` in order. Names must be
    /// tokens and values must not hold CR, LF or NUL (RFC 9110 section 5.5):
    /// a configuration error, caught here at start-up.
    public init(fixedHeaders: [(name: String, value: String)]) {
        let classes = ByteClasses.shared
        var fixed = ""
        for (name, value) in fixedHeaders {
            precondition(!name.isEmpty && name.utf8.allSatisfy(classes.isToken), "fixed header name \(name) is not a token")
            precondition(value.utf8.allSatisfy(classes.isFieldValue), "fixed header \(name) has a byte a field value cannot hold")
            fixed += "\(name): \(value)\r\n"
        }
        let table = UnsafeMutablePointer<StaticBytes>.allocate(capacity: 600)
        for code in 0..<600 {
            (table + code).initialize(to: StaticBytes("HTTP/1.1 \(code) \(HTTPStatus(code).reasonPhrase)\r\n\(fixed)"))
        }
        lines = UnsafePointer(table)
    }

    @inline(__always)
    func line(for status: HTTPStatus) -> StaticBytes {
        lines[status.code >= 100 && status.code < 600 ? status.code : 500]
    }
}
