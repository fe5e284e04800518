// Response serialization through ResponseWriter: status line, Date,
// Content-Length, chunked framing, HEAD / 204 / 304 rules, HTTP/1.0 clients.

import Glibc
import Testing
@testable import HTTP1

let xTrace = StaticHeader(name: "X-Trace", value: "abc123")
let xServer = StaticHeader(name: "Server", value: "switchyard-test")
let cacheControl = StaticHeader(name: "Cache-Control", value: "no-store")
let vary = StaticHeader(name: "Vary", value: "Accept")
let helloBytes = StaticBytes("hello")

/// Serves `requestBytes` with `handler` and returns the parsed result.
func serve(_ requestBytes: [UInt8], heads: Set<Int> = [], _ handler: @escaping RecordingResponder.Handler) -> RunResult {
    run(pieces: [requestBytes], responder: RecordingResponder(handler), headResponses: heads)
}

/// A body of `n` bytes cycling through the alphabet.
func alphabet(_ n: Int) -> String {
    String((0..<n).map { Character(UnicodeScalar(UInt8(0x61 + $0 % 26))) })
}

@Suite("Serializer")
struct SerializerTests {
    /// RFC 9112 §4: status-line = HTTP-version SP status-code SP [reason-phrase];
    /// the server answers with its own version, HTTP/1.1 (RFC 9110 §6.2).
    @Test(arguments: [
        (200, "OK"), (201, "Created"), (204, "No Content"), (404, "Not Found"), (431, "Request Header Fields Too Large"),
        (503, "Service Unavailable"), (299, "Unknown"),
    ] as [(Int, String)])
    func statusLine(_ code: Int, _ reason: String) {
        let r = serve(request("GET / HTTP/1.1")) { _, w in w.respond(HTTPStatus(code), contentType: nil, body: helloBytes) }
        #expect(text(r.output).hasPrefix("HTTP/1.1 \(code) \(reason)\r\n"))
        #expect(r.parseError == nil)
    }

    /// The exact bytes of a simple response (Date masked).
    @Test func exactResponseBytes() {
        let r = serve(request("GET / HTTP/1.1")) { _, w in w.respond(.ok, contentType: .textPlain, body: helloBytes) }
        #expect(text(maskDates(r.output)) == "HTTP/1.1 200 OK\r\nDate: \(String(repeating: "#", count: 29))\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello")
    }

    /// RFC 9110 §5.6.7 / §6.6.1: Date is an IMF-fixdate,
    /// "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes, fixed positions, and the
    /// weekday agrees with the date.
    @Test func dateHeaderIsIMFFixdate() throws {
        let r = serve(request("GET / HTTP/1.1")) { _, w in w.respond(.ok, contentType: nil, body: helloBytes) }
        let date = try #require(r.responses.first?.header("Date"))
        let b = Array(date.utf8)
        try #require(b.count == 29)
        #expect(date.hasSuffix(" GMT"))
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = try #require(days.firstIndex(of: String(date.prefix(3))))
        let month = try #require(months.firstIndex(of: text(b[8..<11])))
        #expect(b[3] == UInt8(ascii: ",") && b[4] == UInt8(ascii: " ") && b[7] == UInt8(ascii: " ") && b[11] == UInt8(ascii: " "))
        #expect(b[16] == UInt8(ascii: " ") && b[19] == UInt8(ascii: ":") && b[22] == UInt8(ascii: ":") && b[25] == UInt8(ascii: " "))
        for i in [5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24] { #expect(isDigit(b[i]), "digit at \(i)") }
        let num = { (r: Range<Int>) in Int(text(b[r]))! }
        var parts = tm()
        parts.tm_mday = Int32(num(5..<7))
        parts.tm_mon = Int32(month)
        parts.tm_year = Int32(num(12..<16) - 1900)
        parts.tm_hour = Int32(num(17..<19))
        parts.tm_min = Int32(num(20..<22))
        parts.tm_sec = Int32(num(23..<25))
        var t = timegm(&parts)
        var check = tm()
        gmtime_r(&t, &check)
        #expect(Int(check.tm_wday) == weekday, "weekday matches the date")
        #expect(check.tm_mday == parts.tm_mday, "day exists in that month")
        #expect((0...23).contains(parts.tm_hour) && (0...59).contains(parts.tm_min) && (0...60).contains(parts.tm_sec))
    }

    /// body(writing:) measures the body and puts Content-Length in front of
    /// it; sizes cross the digit-count boundaries of the length.
    @Test(arguments: [0, 1, 9, 10, 99, 100, 999, 1000, 12_345, 100_000])
    func contentLengthForWrittenBody(_ n: Int) {
        let r = serve(request("GET / HTTP/1.1")) { _, w in
            w.respond(.ok, contentType: .textPlain) { body in
                var left = n
                while left > 0 {
                    let k = min(left, 777)
                    body.write(alphabet(k))
                    left -= k
                }
            }
        }
        #expect(r.parseError == nil)
        #expect(r.responses.first?.header("Content-Length") == "\(n)")
        #expect(r.responses.first?.body.count == n)
        #expect(r.responses.first?.headers(named: "Content-Length").count == 1)
        #expect(r.responses.first?.header("Content-Type") == "text/plain; charset=utf-8")
    }

    /// Step-by-step API: head, header(...)s, body(writing:) with the
    /// BodyWriter helpers.
    @Test func stepwiseHeadersAndBodyWriter() {
        let r = serve(request("GET / HTTP/1.1")) { _, w in
            w.head(.created)
            w.header(xServer)
            _ = "v1".utf8.withContiguousStorageIfAvailable { w.header("X-Raw", UnsafeRawBufferPointer($0)) }
            w.header("X-Count", 42)
            w.body(contentType: .json) { b in
                b.write("{\"n\":" as StaticString)
                b.write(decimal: -17)
                b.write(",\"s\":\"" as StaticString)
                _ = "q\"\\\n\r\t\u{1}\u{1F}é".utf8.withContiguousStorageIfAvailable { b.writeJSONStringContents(UnsafeRawBufferPointer($0)) }
                b.write("\"}" as StaticString)
            }
        }
        let resp = r.responses.first
        #expect(resp?.status == 201)
        #expect(resp?.header("Server") == "switchyard-test")
        #expect(resp?.header("X-Raw") == "v1")
        #expect(resp?.header("X-Count") == "42")
        #expect(resp?.header("Content-Type") == "application/json")
        #expect(resp?.bodyText == "{\"n\":-17,\"s\":\"q\\\"\\\\\\n\\r\\t\\u0001\\u001fé\"}")
        #expect(resp?.header("Content-Length") == "\(resp?.body.count ?? -1)")
    }

    /// A StaticResponse (framing serialized at start-up) writes exactly the
    /// bytes the piecewise calls write, for every kind of request and for
    /// statuses with and without a body: kept-alive HTTP/1.1 takes the
    /// pre-framed piece; HEAD its framing alone; HTTP/1.0 and closing
    /// responses the general path with their Connection line.
    @Test(arguments: [200, 404, 204, 304])
    func staticResponseMatchesPiecewise(code: Int) {
        let typed = StaticResponse(contentType: .textPlain, body: "Hello, World!")
        let untyped = StaticResponse(contentType: nil, body: "")
        // The closing request last: nothing after it is answered.
        let requests = request("GET / HTTP/1.1") + request("HEAD / HTTP/1.1")
            + request("GET / HTTP/1.0", ["Connection: keep-alive"]) + request("HEAD / HTTP/1.0", ["Connection: keep-alive"])
            + request("GET / HTTP/1.1", ["Host: a", "Connection: close"])
        for response in [typed, untyped] {
            let whole = serve(requests, heads: [1, 3]) { _, w in
                w.addHeader(xTrace)
                w.respond(HTTPStatus(code), response)
            }
            let pieces = serve(requests, heads: [1, 3]) { _, w in
                w.addHeader(xTrace)
                w.respond(HTTPStatus(code), contentType: response.contentType, body: response.body)
            }
            #expect(whole.parseError == nil)
            #expect(whole.responses.count == 5)
            #expect(whole.closed)
            #expect(text(maskDates(whole.output)) == text(maskDates(pieces.output)))
        }
    }

    /// write(upTo:): the application fills reserved space in place (as a
    /// read(2) from a file would) and reports how much it used.
    @Test(arguments: [(0, 10), (5, 5), (3, 100_000), (70_000, 70_000)])
    func writeInPlace(used: Int, reserved: Int) {
        let r = serve(request("GET / HTTP/1.1") + request("HEAD / HTTP/1.1"), heads: [1]) { _, w in
            w.respond(.ok, contentType: .octetStream) { body in
                body.write("<" as StaticString)
                body.write(upTo: reserved) { space in
                    for i in 0..<used { space[i] = UInt8(ascii: "x") }
                    return used
                }
                body.write(">" as StaticString)
            }
        }
        #expect(r.parseError == nil)
        #expect(r.responses.first?.bodyText == "<" + String(repeating: "x", count: used) + ">")
        #expect(r.responses.last?.header("Content-Length") == "\(used + 2)")
    }

    /// RFC 9112 §7.1: a chunked response is a series of chunks, then the
    /// zero-size last chunk and an empty trailer section; no Content-Length
    /// (RFC 9112 §6.2). Empty writes are skipped (they would end the body).
    @Test func chunkedResponseFraming() {
        let r = serve(request("GET / HTTP/1.1")) { _, w in
            w.head(.ok)
            w.chunkedBody(contentType: .textPlain) { c in
                c.write(helloBytes)
                c.write(StaticBytes(""))
                c.write(StaticBytes(alphabet(300)))
            }
        }
        #expect(r.parseError == nil)
        let resp = r.responses.first
        #expect(resp?.header("Transfer-Encoding") == "chunked")
        #expect(resp?.header("Content-Length") == nil)
        #expect(resp?.bodyText == "hello" + alphabet(300))
        #expect(text(r.output).hasSuffix("\r\n\r\n5\r\nhello\r\n12c\r\n\(alphabet(300))\r\n0\r\n\r\n"))
    }

    /// A chunked response with no chunks is just the last chunk.
    @Test func emptyChunkedResponse() {
        let r = serve(request("GET / HTTP/1.1")) { _, w in
            w.head(.ok)
            w.chunkedBody(contentType: nil) { _ in }
        }
        #expect(r.responses.first?.body == [])
        #expect(text(r.output).hasSuffix("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
    }

    /// RFC 9112 §6.1: chunked must not be sent to an HTTP/1.0 recipient; the
    /// body is measured and framed by Content-Length instead.
    @Test(arguments: [("GET / HTTP/1.0\r\n\r\n", "close"), ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive")])
    func chunkedBodyToHTTP10Client(_ raw: String, _ connection: String) {
        let r = serve(raw.bytes) { _, w in
            w.head(.ok)
            w.chunkedBody(contentType: .textPlain) { c in
                c.write(helloBytes)
                c.write(StaticBytes(" world"))
            }
        }
        #expect(r.parseError == nil)
        let resp = r.responses.first
        #expect(resp?.header("Transfer-Encoding") == nil)
        #expect(resp?.header("Content-Length") == "11")
        #expect(resp?.bodyText == "hello world")
        #expect(resp?.header("Connection") == connection)
        #expect(!text(r.output).contains("\r\n5\r\n"))
    }

    /// RFC 9110 §9.3.2 / §8.6: HEAD gets the Content-Length the GET would
    /// have had, and no body bytes — also for measured bodies.
    @Test func headWithWrittenBody() {
        let handler: RecordingResponder.Handler = { _, w in
            w.respond(.ok, contentType: .textPlain) { $0.write(alphabet(1234)) }
        }
        let r = serve(request("HEAD / HTTP/1.1") + request("GET /after HTTP/1.1"), heads: [0], handler)
        #expect(r.parseError == nil)
        #expect(r.statuses == [200, 200])
        #expect(r.responses[0].header("Content-Length") == "1234")
        #expect(r.responses[0].body == [])
        #expect(r.responses[1].body.count == 1234, "the next response starts right after the HEAD response's head")
    }

    /// HEAD with chunkedBody: the header fields of the GET response
    /// (Transfer-Encoding: chunked) and nothing after the head.
    @Test func headWithChunkedBody() {
        let r = serve(request("HEAD / HTTP/1.1") + request("GET /after HTTP/1.1"), heads: [0]) { _, w in
            w.head(.ok)
            w.chunkedBody(contentType: nil) { $0.write(helloBytes) }
        }
        #expect(r.parseError == nil)
        #expect(r.responses[0].header("Transfer-Encoding") == "chunked")
        #expect(r.responses[0].raw.suffix(4) == "\r\n\r\n".bytes[...])
        #expect(r.responses[1].bodyText == "hello")
    }

    /// HTTP/1.0 HEAD with chunkedBody: the measured Content-Length, no body.
    @Test func http10HeadWithChunkedBody() {
        let r = serve("HEAD / HTTP/1.0\r\n\r\n".bytes, heads: [0]) { _, w in
            w.head(.ok)
            w.chunkedBody(contentType: nil) { $0.write(helloBytes) }
        }
        #expect(r.parseError == nil)
        #expect(r.responses.first?.header("Content-Length") == "5")
        #expect(text(r.output).hasSuffix("\r\n\r\n"))
    }

    /// RFC 9110 §8.6 / §15.3.5: 204 has no content and no Content-Length;
    /// 304 (§15.4.5) has no content. Whatever the responder passes as body is
    /// dropped, whichever body API it uses.
    @Test(arguments: [204, 304])
    func noContentStatuses(_ code: Int) {
        let bytes = request("GET /1 HTTP/1.1") + request("GET /2 HTTP/1.1") + request("GET /3 HTTP/1.1") + request("GET /4 HTTP/1.1")
        let r = serve(bytes) { req, w in
            switch req.path.string {
            case "/1": w.respond(HTTPStatus(code), contentType: nil, body: helloBytes)
            case "/2": w.respond(HTTPStatus(code), contentType: nil) { $0.write("ignored") }
            case "/3":
                w.head(HTTPStatus(code))
                w.chunkedBody(contentType: nil) { $0.write(helloBytes) }
            default: w.respond(.ok, contentType: nil, body: helloBytes)
            }
        }
        #expect(r.parseError == nil)
        #expect(r.statuses == [code, code, code, 200])
        for resp in r.responses.prefix(3) {
            #expect(resp.header("Content-Length") == nil)
            #expect(resp.header("Transfer-Encoding") == nil)
            #expect(resp.body == [])
            #expect(resp.raw.suffix(4) == "\r\n\r\n".bytes[...])
        }
        #expect(r.responses.last?.bodyText == "hello")
    }

    /// addHeader: queued (middleware) headers go out with the head, up to four.
    @Test func addHeaderAppears() {
        let r = serve(request("GET / HTTP/1.1")) { _, w in
            w.addHeader(xTrace)
            w.addHeader(xServer)
            w.addHeader(cacheControl)
            w.addHeader(vary)
            w.respond(.ok, contentType: nil, body: helloBytes)
        }
        let resp = r.responses.first
        #expect(resp?.header("X-Trace") == "abc123")
        #expect(resp?.header("Server") == "switchyard-test")
        #expect(resp?.header("Cache-Control") == "no-store")
        #expect(resp?.header("Vary") == "Accept")
        #expect(resp?.headers.map(\.0).prefix(5) == ["Date", "X-Trace", "Server", "Cache-Control", "Vary"])
        #expect(resp?.bodyText == "hello")
    }

    /// A responder that writes nothing gets a 500 answered for it, and the
    /// connection closes (its state can no longer be trusted).
    @Test func responderThatWritesNothing() {
        let r = serve(request("GET / HTTP/1.1") + request("GET /never HTTP/1.1")) { _, _ in }
        #expect(r.statuses == [500])
        #expect(r.responses.first?.closes == true)
        #expect(r.responses.first?.bodyText == "500 Internal Server Error\n")
        #expect(r.requests.count == 1)
        #expect(r.closed)
    }

    /// A responder that writes only the head: the session completes the
    /// response (empty body) and closes.
    @Test func responderThatStopsAfterHead() {
        let r = serve(request("GET / HTTP/1.1") + request("GET /never HTTP/1.1")) { _, w in
            w.head(.ok)
            w.header(xTrace)
        }
        #expect(r.parseError == nil)
        #expect(r.statuses == [200])
        #expect(r.responses.first?.header("X-Trace") == "abc123")
        #expect(r.responses.first?.header("Content-Length") == "0")
        #expect(r.responses.first?.closes == true)
        #expect(r.closed)
    }

    /// closeAfterResponse from the application: `Connection: close`, then
    /// the connection ends and pipelined requests are not processed.
    @Test func applicationRequestsClose() {
        let r = serve(request("GET / HTTP/1.1") + request("GET /never HTTP/1.1")) { _, w in
            w.closeAfterResponse()
            w.respond(.ok, contentType: nil, body: helloBytes)
        }
        #expect(r.statuses == [200])
        #expect(r.responses.first?.header("Connection") == "close")
        #expect(r.requests.count == 1)
        #expect(r.closed)
    }

    /// The writer tells the application what it will do.
    @Test func writerState() {
        let r = serve(request("HEAD / HTTP/1.1", ["Host: x", "Connection: close"]), heads: [0]) { _, w in
            // (ResponseWriter is ~Copyable: read its state into locals first.)
            let before = (w.isHead, w.closeConnection, w.hasStarted)
            #expect(before == (true, true, false))
            w.head(.accepted)
            let inHead = (w.hasStarted, w.hasResponded, w.status)
            #expect(inHead == (true, false, .accepted))
            w.body(contentType: nil, helloBytes)
            let done = w.hasResponded
            #expect(done)
        }
        #expect(r.statuses == [202])
        #expect(r.responses.first?.header("Content-Length") == "5")
    }
}

extension HTTPStatus {
    static let accepted = HTTPStatus(202)
}
