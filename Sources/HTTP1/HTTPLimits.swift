/// Size limits applied while parsing a request, and how the parser scans
/// bytes. Every one is a CLI flag. Sessions share one copy (`SharedLimits`)
/// and pass it to their parser and chunked decoder, which do not store it.
public struct HTTPLimits: Sendable, Equatable {
    /// The parser's byte scanners (`--parser-simd`); `best` is what `auto` picks.
    public var parserSIMD: ParserSIMD = .best
    /// Longest request line accepted; longer gets 414.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Largest header section (all field lines, excluding the request line); 431 beyond.
    public var maxHeaderBytes: Int = 16 * 1024
    /// Longest single field line; 431 beyond.
    public var maxFieldBytes: Int = 8 * 1024
    /// Most field lines in one header (or trailer) section; 431 beyond.
    public var maxFieldCount: Int = 100
    /// Largest request body, after removing chunked framing; 413 beyond.
    public var maxBodyBytes: Int = 1024 * 1024
    /// Requests one keep-alive connection may carry; the last one's response
    /// says `Connection: close` (0: no limit). Bounds how long one client
    /// holds a connection, as nginx's keepalive_requests does.
    public var maxRequestsPerConnection: Int = 0

    public init() {}

    public init(maxRequestLineBytes: Int = 8 * 1024, maxHeaderBytes: Int = 16 * 1024,
                maxFieldBytes: Int = 8 * 1024, maxFieldCount: Int = 100, maxBodyBytes: Int = 1024 * 1024,
                maxRequestsPerConnection: Int = 0, parserSIMD: ParserSIMD = .best) {
        self.parserSIMD = parserSIMD
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxFieldBytes = maxFieldBytes
        self.maxFieldCount = maxFieldCount
        self.maxBodyBytes = maxBodyBytes
    }

    /// The most bytes a request head can occupy in the input buffer.
    var maxHeadBytes: Int { 2 * maxRequestLineBytes + maxHeaderBytes + 6 }  // empty lines before the request line count too
}

/// The protocol version of a request. HTTP/1.x with a minor version above 1 is
/// treated as 1.1 (RFC 9110 section 6.2); any other major version is answered 505.
public enum HTTPVersion: Sendable, Equatable {
    case http10
    case http11
}

/// One set of request limits shared by the sessions that use it (a loop's,
/// per configuration generation). A session keeps this reference, 8 bytes,
/// rather than its own 56-byte copy: at 10,000 idle connections that is
/// 480 KB, and it moved a session from glibc's 256-byte size class to
/// 208. Immutable, so sharing needs no lock; equal only to itself, so a
/// loop sees a reload's limits by identity.
public final class SharedLimits: Sendable, Equatable {
    public let value: HTTPLimits

    public init(_ value: HTTPLimits = HTTPLimits()) {
        self.value = value
    }

    public static func == (a: SharedLimits, b: SharedLimits) -> Bool { a === b }
}
