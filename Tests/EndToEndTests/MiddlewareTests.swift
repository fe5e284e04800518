import Application
import Glibc
import HTTP1
import Testing

/// A middleware that queues a header and passes on, or answers 401 itself
/// when the request lacks `X-Token`.
private struct TokenGate: Middleware {
    let marker = StaticHeader(name: "X-Gate", value: "passed")
    let denied = StaticBytes("no token\n")

    func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void) {
        guard request.headers.first("x-token") != nil else {
            writer.respond(HTTPStatus(401), contentType: .textPlain, body: denied)
            return
        }
        writer.addHeader(marker)
        next(&writer)
    }
}

/// Queues one header: with two of them, their order in the response shows
/// the order the chain ran in.
private struct Tag: Middleware {
    let line: StaticBytes
    init(_ value: String) { line = StaticBytes("X-Tag: \(value)\r\n") }

    func handle(_ request: HTTPRequest, _ writer: inout ResponseWriter, next: (inout ResponseWriter) -> Void) {
        writer.addHeader(line: line)
        next(&writer)
    }
}

private func gatedApplication() throws -> Application {
    let app = Application(fixedHeaders: [("Server", "gated"), ("X-Fixed", "1")])
    app.use(Tag("first"))
    app.use(TokenGate())
    app.use(Tag("second"))
    let body = StaticBytes("inside\n")
    try app.route(.get, "/inside") { _, _, writer in
        writer.respond(.ok, contentType: .textPlain, body: body)
    }
    return app
}

/// Middleware over real sockets, and the fixed headers an application
/// serializes with its status lines, once per available engine.
@Suite("End to end: middleware and fixed headers", .serialized)
struct MiddlewareTests {
    @Test("Middleware runs in order, queues headers and may answer early", arguments: engineNames)
    func chain(engine: String) throws {
        let server = try TestServer(engine: engine, application: try gatedApplication())
        let client = try server.client()
        let passed = try client.get("/inside", headers: "X-Token: t\r\n")
        #expect(passed.status == 200)
        #expect(passed.text == "inside\n")
        #expect(passed.headers.filter { $0.0 == "X-Tag" }.map(\.1) == ["first", "second"])
        #expect(passed.header("X-Gate") == "passed")
        let refused = try client.get("/inside")
        #expect(refused.status == 401)
        #expect(refused.text == "no token\n")
        #expect(refused.header("X-Gate") == nil)
        // A step that answered early kept the headers queued before it.
        #expect(refused.headers.filter { $0.0 == "X-Tag" }.map(\.1) == ["first"])
    }

    @Test("Fixed headers go out with every response, the session's own errors too", arguments: engineNames)
    func fixedHeaders(engine: String) throws {
        let server = try TestServer(engine: engine, application: try gatedApplication())
        let client = try server.client()
        for response in [try client.get("/inside", headers: "X-Token: t\r\n"), try client.get("/nowhere")] {
            #expect(response.header("Server") == "gated")
            #expect(response.header("X-Fixed") == "1")
            #expect(response.headers.filter { $0.0 == "Server" }.count == 1)
        }
        try client.send("GET /inside HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n")
        let bad = try client.readResponse()
        #expect(bad.status == 400)
        #expect(bad.header("Server") == "gated")
    }
}
