// Request bodies: Content-Length, chunked (RFC 9112 §7.1) with extensions and
// trailers, Expect: 100-continue (RFC 9110 §10.1.1), bodies at the limits and
// bodies larger than the session's initial buffers.

import Testing
@testable import HTTP1

func chunkedRequest(_ body: String, path: String = "/upload", extraFields: [String] = []) -> [UInt8] {
    request("POST \(path) HTTP/1.1", ["Host: x", "Transfer-Encoding: chunked"] + extraFields, body: body)
}

@Suite("Bodies")
struct BodyTests {
    /// RFC 9112 §7.1: the decoded body is the concatenated chunk data.
    @Test func chunkedBody() {
        let r = run(chunkedRequest("5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"))
        expectServedOpen(r)
        #expect(r.requests.first.map { text($0.body) } == "hello world")
        #expect(r.responses.first?.bodyText == "POST /upload\nhello world")
    }

    /// RFC 9112 §7.1.1: chunk extensions are ignored by a recipient that
    /// does not understand them; BWS around ';' and '=' and quoted values.
    @Test(arguments: [
        "5;name=value\r\nhello\r\n0\r\n\r\n",
        "5;flag\r\nhello\r\n0;last=1\r\n\r\n",
        "5 ;a=1;b=\"quoted ; value\"\r\nhello\r\n0\r\n\r\n",
        "5\t; a = 1\r\nhello\r\n0\r\n\r\n",
    ])
    func chunkExtensions(_ body: String) {
        let r = run(chunkedRequest(body))
        expectServedOpen(r)
        #expect(r.requests.first?.body == "hello".bytes)
    }

    /// RFC 9112 §7.1.2: trailer fields follow the last chunk; they are not
    /// part of the body and the request ends after the blank line.
    @Test func chunkedTrailers() {
        let r = run(chunkedRequest("3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other:  v \r\n\r\n")
                    + request("GET /next HTTP/1.1"))
        expectServedOpen(r, count: 2)
        #expect(r.requests.map(\.body) == ["abc".bytes, []])
        #expect(r.requests.map(\.path) == ["/upload", "/next"])
        // Trailers are not merged into the header fields.
        #expect(r.requests.first?.header("X-Checksum") == nil)
    }

    /// chunk-size = 1*HEXDIG, case-insensitive, leading zeros allowed.
    @Test func hexChunkSizes() {
        let data = String(repeating: "x", count: 0x1A) + String(repeating: "y", count: 0xff)
        let r = run(chunkedRequest("1a\r\n" + String(repeating: "x", count: 26) + "\r\nFF\r\n" + String(repeating: "y", count: 255)
                                   + "\r\n000\r\n\r\n"))
        expectServedOpen(r)
        #expect(r.requests.first.map { text($0.body) } == data)
    }

    /// Chunk data is opaque: CRLFs and "0\r\n\r\n" inside it are data.
    @Test func chunkDataLooksLikeFraming() {
        let payload = "0\r\n\r\nGET / HTTP/1.1\r\n"
        let r = run(chunkedRequest(String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n0\r\n\r\n"))
        expectServedOpen(r)
        #expect(r.requests.first?.body == payload.bytes)
    }

    /// An empty chunked body is just the last chunk.
    @Test func emptyChunkedBody() {
        let r = run(chunkedRequest("0\r\n\r\n"))
        expectServedOpen(r)
        #expect(r.requests.first?.body == [])
    }

    /// `Transfer-Encoding: Chunked` — coding names are case-insensitive (RFC 9112 §7).
    @Test func chunkedCodingNameIgnoresCase() {
        let r = run(request("POST / HTTP/1.1", ["Host: x", "Transfer-Encoding: Chunked"], body: "2\r\nok\r\n0\r\n\r\n"))
        expectServedOpen(r)
        #expect(r.requests.first?.body == "ok".bytes)
    }

    /// Bodies exactly at maxBodyBytes are accepted (one more is 413, see
    /// the rejection tests).
    @Test func bodiesAtTheLimit() {
        let limits = HTTPLimits(maxBodyBytes: 10)
        let cl = run(request("POST / HTTP/1.1", ["Host: x", "Content-Length: 10"], body: "0123456789"), limits: limits)
        expectServedOpen(cl)
        let ch = run(chunkedRequest("4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n"), limits: limits)
        expectServedOpen(ch)
        #expect(ch.requests.first?.body == "0123456789".bytes)
    }

    /// A body far larger than the initial 16 KiB input buffer, arriving in
    /// pieces, is delivered whole; the next request still parses.
    @Test(arguments: [1, 4096, 65536])
    func largeContentLengthBody(pieceSize: Int) {
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let bytes = request("PUT /big HTTP/1.1", ["Host: x", "Content-Length: \(body.count)"]) + body + request("GET /after HTTP/1.1")
        let pieces = stride(from: 0, to: bytes.count, by: pieceSize).map { Array(bytes[$0..<min($0 + pieceSize, bytes.count)]) }
        let r = run(pieces: pieces)
        expectServedOpen(r, count: 2)
        #expect(r.requests.first?.body == body)
        #expect(r.responses.first?.body == "PUT /big\n".bytes + body)
    }

    /// Many small chunks: the framing is cut out as it is decoded.
    @Test func manySmallChunks() {
        var body: [UInt8] = []
        var framed = ""
        for i in 0..<5_000 {
            let piece = String(i % 10) + (i % 3 == 0 ? "ab" : "")
            body += piece.bytes
            framed += String(piece.utf8.count, radix: 16) + (i % 7 == 0 ? ";i=\(i)" : "") + "\r\n" + piece + "\r\n"
        }
        framed += "0\r\nX-Trailer: yes\r\n\r\n"
        let bytes = chunkedRequest(framed) + request("GET /after HTTP/1.1")
        let pieces = stride(from: 0, to: bytes.count, by: 1000).map { Array(bytes[$0..<min($0 + 1000, bytes.count)]) }
        let r = run(pieces: pieces)
        expectServedOpen(r, count: 2)
        #expect(r.requests.first?.body == body)
    }

    // MARK: Expect: 100-continue (RFC 9110 §10.1.1)

    /// The server sends the interim 100 when it has the head and waits for
    /// the body, and the final response after the body.
    @Test func continueSentBeforeBody() {
        let c = TestConnection()
        let interim = c.send(request("POST /up HTTP/1.1", ["Host: x", "Expect: 100-continue", "Content-Length: 5"]))
        #expect(text(interim) == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(c.requests.isEmpty)
        let final = c.send("he".bytes)
        #expect(final.isEmpty, "no second 100 and no response before the body is complete")
        c.send("llo".bytes)
        let r = result(of: c)
        #expect(r.interim.map(\.status) == [100])
        expectServedOpen(r)
        #expect(r.requests.first?.body == "hello".bytes)
    }

    /// The same for a chunked body.
    @Test func continueSentBeforeChunkedBody() {
        let c = TestConnection()
        let interim = c.send(chunkedRequest("", extraFields: ["Expect: 100-Continue"]))
        #expect(text(interim) == "HTTP/1.1 100 Continue\r\n\r\n")
        c.send("3\r\nabc\r\n".bytes)
        c.send("0\r\n\r\n".bytes)
        let r = result(of: c)
        #expect(r.interim.count == 1)
        expectServedOpen(r)
        #expect(r.requests.first?.body == "abc".bytes)
    }

    /// When the body arrives together with the head there is nothing to wait
    /// for: no 100 (RFC 9110 §10.1.1 lets the server omit it).
    @Test func noContinueWhenBodyAlreadyHere() {
        let r = run(request("POST / HTTP/1.1", ["Host: x", "Expect: 100-continue", "Content-Length: 5"], body: "hello"))
        #expect(r.interim.isEmpty)
        #expect(!text(r.output).contains("100 Continue"))
        expectServedOpen(r)
    }

    /// No body expected (no Content-Length) → no 100.
    @Test func noContinueWithoutBody() {
        let r = run(request("GET / HTTP/1.1", ["Host: x", "Expect: 100-continue"]))
        #expect(r.interim.isEmpty)
        expectServedOpen(r)
    }

    /// RFC 9110 §10.1.1: a server MUST ignore 100-continue from an HTTP/1.0
    /// client.
    @Test func noContinueForHTTP10() {
        let c = TestConnection()
        let out = c.send("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".bytes)
        #expect(out.isEmpty)
        c.send("ok".bytes)
        let r = result(of: c)
        #expect(r.interim.isEmpty)
        #expect(r.statuses == [200])
    }

    /// A second request on the same connection gets its own 100.
    @Test func continuePerRequest() {
        let c = TestConnection()
        let head = request("POST / HTTP/1.1", ["Host: x", "Expect: 100-continue", "Content-Length: 1"])
        #expect(text(c.send(head)) == "HTTP/1.1 100 Continue\r\n\r\n")
        c.send("a".bytes)
        #expect(text(c.send(head)) == "HTTP/1.1 100 Continue\r\n\r\n")
        c.send("b".bytes)
        let r = result(of: c)
        #expect(r.interim.count == 2)
        expectServedOpen(r, count: 2)
    }
}
