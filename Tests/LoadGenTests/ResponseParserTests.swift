import Testing
@testable import LoadGen

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
