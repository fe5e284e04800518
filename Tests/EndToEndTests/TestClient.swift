import Glibc
import HTTP1

/// A deliberately plain blocking HTTP/1.1 client for the end-to-end suite:
/// it sends exact bytes and parses responses strictly, so the tests see what a
/// peer on the wire sees.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var parser = ResponseParser(capturing: true, reportingInterim: true)

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Connects to 127.0.0.1:port. Reads give up after `timeout` seconds, a
    /// safety net against a hung server, not a performance assertion.
    /// `source`: the local address to connect from (any of 127/8 on
    /// Linux), so tests can be many clients to a policy that hashes addresses.
    ///
    /// The socket is stored only once connected: a class whose initializer
    /// throws after every property is set runs its deinit, which would close
    /// the descriptor a second time, by then perhaps another test's socket.
    init(port: Int, timeout: Double = 20, source: String? = nil) throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let message = String(cString: strerror(errno))
                close(socketFD)
                throw Failure(description: "bind to \(source): \(message)")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            let message = String(cString: strerror(errno))
            close(socketFD)
            throw Failure(description: "connect to port \(port): \(message)")
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        fd = socketFD
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        if n == 0 { return false }
        if errno == ECONNRESET { return false }
        if errno == EINTR { return try fill() }  // a signal interrupted the wait; not an error
        throw Failure(description: "recv: \(String(cString: strerror(errno)))")
    }

    /// Whether any byte arrives within `seconds`. Used to check that nothing
    /// arrives (a correct server can never fail such a check), or, with 0,
    /// whether an answer is already here (an order of completion).
    func receivesAnything(within seconds: Double) -> Bool {
        if !buffer.isEmpty { return true }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, Int32(seconds * 1000)) > 0
    }

    /// Half-closes: the server sees end of stream.
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Makes the eventual close a reset (SO_LINGER 0), as a client that
    /// crashes or gives up does; then shuts the socket down both ways.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        // The close in deinit sends the reset; shutting down first would send a FIN.
    }

    /// True if the server closed the connection (end of stream, nothing buffered).
    func isClosedByServer() throws -> Bool {
        if !buffer.isEmpty { return false }
        return try !fill()
    }

    /// Reads one response (HTTP1's `ResponseParser`, interim responses
    /// returned on their own). `head` tells the parser not to expect a body.
    func readResponse(head: Bool = false) throws -> TestResponse {
        if head { parser.nextAnswersHead() }
        while true {
            if !buffer.isEmpty {
                let (consumed, outcome) = buffer.withUnsafeBytes { parser.parse($0) }
                buffer.removeFirst(consumed)
                switch outcome {
                case .response:
                    return response()
                case .malformed:
                    throw Failure(description: "malformed response: \(parser.failure)")
                case .needMore:
                    break
                }
            }
            guard try fill() else {
                if case .response = parser.endOfInput() { return response() }
                throw Failure(description: "connection closed before a full response (\(parser.isIdle ? "nothing" : "part of one") received)")
            }
        }
    }

    private func response() -> TestResponse {
        let captured = parser.captured
        return TestResponse(status: captured.status, headers: captured.headers.map { ($0.name, $0.value) }, body: captured.body)
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] {
            if Array(buffer[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    /// One request, one response.
    func get(_ path: String, headers: String = "") throws -> TestResponse {
        try send("GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n")
        return try readResponse()
    }
}

struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
    var text: String { String(decoding: body, as: UTF8.self) }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
