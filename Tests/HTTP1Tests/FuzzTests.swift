// Property tests with a seeded generator (reproducible, no timing): random
// bytes and mutated valid requests, fed in random pieces. Properties:
//   - no crash, and the session always settles on .read or .close;
//   - the output is a well-formed sequence of HTTP/1.1 responses;
//   - every request the responder saw got its 200 echo, in order;
//   - at most one error response, and only as the last one, which closes;
//   - the connection closes exactly when the last response says so;
//   - (separate test) the outcome does not depend on how the input was split.

import Testing
@testable import HTTP1

/// Pieces of HTTP syntax that make random inputs get past the first bytes.
let fuzzVocabulary: [[UInt8]] = [
    "GET", "HEAD", "POST", "PUT", "OPTIONS", "FOO", " ", "  ", "/", "/a?b=c", "*", "http://h/p", "HTTP/1.1", "HTTP/1.0",
    "HTTP/2.0", "\r\n", "\r\n\r\n", "\r", "\n", "\t", ":", ": ", ",", ";", "=", "\"", "Host: x", "Host:", "Content-Length: ",
    "Content-Length: 5", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Connection: close",
    "Connection: keep-alive", "Expect: 100-continue", "0", "5", "a", "ff", "0\r\n\r\n", "5\r\nhello\r\n", "\u{0}", "\u{7F}", "é",
].map { Array($0.utf8) }

struct Fuzzer {
    var rng: SplitMix64

    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ percent: Int) -> Bool { int(0..<100) < percent }
    mutating func byte() -> UInt8 { UInt8.random(in: 0...255, using: &rng) }

    /// Either uniformly random bytes or a random sequence of syntax pieces
    /// and random bytes.
    mutating func randomInput() -> [UInt8] {
        let length = int(0..<300)
        if chance(40) { return (0..<length).map { _ in byte() } }
        var out: [UInt8] = []
        while out.count < length {
            if chance(85) { out += fuzzVocabulary[int(0..<fuzzVocabulary.count)] } else { out.append(byte()) }
        }
        return out
    }

    /// 1 to 4 random edits (1 half the time): bit flips, byte replacements, insertions
    /// (random bytes or syntax pieces), deletions, duplications, truncation.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        for _ in 0..<(chance(50) ? 1 : int(2..<5)) {
            let at = int(0..<(b.count + 1))
            switch int(0..<7) {
            case 0 where at < b.count: b[at] ^= UInt8(1) << UInt8(int(0..<8))
            case 1 where at < b.count: b[at] = byte()
            case 2: b.insert(byte(), at: at)
            case 3: b.insert(contentsOf: fuzzVocabulary[int(0..<fuzzVocabulary.count)], at: at)
            case 4 where at < b.count: b.removeSubrange(at..<min(b.count, at + int(1..<9)))
            case 5 where at < b.count:
                let piece = b[at..<min(b.count, at + int(1..<16))]
                b.insert(contentsOf: piece, at: int(0..<(b.count + 1)))
            case 6: b.removeSubrange(at...)
            default: break
            }
        }
        return b
    }

    /// The input cut at 0 to 3 random offsets.
    mutating func pieces(_ input: [UInt8]) -> [[UInt8]] {
        let cuts = (0..<int(0..<4)).map { _ in int(0..<(input.count + 1)) }.sorted()
        var out: [[UInt8]] = []
        var last = 0
        for c in cuts {
            out.append(Array(input[last..<c]))
            last = c
        }
        out.append(Array(input[last...]))
        return out
    }
}

let errorStatuses: Set<Int> = [400, 413, 414, 417, 431, 501, 505]

func fuzzRun(_ pieces: [[UInt8]], limits: HTTPLimits) -> RunResult {
    let c = TestConnection(limits: limits)
    for p in pieces where !c.closed { c.send(p) }
    let heads = Set(c.requests.indices.filter { c.requests[$0].method == "HEAD" })
    var r = result(of: c, headResponses: heads, lenientLastBody: true)
    if !c.closed && c.lastAction != .read { r.parseError = "settled on \(c.lastAction)" }
    return r
}

/// Runs `pieces` and checks the properties of one run; returns the failures.
func fuzzCheck(_ pieces: [[UInt8]], limits: HTTPLimits) -> [String] {
    var failures: [String] = []
    func check(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { failures.append(what()) } }

    let r = fuzzRun(pieces, limits: limits)
    check(r.parseError == nil, "malformed output: \(r.parseError ?? "")")
    guard r.parseError == nil else { return failures }
    let n = r.requests.count
    check(r.statuses.count == n || r.statuses.count == n + 1, "\(r.statuses.count) responses for \(n) requests")
    for (i, req) in r.requests.enumerated() where i < r.responses.count {
        let resp = r.responses[i]
        check(resp.status == 200, "request \(i) answered \(resp.status)")
        let expected = req.method == "HEAD" ? [] : echoBody(method: req.method, target: req.target, body: req.body)
        check(resp.body == expected, "request \(i) got the wrong body")
    }
    if r.statuses.count == n + 1, let last = r.responses.last {
        check(errorStatuses.contains(last.status), "unexpected error status \(last.status)")
        check(last.closes, "error response without Connection: close")
        check(r.closed, "connection open after an error response")
    }
    for resp in r.responses.dropLast() { check(!resp.closes, "Connection: close on a response that is not the last") }
    check(r.closed == (r.responses.last?.closes ?? false),
          "closed=\(r.closed) but last response closes=\(r.responses.last?.closes ?? false)")
    check(r.interim.allSatisfy { $0.status == 100 }, "unexpected interim response")
    return failures
}

/// Split invariance: the same bytes in one piece give the same outcome
/// (interim 100 responses aside, which depend on timing by design).
func splitInvarianceCheck(_ pieces: [[UInt8]], limits: HTTPLimits) -> [String] {
    let r = fuzzRun(pieces, limits: limits)
    let whole = fuzzRun([Array(pieces.joined())], limits: limits)
    var failures: [String] = []
    if whole.statuses != r.statuses { failures.append("statuses \(r.statuses) split vs \(whole.statuses) whole") }
    if whole.requests != r.requests { failures.append("requests differ split vs whole") }
    if whole.closed != r.closed { failures.append("closed differs split vs whole") }
    if whole.responses.map({ maskDates($0.raw) }) != r.responses.map({ maskDates($0.raw) }) {
        failures.append("responses differ split vs whole")
    }
    return failures
}

@Suite("Fuzz")
struct FuzzTests {
    static let fuzzLimits = [
        HTTPLimits(),
        HTTPLimits(maxRequestLineBytes: 64, maxHeaderBytes: 128, maxFieldBytes: 48, maxFieldCount: 6, maxBodyBytes: 32),
    ]

    /// Reports at most a few failing inputs, each reproducible from its bytes.
    static func report(_ failures: inout Int, _ input: [[UInt8]], _ problems: [String], _ limits: HTTPLimits) {
        guard !problems.isEmpty else { return }
        failures += 1
        if failures <= 5 {
            Issue.record("\(problems) for pieces \(input.map(escaped)) limits \(limits)")
        }
    }

    static let corpus = validSplitCases.map(\.bytes) + [pipeline(6).bytes, chunkedRequest("5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n")]

    /// No crash, the session settles, well-formed responses or close.
    @Test("2,000 random byte strings", arguments: [0x5EED_0001 as UInt64])
    func randomInputs(seed: UInt64) {
        var f = Fuzzer(rng: SplitMix64(seed: seed))
        var failures = 0
        for i in 0..<2_000 {
            let limits = Self.fuzzLimits[i % 2]
            let pieces = f.pieces(f.randomInput())
            Self.report(&failures, pieces, fuzzCheck(pieces, limits: limits), limits)
        }
        #expect(failures == 0)
    }

    @Test("2,000 mutated valid requests", arguments: [0x5EED_0002 as UInt64])
    func mutatedRequests(seed: UInt64) {
        var f = Fuzzer(rng: SplitMix64(seed: seed))
        var failures = 0
        for i in 0..<2_000 {
            let limits = Self.fuzzLimits[i % 2]
            let pieces = f.pieces(f.mutate(Self.corpus[i % Self.corpus.count]))
            Self.report(&failures, pieces, fuzzCheck(pieces, limits: limits), limits)
        }
        #expect(failures == 0)
    }

    /// The same inputs (same seeds) fed whole and in pieces give the same
    /// statuses, requests and responses (RFC 9112 §2.1: framing comes from
    /// the syntax, not from the reads).
    @Test("fuzzed inputs parse the same split or whole", arguments: [(0x5EED_0001 as UInt64, false), (0x5EED_0002, true)])
    func splitInvariance(seed: UInt64, mutated: Bool) {
        var f = Fuzzer(rng: SplitMix64(seed: seed))
        var failures = 0
        for i in 0..<2_000 {
            let limits = Self.fuzzLimits[i % 2]
            let input = mutated ? f.mutate(Self.corpus[i % Self.corpus.count]) : f.randomInput()
            let pieces = f.pieces(input)
            Self.report(&failures, pieces, splitInvarianceCheck(pieces, limits: limits), limits)
        }
        #expect(failures == 0)
    }

    /// The unmutated corpus satisfies the same properties (a sanity check
    /// that the properties are not vacuous: these all get 200s).
    @Test func corpusPassesTheChecks() {
        for c in validSplitCases {
            #expect(fuzzCheck([c.bytes], limits: HTTPLimits()).isEmpty, "\(c.name)")
        }
    }
}
