// Test harness for the sans-I/O HTTP/1.1 core: a recording responder, a driver
// that plays the engine's role (feed bytes, loop process/didWrite), and a small
// HTTP response parser so tests can assert on status codes, headers and bodies.

import LoopRuntime
import Testing
@testable import HTTP1
import Metrics
@_exported import HTTPReplay

// MARK: - Bytes and strings

extension Array where Element == UInt8 {
    /// Request bytes from a string literal (written with explicit "\r\n").
    init(_ string: String) { self = Array(string.utf8) }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}


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
    let loop = LoopContext(counters: WorkerCounters())
    let responder: RecordingResponder
    let session: HTTPSession
    /// Everything the session has written so far.
    private(set) var output: [UInt8] = []
    private(set) var closed = false
    private(set) var lastAction: ConnectionAction = .read
    /// Largest `didWrite` the fake socket accepts at once (partial writes).
    var maxWrite = Int.max
    /// `process()` calls that returned `.write`; shows backpressure at work.
    private(set) var writeActions = 0

    init(limits: HTTPLimits = HTTPLimits(), responder: RecordingResponder = RecordingResponder()) {
        self.responder = responder
        session = HTTPSession(responder: responder, loop: loop, limits: limits)
    }

    /// Feeds `bytes` (if the connection is still open) and runs the session
    /// until it wants to read or close. Returns the bytes written meanwhile.
    @discardableResult
    func send(_ bytes: [UInt8]) -> [UInt8] {
        guard !closed else { return [] }
        session.receive(bytes)
        return pump()
    }

    /// process()/didWrite until `.read`, `.wait` or `.close`. Bounded, so a session
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
            case .read, .wait:
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
///
/// The run is made once with each parser variant this CPU has
/// (`ParserSIMD.supported`, scalar first), and every variant must produce
/// the same output, requests and outcome as the scalar one: so every test
/// built on `run` checks every variant. A responder given by the caller is
/// used by the scalar run only; the others get a fresh recorder.
func run(pieces: [[UInt8]], limits: HTTPLimits = HTTPLimits(), responder: RecordingResponder = RecordingResponder(),
         maxWrite: Int = .max, headResponses: Set<Int> = [], lenientLastBody: Bool = false,
         setUp: (HTTPSession) -> Void = { _ in }, sourceLocation: SourceLocation = #_sourceLocation) -> RunResult {
    func once(_ simd: ParserSIMD, _ responder: RecordingResponder) -> RunResult {
        var variantLimits = limits
        variantLimits.parserSIMD = simd
        let c = TestConnection(limits: variantLimits, responder: responder)
        c.maxWrite = maxWrite
        setUp(c.session)
        for piece in pieces where !c.closed { c.send(piece) }
        return result(of: c, headResponses: headResponses, lenientLastBody: lenientLastBody)
    }
    let earlier = responder.requests.count  // a responder reused across runs keeps what it saw
    let scalar = once(.scalar, responder)
    for simd in ParserSIMD.supported where simd != .scalar {
        let other = once(simd, RecordingResponder(responder.handler))
        #expect(other.comparableOutput == scalar.comparableOutput && other.closed == scalar.closed
                && other.requests == Array(scalar.requests.dropFirst(earlier)),
                "parser variant \(simd) differs from scalar", sourceLocation: sourceLocation)
    }
    return scalar
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
