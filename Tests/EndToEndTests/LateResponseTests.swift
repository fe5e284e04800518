import Glibc
import Testing

/// Responses that come later (`ResponseWriter.respondLater`), over real
/// sockets, once per available engine: the demo's `/delay?ms=N&id=X` is
/// answered from a timer thread, while its loop serves others.
@Suite("End to end: late responses", .serialized)
struct LateResponseTests {
    @Test("A deferred response arrives, and the pipelined requests behind it are answered after it, in order",
          arguments: engineNames)
    func pipelinedOrder(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        try client.send("GET /delay?ms=150&id=a HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "GET /delay?ms=5&id=b HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "GET /users/7 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().text == "delayed 150 ms a\n")
        #expect(try client.readResponse().text == "Hello, World!")
        #expect(try client.readResponse().text == "delayed 5 ms b\n")
        #expect(try client.readResponse().text == "user 7\n")
        // The connection goes on as usual.
        #expect(try client.get("/health").text == "ok\n")
    }

    @Test("While one connection waits for its response, the same loop serves others", arguments: engineNames)
    func othersServed(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        let waiting = try server.client()
        try waiting.send("GET /delay?ms=400&id=slow HTTP/1.1\r\nHost: t\r\n\r\n")
        let other = try server.client()
        for i in 0..<5 {
            #expect(try other.get("/users/\(i)").text == "user \(i)\n")
        }
        // Answered after the others (no clock here: the order of events says it).
        #expect(!waiting.receivesAnything(within: 0))
        #expect(try waiting.readResponse().text == "delayed 400 ms slow\n")
    }

    @Test("A late answer for a connection that was reset is dropped, even when its slot holds a new connection",
          arguments: engineNames)
    func staleAnswerIgnored(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        do {
            let gone = try server.client()
            try gone.send("GET /delay?ms=200&id=old HTTP/1.1\r\nHost: t\r\n\r\n")
            // Make sure the request is being waited on before the reset.
            let probe = try server.client()
            #expect(try probe.get("/health").status == 200)
            gone.reset()
        }
        // The same loop's freed slot takes the next connection.
        let fresh = try server.client()
        try fresh.send("GET /delay?ms=500&id=new HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try fresh.readResponse().text == "delayed 500 ms new\n")
        #expect(try fresh.get("/users/1").text == "user 1\n")
        // An engine that watches the socket while it waits sees the reset and
        // frees the slot at once. A connection thread, or a single-shot
        // io_uring loop (no receive is armed while it waits), learns of it
        // only when it writes the answer: nothing stale to drop there.
        if engine != "threads" && engine != "io_uring/single" {
            let metrics = try fresh.get("/metrics").text
            #expect(metrics.contains("switchyard_stale_resumes_total 1\n"))
        }
    }

    @Test("An answer that comes while earlier responses still wait for the socket is kept, and sent after them",
          arguments: engineNames)
    func answerWhileSending(engine: String) throws {
        // A high read-ahead limit, so the deferred request is taken in the same
        // batch as a response far larger than the socket buffers.
        let server = try TestServer(engine: engine) { $0.readAheadLimit = 64 << 20; $0.responseTimeout = 5 }
        let path = "\(server.staticDirectory)/wide.bin"
        let size = 16 << 20
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0 && ftruncate(fd, off_t(size)) == 0)
        close(fd)
        defer { unlink(path) }
        let client = try server.client()
        try client.send("GET /static/wide.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /delay?ms=20&id=after HTTP/1.1\r\nHost: t\r\n\r\n")
        // Not reading yet: the file fills the socket, and the answer comes meanwhile.
        usleep(300_000)
        let file = try client.readResponse()
        #expect(file.body.count == size)
        let late = try client.readResponse()
        #expect(late.status == 200)
        #expect(late.text == "delayed 20 ms after\n")
    }

    @Test("A response that does not come within --response-timeout is answered 504, then the connection closes",
          arguments: engineNames)
    func pendingDeadline(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.responseTimeout = 0.3 }
        let client = try server.client()
        try client.send("GET /delay?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 504)
        #expect(response.header("Connection") == "close")
        #expect(try client.isClosedByServer())
        // The loop goes on serving.
        #expect(try server.client().get("/plaintext").text == "Hello, World!")
    }
}
