import HTTP1
import LoopRuntime
import Metrics

/// A request as the responder saw it: enough to compare two parsers'
/// decisions (where it ends, what it carried).
public struct ReplayedRequest: Equatable, Sendable {
    public var method: String
    public var target: String
    public var bodyCount: Int
}

/// Records every request, then hands it to `inner`, or, without one,
/// answers `200` with an empty body (the differential check's responder:
/// nothing in the answer may depend on the request).
public final class RecordingResponder: HTTPResponder, @unchecked Sendable {
    // @unchecked Sendable: used by one session on one thread.
    public private(set) var requests: [ReplayedRequest] = []
    let inner: (any HTTPResponder)?

    public init(forwardingTo inner: (any HTTPResponder)? = nil) { self.inner = inner }

    public func respond(to request: HTTPRequest, writer: inout ResponseWriter) {
        requests.append(ReplayedRequest(method: request.method.name, target: request.target.string, bodyCount: request.body.count))
        if let inner {
            inner.respond(to: request, writer: &writer)
        } else {
            writer.respond(.ok, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
}

/// How a replay ended.
public enum ReplayOutcome: String, Sendable {
    /// Every byte went into whole requests; the connection stays open.
    case complete
    /// The input ends inside a request: the session waits for more.
    case incomplete
    /// The session answered an error for the next request and closed.
    case rejected
    /// A request ended the connection (Connection: close, HTTP/1.0); what followed was not read.
    case closed
}

/// What one replay produced.
public struct ReplayResult {
    public var output: [UInt8]
    public var closed: Bool
    /// False when the session did not settle on `.read` or `.close`.
    public var settled: Bool
    public var requests: [ReplayedRequest]
    /// Final (non-1xx) responses; interim ones separately.
    public var responses: [ParsedResponse]
    public var interim: [ParsedResponse]
    /// Set when the output is not a well-framed sequence of responses.
    public var parseError: String?
    public var outcome: ReplayOutcome
    /// The rejection's status.
    public var rejectionStatus: Int?
}

/// Plays an engine's part for one connection, without a socket: feeds
/// `pieces` one after another, each followed by process/write until the
/// session wants to read or close, and parses what it wrote. The fuzzer,
/// the corpus tests and `switchyard http-replay` all drive sessions this way.
public enum SessionReplay {
    public static func run(pieces: [[UInt8]], responder inner: (any HTTPResponder)? = nil,
                           limits: HTTPLimits = HTTPLimits(), loop: LoopContext? = nil) -> ReplayResult {
        let recorder = RecordingResponder(forwardingTo: inner)
        let session = HTTPSession(responder: recorder, loop: loop ?? LoopContext(counters: WorkerCounters()), limits: limits)
        var output: [UInt8] = []
        var closed = false
        var settled = true
        pieces: for piece in pieces {
            session.receive(piece)
            var steps = 0
            while true {
                steps += 1
                guard steps < 1_000_000 else { settled = false; break pieces }
                switch session.process() {
                case .write:
                    let pending = session.pendingOutput
                    guard pending.count > 0 else { settled = false; break pieces }
                    output += pending
                    session.didWrite(pending.count)
                case .read:
                    continue pieces
                case .close:
                    closed = true
                    break pieces
                case .wait:
                    // The recorder answers at once; nothing here defers.
                    settled = false
                    break pieces
                }
            }
        }
        let heads = Set(recorder.requests.indices.filter { recorder.requests[$0].method == "HEAD" })
        var result = ReplayResult(output: output, closed: closed, settled: settled, requests: recorder.requests,
                                  responses: [], interim: [], parseError: nil, outcome: .complete, rejectionStatus: nil)
        do {
            // The last response may answer a HEAD whose method the session
            // never passed on (it was rejected): its body may be missing.
            let all = try parseResponses(output, headResponses: heads, lenientLastBody: true)
            result.responses = all.filter { $0.status >= 200 }
            result.interim = all.filter { $0.status < 200 }
        } catch {
            result.parseError = "\(error)"
        }
        if closed {
            if result.responses.count > result.requests.count {
                result.outcome = .rejected
                result.rejectionStatus = result.responses.last?.status
            } else {
                result.outcome = .closed
            }
        } else {
            result.outcome = session.isIdle ? .complete : .incomplete
        }
        return result
    }

    /// A fuzzer's input as reads: the first four bytes choose the split
    /// points (0: the rest arrives whole; otherwise pieces of 1 to 64 bytes
    /// drawn from a generator seeded with them), so the fuzzer explores
    /// where reads end as it explores the bytes themselves.
    public static func pieces(fromFuzzInput data: [UInt8]) -> [[UInt8]] {
        guard data.count >= 4 else { return [data] }
        let seed = UInt64(data[0]) | UInt64(data[1]) << 8 | UInt64(data[2]) << 16 | UInt64(data[3]) << 24
        let body = Array(data[4...])
        guard seed != 0 else { return [body] }
        var state = seed
        var out: [[UInt8]] = []
        var i = 0
        while i < body.count {
            // SplitMix64: small, fast, and the same everywhere.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let size = 1 + Int(z % 64)
            out.append(Array(body[i..<min(body.count, i + size)]))
            i += size
        }
        return out.isEmpty ? [[]] : out
    }
}

/// What must hold for every input, whatever its bytes and however it is
/// split into reads (the fuzzer checks them on each input; the ordinary
/// suite on the corpus and on every crash the fuzzer found).
public enum ReplayInvariants {
    /// The statuses the session itself may answer with (its rejections).
    public static let rejectionStatuses: Set<Int> = [400, 408, 413, 414, 417, 431, 501, 505]

    /// Problems with one replay; empty when it is sound.
    public static func violations(_ r: ReplayResult) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { problems.append(what()) } }
        check(r.settled, "the session did not settle on read or close")
        check(r.parseError == nil, "output is not well-framed responses: \(r.parseError ?? "")")
        guard r.parseError == nil else { return problems }
        let n = r.requests.count
        check(r.responses.count == n || r.responses.count == n + 1, "\(r.responses.count) responses for \(n) accepted requests")
        if r.responses.count == n + 1, let last = r.responses.last {
            check(rejectionStatuses.contains(last.status), "rejection with status \(last.status)")
            check(last.closes, "a rejection without Connection: close")
            check(r.closed, "the connection stayed open after a rejection")
        }
        for response in r.responses.dropLast() { check(!response.closes, "Connection: close on a response that is not the last") }
        check(r.closed == (r.responses.last?.closes ?? false),
              "closed is \(r.closed) but the last response says close: \(r.responses.last?.closes ?? false)")
        check(r.interim.allSatisfy { $0.status == 100 }, "an interim response other than 100")
        return problems
    }

    /// The same bytes split differently must be decided the same way (RFC
    /// 9112 §2.1: framing follows from the syntax, not from the reads).
    public static func splitViolations(whole: ReplayResult, split: ReplayResult) -> [String] {
        var problems: [String] = []
        if whole.requests != split.requests { problems.append("accepted requests differ: \(split.requests) split, \(whole.requests) whole") }
        if whole.responses.map(\.status) != split.responses.map(\.status) {
            problems.append("statuses differ: \(split.responses.map(\.status)) split, \(whole.responses.map(\.status)) whole")
        }
        if whole.outcome != split.outcome { problems.append("outcome \(split.outcome) split, \(whole.outcome) whole") }
        return problems
    }
}
