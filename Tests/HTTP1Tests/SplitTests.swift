// The parser is incremental: a request split at any byte boundary must parse
// exactly as the unsplit request (same requests seen by the responder, same
// responses, same connection outcome). TCP gives no message boundaries
// (RFC 9112 §2.1 frames messages by their syntax, not by reads).

import Testing
@testable import HTTP1

struct SplitCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    var limits = HTTPLimits()
    /// Indices of final responses that answer HEAD (no body bytes).
    var heads: Set<Int> = []
    /// Expect: 100-continue: whether the interim response is sent depends on
    /// where the bytes are split, so only final responses are compared.
    var interimMayDiffer = false

    var testDescription: String { name }
}

let validSplitCases: [SplitCase] = [
    .init(name: "GET with headers", bytes: request("GET /path/to/resource?x=1&y=two HTTP/1.1", [
        "Host: example.com", "User-Agent: test/1.0", "Accept: text/html, */*;q=0.8", "X-Empty:", "X-Padded: \t value \t",
    ])),
    .init(name: "POST with Content-Length", bytes: request("POST /form HTTP/1.1",
        ["Host: x", "Content-Type: application/x-www-form-urlencoded", "Content-Length: 27"], body: "name=swift&lang=en&v=6.3\r\n!")),
    .init(name: "chunked with extensions and trailers", bytes: chunkedRequest(
        "4;ext=1\r\nWiki\r\n5 ; a=\"b c\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;end\r\nX-Trailer: t1\r\nX-Another:  t2 \r\n\r\n")),
    .init(name: "pipelined GET and POST", bytes: request("GET /one HTTP/1.1")
        + request("POST /two HTTP/1.1", ["Host: x", "Content-Length: 3"], body: "abc")),
    .init(name: "HEAD then GET", bytes: request("HEAD /h HTTP/1.1") + request("GET /g HTTP/1.1"), heads: [0]),
    .init(name: "HTTP/1.0 keep-alive pair", bytes: "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n".bytes),
    .init(name: "absolute-form with query", bytes: request("GET http://example.com:8080/p?q=1 HTTP/1.1", ["Host: example.com:8080"])),
    .init(name: "Expect 100-continue with body", bytes: request("PUT /e HTTP/1.1",
        ["Host: x", "Expect: 100-continue", "Content-Length: 10"], body: "0123456789"), interimMayDiffer: true),
    .init(name: "empty lines before request line", bytes: "\r\n\r\n".bytes + request("GET /blank HTTP/1.1")),
    .init(name: "Connection: close then ignored request", bytes: request("GET /c HTTP/1.1", ["Host: x", "Connection: close"])
        + request("GET /ignored HTTP/1.1")),
    .init(name: "chunked then Content-Length", bytes: chunkedRequest("1\r\na\r\n0\r\n\r\n")
        + request("POST /cl HTTP/1.1", ["Host: x", "Content-Length: 1"], body: "b")),
    .init(name: "OPTIONS *", bytes: request("OPTIONS * HTTP/1.1")),
]

let invalidSplitCases: [SplitCase] = [
    .init(name: "differing Content-Length", bytes: request("POST / HTTP/1.1", ["Host: x", "Content-Length: 1", "Content-Length: 2"], body: "ab")),
    .init(name: "obs-fold", bytes: request("GET / HTTP/1.1", ["Host: x", "X: a", " b"])),
    .init(name: "bad chunk size", bytes: chunkedRequest("5\r\nhello\r\nzz\r\n")),
    .init(name: "missing CRLF after chunk data", bytes: chunkedRequest("5\r\nhelloXY0\r\n\r\n")),
    .init(name: "HTTP/2.0", bytes: request("GET / HTTP/2.0")),
    .init(name: "bare LF", bytes: "GET / HTTP/1.1\nHost: x\n\n".bytes),
    .init(name: "missing Host", bytes: request("GET / HTTP/1.1", ["Accept: */*"])),
    .init(name: "request line too long", bytes: request("GET /" + String(repeating: "z", count: 60) + " HTTP/1.1"),
          limits: HTTPLimits(maxRequestLineBytes: 40)),
    .init(name: "TE with CL", bytes: request("POST / HTTP/1.1", ["Host: x", "Transfer-Encoding: chunked", "Content-Length: 3"], body: "0\r\n\r\n")),
    .init(name: "valid then invalid", bytes: request("GET /ok HTTP/1.1") + request("G(T / HTTP/1.1")),
    // An over-long line that ends in a bare LF: whether the limit (414/431)
    // or the bare LF (400) is noticed first must not depend on the reads.
    .init(name: "over-long request line ending in bare LF",
          bytes: ("GET /" + String(repeating: "z", count: 60) + " HTTP/1.1\nHost: x\r\n\r\n").bytes,
          limits: HTTPLimits(maxRequestLineBytes: 40)),
    .init(name: "over-long field line ending in bare LF",
          bytes: ("GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + String(repeating: "v", count: 60) + "\n\r\n").bytes,
          limits: HTTPLimits(maxFieldBytes: 40)),
    .init(name: "chunked body over limit", bytes: chunkedRequest("8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n"),
          limits: HTTPLimits(maxBodyBytes: 12)),
]

/// How `split` differs from `whole`; empty when it produced the same.
func differences(_ split: RunResult, _ whole: RunResult, _ c: SplitCase) -> [String] {
    var d: [String] = []
    if let e = split.parseError { d.append("malformed output: \(e)") }
    if split.statuses != whole.statuses { d.append("statuses \(split.statuses) vs \(whole.statuses) unsplit") }
    if split.requests != whole.requests { d.append("requests differ") }
    if split.closed != whole.closed { d.append("closed \(split.closed) vs \(whole.closed) unsplit") }
    if c.interimMayDiffer {
        if !split.interim.allSatisfy({ $0.status == 100 }) { d.append("unexpected interim response") }
        if split.responses.map({ maskDates($0.raw) }) != whole.responses.map({ maskDates($0.raw) }) { d.append("responses differ") }
    } else if split.comparableOutput != whole.comparableOutput {
        d.append("output differs")
    }
    return d
}

/// Runs `c` split at every offset; returns "offset: differences" for each
/// offset whose outcome differs from the unsplit run.
func mismatchesAtEveryOffset(_ c: SplitCase, whole: RunResult) -> [String] {
    (0...c.bytes.count).compactMap { offset in
        let r = run(pieces: split(c.bytes, at: offset), limits: c.limits, headResponses: c.heads)
        let d = differences(r, whole, c)
        return d.isEmpty ? nil : "split at \(offset): \(d.joined(separator: ", "))"
    }
}

@Suite("Split invariance")
struct SplitTests {
    @Test("valid requests split in two at every offset", arguments: validSplitCases)
    func validTwoPieces(_ c: SplitCase) {
        let whole = run(pieces: [c.bytes], limits: c.limits, headResponses: c.heads)
        #expect(whole.parseError == nil)
        #expect(!whole.requests.isEmpty)
        #expect(whole.statuses.allSatisfy { $0 == 200 })
        let bad = mismatchesAtEveryOffset(c, whole: whole)
        let everySplitSame = bad.isEmpty
        #expect(everySplitSame, "\(bad.count) of \(c.bytes.count + 1) splits differ, e.g. \(bad.prefix(3))")
    }

    @Test("valid requests fed one byte at a time", arguments: validSplitCases)
    func validBytewise(_ c: SplitCase) {
        let whole = run(pieces: [c.bytes], limits: c.limits, headResponses: c.heads)
        let r = run(pieces: bytewise(c.bytes), limits: c.limits, headResponses: c.heads)
        #expect(differences(r, whole, c) == [])
    }

    @Test("valid requests, responses written one byte at a time", arguments: validSplitCases)
    func partialWrites(_ c: SplitCase) {
        let whole = run(pieces: [c.bytes], limits: c.limits, headResponses: c.heads)
        let r = run(pieces: [c.bytes], limits: c.limits, maxWrite: 1, headResponses: c.heads)
        #expect(differences(r, whole, c) == [])
    }

    @Test("invalid requests split in two at every offset", arguments: invalidSplitCases)
    func invalidTwoPieces(_ c: SplitCase) {
        let whole = run(pieces: [c.bytes], limits: c.limits)
        #expect(whole.closed)
        #expect(whole.statuses.last.map { $0 >= 400 } == true)
        let bad = mismatchesAtEveryOffset(c, whole: whole)
        let everySplitSame = bad.isEmpty
        #expect(everySplitSame, "\(bad.count) of \(c.bytes.count + 1) splits differ, e.g. \(bad.prefix(3))")
    }

    @Test("invalid requests fed one byte at a time", arguments: invalidSplitCases)
    func invalidBytewise(_ c: SplitCase) {
        let whole = run(pieces: [c.bytes], limits: c.limits)
        let r = run(pieces: bytewise(c.bytes), limits: c.limits)
        #expect(differences(r, whole, c) == [])
    }

    // MARK: Size limits are properties of the request, not of the reads

    /// A request line, field line or trailer line exactly at its limit is
    /// accepted, and that must not depend on where the bytes are split (in
    /// particular not between the line's CR and LF).
    static let atLimitCases: [SplitCase] = {
        let line = HTTPLimits(maxRequestLineBytes: 40)
        let field = HTTPLimits(maxFieldBytes: 40)
        let requestLine = "GET /" + String(repeating: "r", count: 40 - "GET / HTTP/1.1".count) + " HTTP/1.1"
        let fieldLine = "X-Long: " + String(repeating: "f", count: 40 - "X-Long: ".count)
        let trailerLine = "X-Trail: " + String(repeating: "t", count: 40 - "X-Trail: ".count)
        precondition(requestLine.count == 40 && fieldLine.count == 40 && trailerLine.count == 40)
        return [
            .init(name: "request line of exactly maxRequestLineBytes", bytes: request(requestLine), limits: line),
            .init(name: "field line of exactly maxFieldBytes", bytes: request("GET / HTTP/1.1", ["Host: x", fieldLine]), limits: field),
            .init(name: "trailer line of exactly maxFieldBytes", bytes: chunkedRequest("1\r\na\r\n0\r\n" + trailerLine + "\r\n\r\n"), limits: field),
            .init(name: "header section of exactly maxHeaderBytes",
                  bytes: request("GET / HTTP/1.1", ["Host: x", "X-Fill: " + String(repeating: "h", count: 64 - 9 - 10)]),
                  limits: HTTPLimits(maxHeaderBytes: 64)),
            .init(name: "exactly maxFieldCount fields", bytes: request("GET / HTTP/1.1", ["Host: x", "A: 1", "B: 2"]),
                  limits: HTTPLimits(maxFieldCount: 3)),
        ]
    }()

    @Test("lines exactly at a limit are accepted however they are split", arguments: atLimitCases)
    func atLimit(_ c: SplitCase) {
        let whole = run(pieces: [c.bytes], limits: c.limits)
        expectServedOpen(whole)
        let bad = (0...c.bytes.count).filter { run(pieces: split(c.bytes, at: $0), limits: c.limits).statuses != [200] }
        let described = bad.prefix(3).map { "split at \($0), after \(text(c.bytes[..<$0].suffix(3)).debugDescription): "
            + "\(run(pieces: split(c.bytes, at: $0), limits: c.limits).statuses)" }
        let everySplitAccepted = bad.isEmpty
        #expect(everySplitAccepted, "\(bad.count) splits rejected: \(described)")
    }
}
