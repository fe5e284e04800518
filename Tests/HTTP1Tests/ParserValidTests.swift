// Valid requests: what the responder sees (method, target, path, query,
// version, headers, body, keep-alive) and that each gets a 200.

import Testing
@testable import HTTP1

@Suite("Valid requests")
struct ParserValidTests {
    @Test func simpleGet() throws {
        let r = run("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
        expectServedOpen(r)
        let req = try #require(r.requests.first)
        #expect(req.method == "GET")
        #expect(req.target == "/index.html")
        #expect(req.path == "/index.html")
        #expect(req.query == nil)
        #expect(req.version == .http11)
        #expect(req.headers.map(\.0) == ["Host", "Accept"])
        #expect(req.headers.map(\.1) == ["example.com", "*/*"])
        #expect(req.body.isEmpty)
        #expect(req.keepAlive)
        #expect(r.responses.first?.bodyText == "GET /index.html\n")
    }

    /// RFC 9110 §9.1: every method this server knows is dispatched.
    @Test(arguments: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"])
    func knownMethods(_ method: String) {
        let r = run(request("\(method) /m HTTP/1.1"), headResponses: method == "HEAD" ? [0] : [])
        expectServedOpen(r)
        #expect(r.requests.first?.method == method)
    }

    /// RFC 9110 §9.3.2: a HEAD response carries the GET response's header
    /// fields (Content-Length included) but no content.
    @Test func headHasContentLengthButNoBody() {
        let r = run(request("HEAD /file HTTP/1.1"), headResponses: [0])
        expectServedOpen(r)
        #expect(r.responses.first?.header("Content-Length") == "\("HEAD /file\n".utf8.count)")
        #expect(r.responses.first?.body == [])
        #expect(text(r.output).hasSuffix("\r\n\r\n"), "no body bytes after the head")
    }

    /// RFC 9112 §6.2: Content-Length gives the body length.
    @Test func postWithContentLength() {
        let r = run(request("POST /submit HTTP/1.1", ["Host: x", "Content-Length: 11"], body: "hello world"))
        expectServedOpen(r)
        #expect(r.requests.first?.body == "hello world".bytes)
        #expect(r.responses.first?.bodyText == "POST /submit\nhello world")
    }

    /// RFC 9112 §6.3 rule 7: a request with neither Content-Length nor
    /// Transfer-Encoding has no body; what follows is the next request.
    @Test func postWithoutFramingHasEmptyBody() {
        let r = run(request("POST /a HTTP/1.1") + request("GET /b HTTP/1.1"))
        expectServedOpen(r, count: 2)
        #expect(r.requests.map(\.body) == [[], []])
        #expect(r.requests.map(\.path) == ["/a", "/b"])
    }

    /// RFC 9112 §3.2.2: absolute-form; the path and query come from the URI.
    @Test(arguments: [
        ("http://example.com/path?q=1", "/path", "q=1"),
        ("http://example.com", "/", nil),
        ("http://example.com?q=1", "/", "q=1"),
        ("http://example.com:8080/a/b", "/a/b", nil),
        ("https://example.com/secure?x=1&y=2", "/secure", "x=1&y=2"),
        ("HTTP://EXAMPLE.COM/Case", "/Case", nil),
    ] as [(String, String, String?)])
    func absoluteForm(_ target: String, _ path: String, _ query: String?) throws {
        let r = run(request("GET \(target) HTTP/1.1"))
        expectServedOpen(r)
        let req = try #require(r.requests.first)
        #expect(req.target == target)
        #expect(req.path == path)
        #expect(req.query == query)
    }

    /// RFC 9112 §3.2.4: asterisk-form, only for a server-wide OPTIONS.
    @Test func optionsAsterisk() throws {
        let r = run(request("OPTIONS * HTTP/1.1"))
        expectServedOpen(r)
        let req = try #require(r.requests.first)
        #expect(req.method == "OPTIONS")
        #expect(req.target == "*")
        #expect(req.path == "*")
        #expect(req.query == nil)
    }

    /// RFC 3986 §3.4: the query is everything after the first '?'.
    @Test(arguments: [
        ("/search?q=swift", "/search", "q=swift"),
        ("/search?", "/search", ""),
        ("/a?b?c", "/a", "b?c"),
        ("/?x=%20y", "/", "x=%20y"),
        ("/plain", "/plain", nil),
    ] as [(String, String, String?)])
    func queryParsing(_ target: String, _ path: String, _ query: String?) {
        let r = run(request("GET \(target) HTTP/1.1"))
        #expect(r.requests.first?.path == path)
        #expect(r.requests.first?.query == query)
    }

    /// queryValue: first parameter with the exact name, raw (no decoding);
    /// a name without '=' has an empty value.
    @Test func queryValueLookup() {
        let responder = RecordingResponder { request, writer in
            func show(_ v: UnsafeRawBufferPointer?) -> String { v.map { "[\($0.string)]" } ?? "nil" }
            let line = "a=\(show(request.queryValue("a"))) b=\(show(request.queryValue("b"))) "
                + "flag=\(show(request.queryValue("flag"))) us=\(show(request.queryValue("us"))) "
                + "missing=\(show(request.queryValue("missing"))) A=\(show(request.queryValue("A")))"
            writer.respond(.ok, contentType: nil) { $0.write(line) }
        }
        let r = run(request("GET /work?a=1&b=x%20y&flag&a=2&us=20&bb=3 HTTP/1.1"), responder: responder)
        #expect(r.responses.first?.bodyText == "a=[1] b=[x%20y] flag=[] us=[20] missing=nil A=nil")

        let none = run(request("GET /work HTTP/1.1"), responder: responder)
        #expect(none.responses.first?.bodyText == "a=nil b=nil flag=nil us=nil missing=nil A=nil")
    }

    /// RFC 9110 §5.1: field names are case-insensitive.
    @Test func headerLookupIgnoresCase() {
        let responder = RecordingResponder { request, writer in
            let v = request.headers.first("x-custom")?.string ?? "nil"
            let h = request.headers.first("host")?.string ?? "nil"
            let missing = request.headers.first("x-missing")?.string ?? "nil"
            writer.respond(.ok, contentType: nil) { $0.write("\(v)|\(h)|\(missing)") }
        }
        let r = run(request("GET / HTTP/1.1", ["HOST: h.example", "X-CuStOm: first", "x-custom: second"]),
                    responder: responder)
        #expect(r.responses.first?.bodyText == "first|h.example|nil")
        // Names keep their original spelling and order.
        #expect(r.requests.first?.headers.map(\.0) == ["HOST", "X-CuStOm", "x-custom"])
    }

    /// RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF)
    /// received before the request line.
    @Test(arguments: [1, 2, 5])
    func emptyLinesBeforeRequestLine(_ n: Int) {
        let r = run(String(repeating: "\r\n", count: n).bytes + request("GET /after-blank HTTP/1.1"))
        expectServedOpen(r)
        #expect(r.requests.first?.path == "/after-blank")
        #expect(r.requests.first?.target == "/after-blank")
    }

    /// Empty lines between pipelined requests are ignored the same way.
    @Test func emptyLineBetweenPipelinedRequests() {
        let r = run(request("GET /1 HTTP/1.1") + "\r\n".bytes + request("GET /2 HTTP/1.1"))
        expectServedOpen(r, count: 2)
        #expect(r.requests.map(\.path) == ["/1", "/2"])
    }

    /// RFC 9110 §6.2: a 1.x message with a higher minor version is handled as
    /// the highest 1.x version the server supports; the response says HTTP/1.1.
    @Test(arguments: ["HTTP/1.2", "HTTP/1.9"])
    func higherMinorVersionIsHTTP11(_ version: String) {
        let r = run(request("GET / \(version)"))
        expectServedOpen(r)
        #expect(r.requests.first?.version == .http11)
        #expect(r.requests.first?.keepAlive == true)
        #expect(text(r.output).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    /// RFC 9112 §3.2: Host is required in HTTP/1.1 only.
    @Test func http10WithoutHost() {
        let r = run("GET /old HTTP/1.0\r\n\r\n")
        #expect(r.statuses == [200])
        #expect(r.requests.first?.version == .http10)
    }

    /// RFC 9112 §5.1: OWS around the value is not part of it; whitespace
    /// inside is. RFC 9110 §5.5: HTAB and obs-text are allowed in values.
    @Test func fieldValuesTrimmedOfOWS() throws {
        let r = run(request("GET / HTTP/1.1", [
            "Host:example.com",
            "X-Spaces:    padded   ",
            "X-Tabs:\t\ttabbed\t \t",
            "X-Inner: a  b\tc",
            "X-Empty:",
            "X-Blank:   \t ",
            "X-Obs-Text: caf\u{E9}",
        ]))
        expectServedOpen(r)
        let req = try #require(r.requests.first)
        #expect(req.header("Host") == "example.com")
        #expect(req.header("X-Spaces") == "padded")
        #expect(req.header("X-Tabs") == "tabbed")
        #expect(req.header("X-Inner") == "a  b\tc")
        #expect(req.header("X-Empty") == "")
        #expect(req.header("X-Blank") == "")
        #expect(req.header("X-Obs-Text") == "caf\u{E9}")
    }

    /// RFC 9110 §5.6.2: every tchar is allowed in a field name.
    @Test func tcharFieldName() {
        let r = run(request("GET / HTTP/1.1", ["Host: x", "X-!#$%&'*+.^_`|~09az: ok"]))
        expectServedOpen(r)
        #expect(r.requests.first?.header("X-!#$%&'*+.^_`|~09az") == "ok")
    }

    /// RFC 9110 §7.2 / RFC 3986 §3.2.2: Host may carry a port, an IP literal
    /// or be empty.
    @Test(arguments: ["example.com:8080", "[::1]:8080", "127.0.0.1", "", "xn--bcher-kva.example"])
    func validHostValues(_ host: String) {
        let r = run(request("GET / HTTP/1.1", ["Host: \(host)"]))
        expectServedOpen(r)
        #expect(r.requests.first?.header("host") == host)
    }

    /// Content-Length: 0 is an empty body, not a missing one.
    @Test func zeroContentLength() {
        let r = run(request("POST /z HTTP/1.1", ["Host: x", "Content-Length: 0"]) + request("GET /next HTTP/1.1"))
        expectServedOpen(r, count: 2)
        #expect(r.requests.map(\.path) == ["/z", "/next"])
    }

    /// Leading zeros are still 1*DIGIT (RFC 9110 §8.6).
    @Test func contentLengthWithLeadingZeros() {
        let r = run(request("POST / HTTP/1.1", ["Host: x", "Content-Length: 005"], body: "hello"))
        expectServedOpen(r)
        #expect(r.requests.first?.body == "hello".bytes)
    }

    /// RFC 9110 §5.6.1 / §7.6.1: Connection is a case-insensitive token list.
    @Test func connectionTokenList() {
        let r = run(request("GET / HTTP/1.1", ["Host: x", "Connection: Upgrade, CLOSE"]))
        #expect(r.statuses == [200])
        #expect(r.requests.first?.keepAlive == false)
        #expect(r.closed)
    }

    /// The target is exposed exactly as sent, including reserved characters.
    @Test func targetWithReservedCharacters() {
        let target = "/a/b;c=d/%7Euser/:@!$&'()*+,;=?x=[1]&y=~"
        let r = run(request("GET \(target) HTTP/1.1"))
        expectServedOpen(r)
        #expect(r.requests.first?.target == target)
        #expect(r.requests.first?.path == "/a/b;c=d/%7Euser/:@!$&'()*+,;=")
        #expect(r.requests.first?.query == "x=[1]&y=~")
    }
}
