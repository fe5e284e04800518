// Requests the server must reject: exact status code, no call into the
// responder, `Connection: close` on the error response, and the session closes
// (RFC 9112 section 6.3: after a framing error the stream cannot be trusted).

import Glibc
import Testing
@testable import HTTP1

struct RejectCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let status: Int
    var limits = HTTPLimits()

    init(_ name: String, _ raw: String, _ status: Int, limits: HTTPLimits = HTTPLimits()) {
        self.name = name
        self.bytes = raw.bytes
        self.status = status
        self.limits = limits
    }

    var testDescription: String { "\(name) → \(status)" }
}

let get = "GET / HTTP/1.1\r\n"

// RFC 9112 section 3.2: a 1.1 request without Host, with several Host lines or
// with an invalid Host value gets 400.
let hostCases: [RejectCase] = [
    .init("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    .init("missing Host, absolute-form", "GET http://example.com/ HTTP/1.1\r\n\r\n", 400),
    .init("duplicate Host", get + "Host: a.example\r\nHost: b.example\r\n\r\n", 400),
    .init("duplicate identical Host", get + "Host: a.example\r\nHost: a.example\r\n\r\n", 400),
    .init("duplicate Host in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    .init("space inside Host", get + "Host: exa mple.com\r\n\r\n", 400),
    .init("slash in Host", get + "Host: example.com/path\r\n\r\n", 400),
    .init("userinfo in Host", get + "Host: user@example.com\r\n\r\n", 400),
    .init("comma list in Host", get + "Host: a.example, b.example\r\n\r\n", 400),
]

// RFC 9112 section 5 and RFC 9110 section 5.5: field-name is a token followed
// directly by ':'; values hold no CR, LF, NUL or other controls; obs-fold is
// rejected (RFC 9112 section 5.2); lines end in CRLF (section 2.2).
let fieldCases: [RejectCase] = [
    .init("space before colon", get + "Host : example.com\r\n\r\n", 400),
    .init("space before colon, other field", get + "Host: x\r\nX-A : 1\r\n\r\n", 400),
    .init("tab before colon", get + "Host: x\r\nX-A\t: 1\r\n\r\n", 400),
    .init("obs-fold with space", get + "Host: x\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
    .init("obs-fold with tab", get + "Host: x\r\nX-A: 1\r\n\tcontinued\r\n\r\n", 400),
    .init("whitespace-led first field line (RFC 9112 2.2)", get + " Host: x\r\n\r\n", 400),
    .init("bare CR in value", get + "Host: x\r\nX-A: a\rb\r\n\r\n", 400),
    .init("CR at end of value", get + "Host: x\r\nX-A: ab\r\r\n\r\n", 400),
    .init("NUL in value", get + "Host: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
    .init("SOH in value", get + "Host: x\r\nX-A: a\u{1}b\r\n\r\n", 400),
    .init("ESC in value", get + "Host: x\r\nX-A: a\u{1B}b\r\n\r\n", 400),
    .init("DEL in value", get + "Host: x\r\nX-A: a\u{7F}b\r\n\r\n", 400),
    .init("vertical tab in value", get + "Host: x\r\nX-A: a\u{0B}b\r\n\r\n", 400),
    .init("'(' in field name", get + "Host: x\r\nX(A): 1\r\n\r\n", 400),
    .init("'@' in field name", get + "Host: x\r\nX@A: 1\r\n\r\n", 400),
    .init("quote in field name", get + "Host: x\r\nX\"A: 1\r\n\r\n", 400),
    .init("space in field name", get + "Host: x\r\nX A: 1\r\n\r\n", 400),
    .init("non-ASCII field name", get + "Host: x\r\nXé: 1\r\n\r\n", 400),
    .init("empty field name", get + "Host: x\r\n: value\r\n\r\n", 400),
    .init("line without colon", get + "Host: x\r\nNoColonHere\r\n\r\n", 400),
    .init("bare LF ends a field line", get + "Host: x\nX-A: 1\r\n\r\n", 400),
    .init("bare LF ends the header section", get + "Host: x\r\n\n", 400),
]

// RFC 9112 section 3: method SP request-target SP HTTP-version CRLF, with
// single spaces and the exact version syntax "HTTP/" DIGIT "." DIGIT.
let requestLineCases: [RejectCase] = [
    .init("double space after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("double space before version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("missing version", "GET /\r\nHost: x\r\n\r\n", 400),
    .init("missing version after space", "GET / \r\nHost: x\r\n\r\n", 400),
    .init("missing target", "GET HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("lowercase http/1.1", "GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    .init("HTTP/1.10", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400),
    .init("HTTP/11", "GET / HTTP/11\r\nHost: x\r\n\r\n", 400),
    .init("HTTP/1", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
    .init("trailing space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
    .init("leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("tab as separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("bare LF ends the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
    .init("bare LF everywhere", "GET / HTTP/1.1\nHost: x\n\n", 400),
    .init("bare LF empty line before request line", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("'<' in target", "GET /a<b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("'\"' in target", "GET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("non-ASCII in target", "GET /é HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    // RFC 9112 section 3.2.4: asterisk-form only with OPTIONS.
    .init("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    // RFC 9112 section 3.2: origin-form starts with '/'; absolute-form has an authority.
    .init("target neither origin- nor absolute-form", "GET example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("absolute-form with empty authority", "GET http:///path HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    // RFC 9110 section 9.1 / 5.6.2: the method is a token.
    .init("'(' in method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("',' in method", "G,T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    .init("empty request line only", "\r\n\r\n \r\n\r\n", 400),
]

// RFC 9110 section 15.6.6 / 6.2: a well-formed version with another major
// version gets 505.
let versionCases: [RejectCase] = [
    .init("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    .init("HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    .init("HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
    .init("HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
]

// RFC 9110 section 9.1 / 15.6.2: an unknown (but well-formed) method gets 501;
// methods are case-sensitive. This origin server does not tunnel: CONNECT → 501.
let methodCases: [RejectCase] = [
    .init("unknown method FOO", "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    .init("lowercase get", "get / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    .init("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
]

// RFC 9112 sections 6.1 and 6.3, RFC 9110 section 8.6: message framing.
let framingCases: [RejectCase] = [
    .init("Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    .init("Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    .init("TE gzip (chunked not last)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    .init("TE chunked, gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    .init("TE identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    .init("TE gzip, chunked (unsupported coding)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    .init("TE deflate, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: deflate, chunked\r\n\r\n0\r\n\r\n", 501),
    .init("TE gzip then chunked on two lines", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    .init("TE chunked twice in a list", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    .init("TE chunked on two lines", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    .init("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    .init("CL abc", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    .init("CL -1", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    .init("CL +5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400),
    .init("CL 0x10", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
    .init("CL 1 2", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", 400),
    .init("CL 5.0", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5.0\r\n\r\nhello", 400),
    .init("CL empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400),
    .init("CL list with different values", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", 400),
    .init("two CL lines with different values", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    .init("CL with 19 digits", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n", 400),
    .init("CL with 20 digits (overflows Int64)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551621\r\n\r\n", 400),
]

// RFC 9112 section 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF,
// chunk-size = 1*HEXDIG.
func chunked(_ body: String) -> String {
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
}

let chunkCases: [RejectCase] = [
    .init("chunk size zz", chunked("zz\r\nhello\r\n0\r\n\r\n"), 400),
    .init("chunk size -1", chunked("-1\r\nhello\r\n0\r\n\r\n"), 400),
    .init("chunk size 0x5", chunked("0x5\r\nhello\r\n0\r\n\r\n"), 400),
    .init("empty chunk size", chunked("\r\nhello\r\n0\r\n\r\n"), 400),
    .init("16 hex digits", chunked("1000000000000000\r\nhello\r\n0\r\n\r\n"), 400),
    .init("18 hex digits", chunked("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400),
    .init("chunk data not followed by CRLF", chunked("5\r\nhelloX\r\n0\r\n\r\n"), 400),
    .init("chunk data followed by LF only", chunked("5\r\nhello\n0\r\n\r\n"), 400),
    .init("chunk longer than its size", chunked("3\r\nhello\r\n0\r\n\r\n"), 400),
    .init("bare LF after chunk size", chunked("5\nhello\r\n0\r\n\r\n"), 400),
    .init("whitespace after size without extension", chunked("5 \r\nhello\r\n0\r\n\r\n"), 400),
    .init("garbage after chunk size", chunked("5x\r\nhello\r\n0\r\n\r\n"), 400),
    .init("trailer without colon", chunked("5\r\nhello\r\n0\r\nNoColon\r\n\r\n"), 400),
    .init("trailer with obs-fold", chunked("5\r\nhello\r\n0\r\nX-T: 1\r\n folded\r\n\r\n"), 400),
    .init("trailer with bare LF", chunked("5\r\nhello\r\n0\r\nX-T: 1\n\r\n"), 400),
    .init("control byte in chunk extension", chunked("5;a=\u{1}\r\nhello\r\n0\r\n\r\n"), 400),
]

let small = HTTPLimits(maxRequestLineBytes: 32, maxHeaderBytes: 64, maxFieldBytes: 32, maxFieldCount: 3, maxBodyBytes: 10)

// HTTPLimits: 414 for the request line, 431 for header fields (RFC 6585
// section 5), 413 for the body (RFC 9110 section 15.5.14).
let limitCases: [RejectCase] = [
    .init("request line over limit", "GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414,
          limits: HTTPLimits(maxRequestLineBytes: 32)),
    .init("request line over limit, no LF yet", "GET /" + String(repeating: "a", count: 40), 414,
          limits: HTTPLimits(maxRequestLineBytes: 32)),
    .init("header section over limit", get + "Host: x\r\nX-A: 0123456789012345\r\nX-B: 0123456789012345\r\nX-C: 0123456789012345\r\n\r\n", 431,
          limits: HTTPLimits(maxHeaderBytes: 64, maxFieldBytes: 32)),
    .init("single field over limit", get + "Host: x\r\nX-Long: " + String(repeating: "v", count: 40) + "\r\n\r\n", 431,
          limits: HTTPLimits(maxFieldBytes: 32)),
    .init("single field over limit, no LF yet", get + "Host: x\r\nX-Long: " + String(repeating: "v", count: 40), 431,
          limits: HTTPLimits(maxFieldBytes: 32)),
    .init("too many fields", get + "Host: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, limits: HTTPLimits(maxFieldCount: 3)),
    .init("body over limit by Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n0123456789a", 413,
          limits: HTTPLimits(maxBodyBytes: 10)),
    .init("body over limit by one chunk", chunked("b\r\n0123456789a\r\n0\r\n\r\n"), 413, limits: HTTPLimits(maxBodyBytes: 10)),
    .init("body over limit by several chunks", chunked("6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n"), 413,
          limits: HTTPLimits(maxBodyBytes: 10)),
    .init("huge chunk size under 16 digits", chunked("fffffffffffffff\r\nhello\r\n0\r\n\r\n"), 413),
    .init("trailer section over limit", chunked("0\r\nX-T: " + String(repeating: "t", count: 40) + "\r\n\r\n"), 431,
          limits: HTTPLimits(maxFieldBytes: 32)),
]

// RFC 9110 section 10.1.1: an expectation other than 100-continue gets 417.
let expectCases: [RejectCase] = [
    .init("Expect: something-else", get + "Host: x\r\nExpect: something-else\r\n\r\n", 417),
    .init("Expect: 200-ok with a body", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi", 417),
]

let allRejectCases = hostCases + fieldCases + requestLineCases + versionCases + methodCases + framingCases + chunkCases
    + limitCases + expectCases

@Suite("Rejections")
struct ParserRejectTests {
    @Test("Host rules (RFC 9112 §3.2)", arguments: hostCases)
    func host(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("field line syntax (RFC 9112 §5, RFC 9110 §5.5)", arguments: fieldCases)
    func fields(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("request line syntax (RFC 9112 §3)", arguments: requestLineCases)
    func requestLine(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("unsupported major versions get 505 (RFC 9110 §15.6.6)", arguments: versionCases)
    func versions(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("unknown methods get 501, non-tokens 400 (RFC 9110 §9.1)", arguments: methodCases)
    func methods(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("framing: Content-Length / Transfer-Encoding (RFC 9112 §6.1, §6.3; RFC 9110 §8.6)", arguments: framingCases)
    func framing(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("chunked syntax (RFC 9112 §7.1)", arguments: chunkCases)
    func chunks(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("size limits: 414, 431, 413", arguments: limitCases)
    func limits(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    @Test("unsupported expectation gets 417 (RFC 9110 §10.1.1)", arguments: expectCases)
    func expectations(_ c: RejectCase) { expectRejected(run(c.bytes, limits: c.limits), c.status) }

    /// RFC 9112 §6.3: after an unparseable request the rest of the stream is
    /// not trusted. A valid request in the same bytes gets no response.
    @Test("nothing after a bad request is processed", arguments: allRejectCases)
    func nothingAfterError(_ c: RejectCase) {
        // (Cases cut off mid-line swallow the follower into the over-long
        // line; the status is the same either way.)
        let follower = "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
        expectRejected(run(c.bytes + follower.bytes, limits: c.limits), c.status)
    }

    /// A valid request answered before the bad one keeps its response; the bad
    /// one ends the connection.
    @Test func validThenInvalidInOneFeed() {
        let r = run(request("GET /first HTTP/1.1") + "GET / HTTP/9.9\r\nHost: x\r\n\r\n".bytes + request("GET /third HTTP/1.1"))
        #expect(r.statuses == [200, 505])
        #expect(r.requests.map(\.path) == ["/first"])
        #expect(r.responses[1].closes)
        #expect(r.closed)
    }

    /// The error body names the status; the error response is framed by
    /// Content-Length so the client can read it before the close.
    @Test func errorResponseShape() throws {
        let r = run("GET / HTTP/1.1\r\n\r\n")
        let resp = try #require(r.responses.first)
        #expect(resp.reason == "Bad Request")
        #expect(resp.bodyText == "400 Bad Request\n")
        #expect(resp.header("Content-Length") == "16")
        #expect(resp.header("Content-Type") == "text/plain; charset=utf-8")
        // RFC 9110 §6.6.1: an origin server with a clock sends Date in 4xx too.
        #expect(resp.header("Date")?.utf8.count == 29)
    }

    /// A HEAD request rejected for its size gets the headers of the error
    /// response but no body (RFC 9110 §9.3.2).
    @Test func headRequestRejectedWithoutBody() {
        let c = TestConnection(limits: HTTPLimits(maxBodyBytes: 10))
        c.send("HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n".bytes)
        let r = result(of: c, headResponses: [0])
        #expect(r.statuses == [413])
        #expect(r.responses.first?.header("Content-Length") == "\("413 Content Too Large\n".utf8.count)")
        #expect(text(r.output).hasSuffix("\r\n\r\n"))
        #expect(r.closed)
    }

    /// RFC 9110 §9.3.2: the server MUST NOT send content in a response to
    /// HEAD — also when the HEAD request is rejected with 400 after its
    /// request line (and so its method) parsed fine.
    @Test(arguments: [
        "HEAD / HTTP/1.1\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    ])
    func headRequestRejectedWith400HasNoBody(_ raw: String) {
        let c = TestConnection()
        c.send(raw.bytes)
        let r = result(of: c, headResponses: [0])
        #expect(r.statuses == [400])
        #expect(text(r.output).hasSuffix("\r\n\r\n"), "no body after the head: \(text(r.output).debugDescription)")
        #expect(r.closed)
    }

    /// RFC 9110 §10.1.1: a server may answer a 100-continue request with a
    /// final status instead of 100; a body over the limit gets 413 at once.
    @Test func expectContinueWithBodyOverLimit() {
        let c = TestConnection(limits: HTTPLimits(maxBodyBytes: 10))
        c.send(request("POST / HTTP/1.1", ["Host: x", "Expect: 100-continue", "Content-Length: 11"]))
        let r = result(of: c)
        #expect(r.interim.isEmpty)
        #expect(r.statuses == [413])
        #expect(c.closed)
    }

    /// A Content-Length list, even of identical values, and a repeated
    /// Content-Length line are rejected with 400 and the connection closes
    /// (RFC 9112 §6.3; §8.6 of RFC 9110 would allow folding identical values,
    /// which desynchronisation test sets rate as severe). The server must not
    /// wait for a body: the answer comes without one.
    @Test(arguments: ["Content-Length: 1000,1000", "Content-Length: 5, 5", "Content-Length: 5,5",
                      "Content-Length: 5\r\nContent-Length: 5", "Content-Length: 5,", "Content-Length: ,5"])
    func contentLengthListsRejected(_ fields: String) {
        let c = TestConnection()
        c.send("POST /cl HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\n".bytes)
        let r = result(of: c)
        #expect(r.statuses == [400])
        #expect(r.requests.isEmpty)
        #expect(c.closed)
    }

    /// RFC 9112 §2.2 lets a server ignore empty lines before the request
    /// line; the parser allows up to maxRequestLineBytes of them on top of a
    /// request line of maxRequestLineBytes. With a large request-line limit
    /// and a small body limit the input buffer's cap (sized from the limits
    /// without the empty lines) is smaller than that: the session must answer,
    /// not trap. Runs in a child process, since a trap would end the run.
    @Test func leadingEmptyLinesWithinLimitsDoNotTrap() async {
        await #expect(processExitsWith: .success) {
            let limits = HTTPLimits(maxRequestLineBytes: 32_768, maxHeaderBytes: 256, maxFieldBytes: 256,
                                    maxFieldCount: 10, maxBodyBytes: 0)
            let bytes = String(repeating: "\r\n", count: 16_000).bytes
                + request("GET /" + String(repeating: "a", count: 30_000) + " HTTP/1.1")
            let c = TestConnection(limits: limits)
            for start in stride(from: 0, to: bytes.count, by: 4096) {
                c.send(Array(bytes[start..<min(start + 4096, bytes.count)]))
            }
            guard result(of: c).statuses == [200] else { exit(1) }
        }
    }
}
