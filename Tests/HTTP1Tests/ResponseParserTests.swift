import Testing
import HTTP1

/// Feeds `text` to a parser in pieces of `step` bytes; returns the outcomes
/// other than `.needMore`, in order.
private func outcomes(_ text: String, step: Int) -> [ResponseParser.Outcome] {
    var parser = ResponseParser()
    var found: [ResponseParser.Outcome] = []
    let bytes = Array(text.utf8)
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + step)
        bytes[start..<end].withUnsafeBytes { piece in
            var offset = 0
            while offset < piece.count {
                let (used, outcome) = parser.parse(UnsafeRawBufferPointer(rebasing: piece[offset...]))
                offset += used
                if outcome != .needMore { found.append(outcome) }
                if outcome == .malformed { return }
            }
        }
        if found.last == .malformed { break }
        start = end
    }
    return found
}

@Suite struct ResponseParserTests {
    static let pipelined =
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        + "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA;x=y\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n"
        + "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"

    static let expected: [ResponseParser.Outcome] = [
        .response(status: 200, close: false), .response(status: 404, close: false),
        .response(status: 204, close: false), .response(status: 200, close: false),
        .response(status: 503, close: true),
    ]

    @Test(arguments: [1, 2, 3, 7, 64, 100_000])
    func pipelinedResponsesInAnySplit(step: Int) {
        #expect(outcomes(Self.pipelined, step: step) == Self.expected)
    }

    @Test(arguments: ["garbage\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
    func malformedInput(text: String) {
        #expect(outcomes(text, step: 1) == [.malformed])
        #expect(outcomes(text, step: 1000) == [.malformed])
    }

    @Test func overlongLineIsMalformed() {
        let text = "HTTP/1.1 200 OK\r\nX-Long: " + String(repeating: "a", count: 10_000) + "\r\n\r\n"
        #expect(outcomes(text, step: 100) == [.malformed])
    }

    @Test func bodyUntilCloseEndsAtEndOfInput() {
        var parser = ResponseParser()
        let bytes = Array("HTTP/1.0 200 OK\r\n\r\nsome body".utf8)
        let (_, outcome) = bytes.withUnsafeBytes { parser.parse($0) }
        #expect(outcome == .needMore)
        #expect(parser.endOfInput() == .response(status: 200, close: true))
        #expect(parser.endOfInput() == .needMore)
    }
}

/// The strict and capturing modes: what the replay reader, the test client
/// and the sweep's probe rely on.
@Suite("Response parser: strict and capturing")
struct StrictResponseParserTests {
    /// The outcome of parsing `text` whole in strict mode, and the failure.
    func strict(_ text: String, head: Bool = false) -> (ResponseParser.Outcome, String) {
        var parser = ResponseParser(strict: true, capturing: true)
        if head { parser.nextAnswersHead() }
        let bytes = Array(text.utf8)
        let (_, outcome) = bytes.withUnsafeBytes { parser.parse($0) }
        return (outcome, parser.failure)
    }

    @Test("Well-framed responses pass, and the capture holds reason, fields and decoded body")
    func capture() {
        var parser = ResponseParser(strict: true, capturing: true)
        let bytes = Array("HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
        // Byte at a time: the capture must not depend on how the bytes arrive.
        var outcome = ResponseParser.Outcome.needMore
        for b in bytes { outcome = [b].withUnsafeBytes { parser.parse($0).outcome } }
        #expect(outcome == .response(status: 200, close: false))
        #expect(parser.captured.reason == "OK")
        #expect(parser.captured.header("x-a") == "1")
        #expect(parser.captured.body == Array("abcde".utf8))
    }

    @Test("Strict mode rejects what a server must not write", arguments: [
        ("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare LF"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: a\rb\r\n\r\n", "bare CR"),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 NNN reason"),
        ("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 NNN reason"),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", "whitespace in a field name"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "several Content-Length"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "other than chunked"),
        ("HTTP/1.1 200 OK\r\n\r\nbody", "without framing"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=1\r\na\r\n0\r\n\r\n", "chunk size"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", "trailer"),
        ("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "Content-Length on 204"),
        ("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding on 304"),
    ])
    func rejects(text: String, reason: String) {
        let (outcome, failure) = strict(text)
        #expect(outcome == .malformed)
        #expect(failure.contains(reason), "failure was \(failure.debugDescription)")
        // The lenient mode (the load generator's) takes most of these.
    }

    @Test("A response to HEAD has no body whatever its framing says")
    func headResponse() {
        let (outcome, _) = strict("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true)
        #expect(outcome == .response(status: 200, close: false))
        var parser = ResponseParser(strict: true)
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".utf8)
        let (_, pending) = bytes.withUnsafeBytes { parser.parse($0) }
        #expect(pending == .needMore)
        #expect(parser.awaitsWholeBody)
    }

    @Test("Interim responses are reported on their own when asked, skipped otherwise")
    func interim() {
        let text = Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
        var reporting = ResponseParser(strict: true, reportingInterim: true)
        let first = text.withUnsafeBytes { reporting.parse($0) }
        #expect(first.outcome == .response(status: 100, close: false))
        let second = text[first.consumed...].withUnsafeBytes { reporting.parse($0) }
        #expect(second.outcome == .response(status: 200, close: false))
        var skipping = ResponseParser()
        #expect(text.withUnsafeBytes { skipping.parse($0) }.outcome == .response(status: 200, close: false))
    }
}
