import Glibc
import Testing

/// The demo application over real loopback sockets, once per available engine.
@Suite("End to end: application", .serialized)
struct ApplicationOverSocketsTests {
    @Test("GET /plaintext", arguments: engineNames)
    func plaintext(engine: String) throws {
        let server = try TestServer(engine: engine)
        let response = try server.client().get("/plaintext")
        #expect(response.status == 200)
        #expect(response.text == "Hello, World!")
        #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(response.header("Content-Length") == "13")
        #expect(response.header("Server") == "switchyard")
        let date = try #require(response.header("Date"))
        #expect(date.count == 29 && date.hasSuffix(" GMT"))
    }

    @Test("GET /json", arguments: engineNames)
    func json(engine: String) throws {
        let server = try TestServer(engine: engine)
        let response = try server.client().get("/json")
        #expect(response.status == 200)
        #expect(response.text == #"{"message":"Hello, World!"}"#)
        #expect(response.header("Content-Type") == "application/json")
    }

    @Test("POST /echo with Content-Length and chunked bodies", arguments: engineNames)
    func echo(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nContent-Length: 11\r\n\r\nhello world")
        let first = try client.readResponse()
        #expect(first.status == 200)
        #expect(first.text == "hello world")
        #expect(first.header("Content-Type") == "text/x-test")
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n")
        let second = try client.readResponse()
        #expect(second.text == "hello world")
        #expect(second.header("Content-Type") == "application/octet-stream")
    }

    @Test("A 256 KiB body sent in pieces is echoed intact", arguments: engineNames)
    func largeEcho(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        let body = (0..<(256 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n")
        for start in stride(from: 0, to: body.count, by: 10_000) {
            try client.send(Array(body[start..<min(start + 10_000, body.count)]))
        }
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.body == body)
    }

    @Test("Expect: 100-continue gets an interim response before the body", arguments: engineNames)
    func expectContinue(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = try client.readResponse()
        #expect(interim.status == 100)
        try client.send("ping")
        let final = try client.readResponse()
        #expect(final.status == 200)
        #expect(final.text == "ping")
    }

    @Test("Routes with parameters, work, health; 404 and 405", arguments: engineNames)
    func routing(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        #expect(try client.get("/users/42").text == "user 42\n")
        let work = try client.get("/work?us=200")
        #expect(work.status == 200)
        #expect(work.text == "worked 200 us\n")
        #expect(try client.get("/work?us=abc").status == 400)
        #expect(try client.get("/work").status == 400)
        #expect(try client.get("/health").text == "ok\n")
        #expect(try client.get("/no/such/path").status == 404)
        try client.send("DELETE /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        let wrongMethod = try client.readResponse()
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "GET, HEAD")
    }

    @Test("HEAD has the GET headers and no body", arguments: engineNames)
    func head(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        try client.send("HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse(head: true)
        #expect(response.status == 200)
        #expect(response.header("Content-Length") == "13")
        // The next response must follow immediately: no stray body bytes.
        #expect(try client.get("/health").text == "ok\n")
    }

    @Test("Static files: content types, subdirectories, traversal refused", arguments: engineNames)
    func staticFiles(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        let text = try client.get("/static/hello.txt")
        #expect(text.status == 200)
        #expect(text.text == "hello static\n")
        #expect(text.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(try client.get("/static/page.html").header("Content-Type") == "text/html; charset=utf-8")
        #expect(try client.get("/static/sub/data.json").text == "{\"a\":1}\n")
        #expect(try client.get("/static/missing.txt").status == 404)
        #expect(try client.get("/static/../../etc/passwd").status == 403)
        #expect(try client.get("/static/%2e%2e/%2e%2e/etc/passwd").status == 403)
        #expect(try client.get("/static/sub/..%2f..%2fetc%2fpasswd").status == 403)
        #expect(try client.get("/static/bad%zz").status == 400)
        #expect(try client.get("/static/sub").status == 404)
    }

    @Test("/metrics counts responses by status, connections and bytes", arguments: engineNames)
    func metrics(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        for _ in 0..<5 { _ = try client.get("/plaintext") }
        _ = try client.get("/missing")
        let text = try client.get("/metrics").text
        #expect(text.contains("switchyard_http_responses_total{status=\"200\"} 5\n"))
        #expect(text.contains("switchyard_http_responses_total{status=\"404\"} 1\n"))
        #expect(text.contains("switchyard_routed_requests_total 7\n"))
        #expect(text.contains("switchyard_connections_open 1\n"))
        #expect(text.contains("# TYPE switchyard_bytes_sent_total counter"))
        let name = engineVariant(engine).engine
        #expect(text.contains("switchyard_info{engine=\"\(name)\"} 1") || text.contains("engine=\"\(name)\""))
    }
}
