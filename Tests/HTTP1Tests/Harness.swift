// Test harness for the sans-I/O HTTP/1.1 core: a recording responder, a driver
// that plays the engine's role (feed bytes, loop process/didWrite), and a small
// HTTP response parser so tests can assert on status codes, headers and bodies.

import Testing
@testable import HTTP1
import Metrics

// MARK: - Bytes and strings

extension Array where Element == UInt8 {
    /// Request bytes from a string literal (written with explicit "\r\n").
    init(_ string: String) { self = Array(string.utf8) }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

func text(_ bytes: some Sequence<UInt8>) -> String { String(decoding: Array(bytes), as: UTF8.self) }

/// Bytes shown exactly (printable ASCII as is, others as \r, \n or \xNN), to
/// reproduce a failing input from a test log.
func escaped(_ bytes: [UInt8]) -> String {
    var s = "\""
    for b in bytes {
        switch b {
        case 0x0D: s += "\\r"
        case 0x0A: s += "\\n"
        case 0x22, 0x5C: s += "\\" + String(UnicodeScalar(b))
        case 0x20..<0x7F: s += String(UnicodeScalar(b))
        default: s += "\\x" + (b < 0x10 ? "0" : "") + String(b, radix: 16, uppercase: true)
        }
    }
    return s + "\""
}

/// Builds a request: request line, the given field lines, blank line, body.
func request(_ requestLine: String, _ fields: [String] = ["Host: example.com"], body: String = "") -> [UInt8] {
    var s = requestLine + "\r\n"
    for f in fields { s += f + "\r\n" }
    s += "\r\n" + body
    return s.bytes
}

// MARK: - Recording responder

/// A copy of what the responder saw: `HTTPRequest` is a view into the
/// session's buffer and is only valid during `respond`.
struct Recorded: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var path: String
    var query: String?
    var version: HTTPVersion
    var headers: [(String, String)]
    var body: [UInt8]
    var keepAlive: Bool

    init(_ r: HTTPRequest) {
        method = r.method.name
        target = r.target.string
        path = r.path.string
        query = r.query?.string
        version = r.version
        headers = r.headers.map { ($0.name.string, $0.value.string) }
        body = Array(r.body)
        keepAlive = r.keepAlive
    }

    static func == (a: Recorded, b: Recorded) -> Bool {
        a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query
            && a.version == b.version && a.body == b.body && a.keepAlive == b.keepAlive
            && a.headers.map(\.0) == b.headers.map(\.0) && a.headers.map(\.1) == b.headers.map(\.1)
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var description: String {
        "\(method) \(target) [\(version)] path=\(path) query=\(query ?? "nil") keepAlive=\(keepAlive) "
            + "headers=\(headers.map { "\($0.0): \($0.1)" }) body=\(text(body).debugDescription)"
    }
}

/// The body the default responder sends: "<METHOD> <target>\n" + request body.
/// Distinct per request, so tests can check pipelined responses' order.
func echoBody(method: String, target: String, body: [UInt8]) -> [UInt8] {
    "\(method) \(target)\n".bytes + body
}

/// Records every request, then answers it: by default 200 with `echoBody`,
/// or with a custom handler (serializer tests).
final class RecordingResponder: HTTPResponder, @unchecked Sendable {
    typealias Handler = @Sendable (HTTPRequest, inout ResponseWriter) -> Void
    private(set) var requests: [Recorded] = []
    let handler: Handler?

    init(_ handler: Handler? = nil) { self.handler = handler }

    func respond(to request: HTTPRequest, writer: inout ResponseWriter) {
        let copy = Recorded(request)
        requests.append(copy)
        if let handler {
            handler(request, &writer)
            return
        }
        let body = echoBody(method: copy.method, target: copy.target, body: copy.body)
        body.withUnsafeBytes { writer.respond(.ok, contentType: .octetStream, body: $0) }
    }
}

// MARK: - Driver

/// One connection driven the way an engine drives it, minus the socket.
final class TestConnection {
    let worker = WorkerContext(counters: WorkerCounters())
    let responder: RecordingResponder
    let session: HTTPSession
    /// Everything the session has written so far.
    private(set) var output: [UInt8] = []
    private(set) var closed = false
    private(set) var lastAction: SessionAction = .read
    /// Largest `didWrite` the fake socket accepts at once (partial writes).
    var maxWrite = Int.max
    /// `process()` calls that returned `.write`; shows backpressure at work.
    private(set) var writeActions = 0

    init(limits: HTTPLimits = HTTPLimits(), responder: RecordingResponder = RecordingResponder()) {
        self.responder = responder
        session = HTTPSession(responder: responder, worker: worker, limits: limits)
    }

    /// Feeds `bytes` (if the connection is still open) and runs the session
    /// until it wants to read or close. Returns the bytes written meanwhile.
    @discardableResult
    func send(_ bytes: [UInt8]) -> [UInt8] {
        guard !closed else { return [] }
        session.receive(bytes)
        return pump()
    }

    /// process()/didWrite until `.read` or `.close`. Bounded, so a session
    /// that never settles fails the test instead of hanging it.
    @discardableResult
    func pump() -> [UInt8] {
        let before = output.count
        for _ in 0..<1_000_000 {
            lastAction = session.process()
            switch lastAction {
            case .write:
                writeActions += 1
                let pending = session.pendingOutput
                guard pending.count > 0 else {
                    Issue.record("process() returned .write with nothing pending")
                    return Array(output[before...])
                }
                let n = min(pending.count, maxWrite)
                output += pending[0..<n]
                session.didWrite(n)
            case .read:
                return Array(output[before...])
            case .close:
                #expect(session.pendingOutput.count == 0, ".close with output still pending")
                closed = true
                return Array(output[before...])
            }
        }
        Issue.record("session did not settle on .read or .close")
        return Array(output[before...])
    }

    var requests: [Recorded] { responder.requests }
}

/// What one run produced.
struct RunResult {
    var output: [UInt8]
    var closed: Bool
    var requests: [Recorded]
    /// Final (non-1xx) responses parsed from `output`.
    var responses: [ParsedResponse]
    /// Interim 1xx responses, in order.
    var interim: [ParsedResponse]
    /// Set when `output` is not a well-formed sequence of responses.
    var parseError: String?

    var statuses: [Int] { responses.map(\.status) }
    /// Output with Date values masked, for comparing runs made at different times.
    var comparableOutput: String { text(maskDates(output)) }
}

/// Feeds `pieces` one after another (each followed by process/didWrite
/// until .read or .close) and parses what came out.
/// `headResponses` says which final responses answer HEAD (no body bytes).
func run(pieces: [[UInt8]], limits: HTTPLimits = HTTPLimits(), responder: RecordingResponder = RecordingResponder(),
         maxWrite: Int = .max, headResponses: Set<Int> = [], lenientLastBody: Bool = false,
         setUp: (HTTPSession) -> Void = { _ in }) -> RunResult {
    let c = TestConnection(limits: limits, responder: responder)
    c.maxWrite = maxWrite
    setUp(c.session)
    for piece in pieces where !c.closed { c.send(piece) }
    return result(of: c, headResponses: headResponses, lenientLastBody: lenientLastBody)
}

func run(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits(), responder: RecordingResponder = RecordingResponder(),
         headResponses: Set<Int> = []) -> RunResult {
    run(pieces: [bytes], limits: limits, responder: responder, headResponses: headResponses)
}

func run(_ string: String, limits: HTTPLimits = HTTPLimits(), responder: RecordingResponder = RecordingResponder(),
         headResponses: Set<Int> = []) -> RunResult {
    run(pieces: [string.bytes], limits: limits, responder: responder, headResponses: headResponses)
}

func result(of c: TestConnection, headResponses: Set<Int> = [], lenientLastBody: Bool = false) -> RunResult {
    var r = RunResult(output: c.output, closed: c.closed, requests: c.requests, responses: [], interim: [], parseError: nil)
    do {
        let all = try parseResponses(c.output, headResponses: headResponses, lenientLastBody: lenientLastBody)
        r.responses = all.filter { $0.status >= 200 }
        r.interim = all.filter { $0.status < 200 }
    } catch {
        r.parseError = "\(error)"
    }
    return r
}

/// Splits `bytes` into two pieces at `offset`.
func split(_ bytes: [UInt8], at offset: Int) -> [[UInt8]] {
    [Array(bytes[..<offset]), Array(bytes[offset...])]
}

/// One byte per piece.
func bytewise(_ bytes: [UInt8]) -> [[UInt8]] { bytes.map { [$0] } }

// MARK: - Response parser

struct ParsedResponse: Equatable, CustomStringConvertible {
    var version: String
    var status: Int
    var reason: String
    var headers: [(String, String)]
    var body: [UInt8]
    /// The raw bytes of this response (head and framed body).
    var raw: [UInt8]

    static func == (a: ParsedResponse, b: ParsedResponse) -> Bool { a.raw == b.raw }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func headers(named name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    var closes: Bool { header("Connection")?.lowercased() == "close" }
    var bodyText: String { text(body) }

    var description: String { "\(status) \(reason) \(headers.map { "\($0.0): \($0.1)" }) body=\(bodyText.debugDescription)" }
}

struct ResponseParseError: Error, CustomStringConvertible {
    var description: String
}

/// Parses a byte stream of HTTP/1.1 responses strictly: status line
/// `HTTP/1.1 NNN reason`, CRLF field lines `name: value`, blank line, then a
/// body framed by Content-Length or chunked (RFC 9112 sections 4, 6, 7).
/// 1xx, 204 and 304 and HEAD responses have no body.
func parseResponses(_ bytes: [UInt8], headResponses: Set<Int> = [], lenientLastBody: Bool = false) throws -> [ParsedResponse] {
    var out: [ParsedResponse] = []
    var i = 0
    var finalIndex = 0
    func fail(_ why: String) -> ResponseParseError {
        ResponseParseError(description: "\(why) at byte \(i) in \(text(bytes).debugDescription)")
    }
    func line() throws -> String {
        var j = i
        while j + 1 < bytes.count && !(bytes[j] == 0x0D && bytes[j + 1] == 0x0A) {
            if bytes[j] == 0x0D || bytes[j] == 0x0A { throw fail("bare CR or LF") }
            j += 1
        }
        guard j + 1 < bytes.count else { throw fail("unterminated line") }
        let s = text(bytes[i..<j])
        i = j + 2
        return s
    }
    while i < bytes.count {
        let start = i
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "HTTP/1.1", parts[1].count == 3, let status = Int(parts[1]) else {
            throw fail("bad status line \(statusLine.debugDescription)")
        }
        var headers: [(String, String)] = []
        while true {
            let l = try line()
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: ":"), colon != l.startIndex else { throw fail("bad field line \(l.debugDescription)") }
            let name = String(l[..<colon])
            guard !name.contains(" ") else { throw fail("space in field name") }
            headers.append((name, l[l.index(after: colon)...].trimmingOWS()))
        }
        var r = ParsedResponse(version: "HTTP/1.1", status: status, reason: String(parts[2]), headers: headers, body: [], raw: [])
        let isFinal = status >= 200
        let noBody = !isFinal || status == 204 || status == 304 || headResponses.contains(finalIndex)
        if !noBody {
            let lengths = r.headers(named: "Content-Length")
            let te = r.header("Transfer-Encoding")
            if te != nil && !lengths.isEmpty { throw fail("both Content-Length and Transfer-Encoding") }
            if lengths.count > 1 { throw fail("several Content-Length fields") }
            if te?.lowercased() == "chunked" {
                while true {
                    let sizeLine = try line()
                    guard let size = Int(sizeLine, radix: 16), size >= 0 else { throw fail("bad chunk size \(sizeLine.debugDescription)") }
                    if size == 0 {
                        guard try line().isEmpty else { throw fail("trailers in a response") }
                        break
                    }
                    guard i + size + 2 <= bytes.count else { throw fail("truncated chunk") }
                    r.body += bytes[i..<(i + size)]
                    i += size
                    guard bytes[i] == 0x0D, bytes[i + 1] == 0x0A else { throw fail("chunk data without CRLF") }
                    i += 2
                }
            } else if let te {
                throw fail("unexpected Transfer-Encoding \(te)")
            } else if let cl = lengths.first {
                guard let n = Int(cl), n >= 0 else { throw fail("bad Content-Length \(cl)") }
                if i + n > bytes.count {
                    // The final response of a stream may answer a HEAD request
                    // the harness did not know about (fuzzing): no body follows.
                    guard lenientLastBody && i == bytes.count else { throw fail("truncated body") }
                } else {
                    r.body = Array(bytes[i..<(i + n)])
                    i += n
                }
            } else {
                throw fail("final response without framing (would be read until close)")
            }
        } else if isFinal && !headResponses.contains(finalIndex) {
            // 204/304: no Content-Length and no Transfer-Encoding (RFC 9110 8.6, 6.1).
            if r.header("Content-Length") != nil && status == 204 { throw fail("Content-Length on 204") }
            if r.header("Transfer-Encoding") != nil { throw fail("Transfer-Encoding on \(status)") }
        }
        r.raw = Array(bytes[start..<i])
        if isFinal { finalIndex += 1 }
        out.append(r)
    }
    return out
}

extension Substring {
    func trimmingOWS() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Replaces every Date value (IMF-fixdate, 29 bytes) with '#'s.
func maskDates(_ bytes: [UInt8]) -> [UInt8] {
    var out = bytes
    let marker = "\r\nDate: ".bytes
    var i = 0
    while i + marker.count + 29 <= out.count {
        if Array(out[i..<(i + marker.count)]) == marker {
            for k in 0..<29 { out[i + marker.count + k] = 0x23 }
            i += marker.count + 29
        } else {
            i += 1
        }
    }
    return out
}

// MARK: - Deterministic randomness

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seeded, reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Common expectations

/// The request was rejected with `status`, nothing reached the responder, the
/// error response announced `Connection: close` and the session closed.
func expectRejected(_ r: RunResult, _ status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.parseError == nil, "\(r.parseError ?? "")", sourceLocation: sourceLocation)
    #expect(r.statuses == [status], "output: \(text(r.output).debugDescription)", sourceLocation: sourceLocation)
    #expect(r.requests.isEmpty, "responder saw \(r.requests)", sourceLocation: sourceLocation)
    #expect(r.responses.last?.closes == true, sourceLocation: sourceLocation)
    #expect(r.closed, "session did not close after the error", sourceLocation: sourceLocation)
}

/// One valid request was answered 200 and the connection stays open.
func expectServedOpen(_ r: RunResult, count: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.parseError == nil, "\(r.parseError ?? "")", sourceLocation: sourceLocation)
    #expect(r.statuses == Array(repeating: 200, count: count), "output: \(text(r.output).debugDescription)",
            sourceLocation: sourceLocation)
    #expect(r.requests.count == count, sourceLocation: sourceLocation)
    #expect(!r.closed, sourceLocation: sourceLocation)
}
