import Glibc
import HTTP1

/// One blocking HTTP/1.1 GET on a fresh connection, for the runner's
/// control traffic: polling `/health` until a server is up and reading
/// `/metrics` around a measurement. Not for load; the load generator does that.
enum HTTPProbe {
    struct Response {
        var status: Int
        var body: String
    }

    /// GETs `path` from 127.0.0.1:`port`, giving up after `timeout` seconds
    /// in all. Returns nil when there is no complete response (refused,
    /// reset, timed out, not HTTP).
    static func get(port: Int, path: String, timeout: Double) -> Response? {
        let deadline = LoadClockSeconds.now() + timeout
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        // safety: sockaddr_in is the layout connect expects for AF_INET.
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            // safety: the pointer and count stay within `request`.
            let count = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            sent += count
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while LoadClockSeconds.now() < deadline {
            // safety: recv writes at most chunk.count bytes into the chunk's storage.
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            if let response = parse(bytes), response.complete { return response.response }
            guard bytes.count < 4 << 20 else { return nil }
        }
        // The server closed: a response without Content-Length ends here.
        guard let response = parse(bytes), response.complete || !response.hasLength else { return nil }
        return response.response
    }

    /// The status and body of `bytes` (HTTP1's `ResponseParser`, lenient),
    /// if its head is complete: `complete` once the body has all arrived,
    /// `hasLength` when the response says how long its body is.
    static func parse(_ bytes: [UInt8]) -> (response: Response, complete: Bool, hasLength: Bool)? {
        var parser = ResponseParser(capturing: true)
        let (_, outcome) = bytes.withUnsafeBytes { parser.parse($0) }
        let captured = parser.captured
        guard captured.status > 0 else { return nil }
        let hasLength = captured.header("Content-Length") != nil
        let response = Response(status: captured.status, body: String(decoding: captured.body, as: UTF8.self))
        switch outcome {
        case .response: return (response, true, hasLength)
        // The head is complete once the parser has moved on to the body.
        case .needMore: return parser.isInBody ? (response, false, hasLength) : nil
        case .malformed: return nil
        }
    }

    /// A free TCP port on 127.0.0.1, found by binding port 0. Another
    /// process could take it before the server binds it; the runner then
    /// sees a failed start and records it.
    static func freePort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // safety: sockaddr_in is the layout bind and getsockname use for AF_INET.
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
