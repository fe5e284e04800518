import Glibc
import Synchronization
import Testing

/// Connection management over real sockets, once per available engine.
@Suite("End to end: connections", .serialized)
struct ConnectionTests {
    @Test("Keep-alive: many requests on one connection", arguments: engineNames)
    func keepAlive(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        for i in 0..<20 {
            #expect(try client.get("/users/\(i)").text == "user \(i)\n")
        }
    }

    @Test("Pipelining: 32 requests in one write, answered in order", arguments: engineNames)
    func pipelining(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        var batch = ""
        for i in 0..<32 { batch += "GET /users/\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
        try client.send(batch)
        for i in 0..<32 {
            #expect(try client.readResponse().text == "user \(i)\n")
        }
    }

    @Test("Connection: close is honoured and nothing after it is processed", arguments: engineNames)
    func connectionClose(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        try client.send("GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.header("Connection") == "close")
        #expect(try client.isClosedByServer())
    }

    @Test("HTTP/1.0: closes by default, keeps alive on request", arguments: engineNames)
    func http10(engine: String) throws {
        let server = try TestServer(engine: engine)
        let once = try server.client()
        try once.send("GET /plaintext HTTP/1.0\r\n\r\n")
        #expect(try once.readResponse().status == 200)
        #expect(try once.isClosedByServer())
        let kept = try server.client()
        try kept.send("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try kept.readResponse()
        #expect(first.header("Connection") == "keep-alive")
        try kept.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try kept.readResponse().text == "ok\n")
    }

    @Test("A malformed request gets 400 and the connection closes", arguments: engineNames)
    func badRequest(engine: String) throws {
        let server = try TestServer(engine: engine)
        for bad in ["GET / HTTP/1.1\r\n\r\n",                                      // no Host
                    "GET /plaintext HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",   // space in name
                    "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"] {
            let client = try server.client()
            try client.send(bad)
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.header("Connection") == "close")
            #expect(try client.isClosedByServer())
        }
        let client = try server.client()
        try client.send("GET / HTTP/2.0\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 505)
        let another = try server.client()
        try another.send("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try another.readResponse().status == 501)
    }

    @Test("A client that hangs up mid-request does not disturb others", arguments: engineNames)
    func abruptClose(engine: String) throws {
        let server = try TestServer(engine: engine)
        for _ in 0..<10 {
            let rude = try server.client()
            try rude.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial")
        }
        #expect(try server.client().get("/health").status == 200)
    }

    @Test("Concurrent clients: 16 connections x 50 requests, all correct", arguments: engineNames)
    func concurrentClients(engine: String) throws {
        let server = try TestServer(engine: engine)
        let failures = Atomic(0)
        let port = server.port
        concurrently(16) { c in
            do {
                let client = try TestClient(port: port)
                for r in 0..<50 {
                    let id = c * 1000 + r
                    if try client.get("/users/\(id)").text != "user \(id)\n" { failures.add(1, ordering: .relaxed) }
                }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test("The connection cap holds, then the server recovers", arguments: engineNames)
    func connectionCap(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.maxConnections = 2 }
        var first: TestClient? = try server.client()
        let second = try server.client()
        #expect(try first!.get("/health").status == 200)
        #expect(try second.get("/health").status == 200)
        // The third connection completes in the kernel's backlog; its request
        // is served once a slot frees up.
        let third = try server.client()
        try third.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(!third.receivesAnything(within: 0.3), "a third connection was served past the cap of 2")
        first = nil  // closes the first connection
        #expect(try third.readResponse().status == 200)
        #expect(try second.get("/plaintext").status == 200)
    }

    @Test("Graceful stop: in-flight response completes, idle connections close", arguments: engineNames)
    func gracefulStop(engine: String) throws {
        let server = try TestServer(engine: engine)
        let idle = try server.client()
        #expect(try idle.get("/health").status == 200)
        let busy = try server.client()
        try busy.send("GET /work?us=300000 HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(50_000)  // let the request reach the handler (ordering only, not a measurement)
        server.engine.stop()
        let response = try busy.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "worked 300000 us\n")
        #expect(try busy.isClosedByServer())
        #expect(try idle.isClosedByServer())
        server.engine.waitUntilStopped()
        #expect(throws: (any Error).self) { try TestClient(port: server.port, timeout: 2) }
    }

    @Test("A client that shuts its sending side after pipelining still gets every response, then the close",
          arguments: engineNames)
    func halfClose(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        try client.send((0..<16).map { "GET /users/\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        client.shutdownWrite()
        for i in 0..<16 { #expect(try client.readResponse().text == "user \(i)\n") }
        #expect(try client.isClosedByServer())
    }
}

@Suite("End to end: per-address connection limit", .serialized)
struct AddressLimitTests {
    @Test("Past --max-connections-per-address a client gets 429 with Retry-After, then close; room again after one closes",
          arguments: engineNames)
    func perAddressLimit(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.maxConnectionsPerAddress = 2 }
        var first: TestClient? = try server.client()
        let second = try server.client()
        #expect(try first!.get("/health").status == 200)
        #expect(try second.get("/health").status == 200)
        let third = try server.client()
        try? third.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let refused = try third.readResponse()
        #expect(refused.status == 429)
        #expect(refused.header("Retry-After") == "1")
        #expect(refused.header("Connection") == "close")
        #expect(try third.isClosedByServer())
        first!.shutdownWrite()
        #expect(try first!.isClosedByServer())
        first = nil
        // The count follows closes; the server notices the close before a
        // new connection is admitted only once it has read the end of stream.
        var served = false
        for _ in 0..<50 where !served {
            let next = try server.client()
            try? next.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            served = (try? next.readResponse().status) == 200
            if !served { usleep(20_000) }
        }
        #expect(served)
        #expect(server.metrics.prometheusText().contains("switchyard_http_responses_total{status=\"429\"}"))
    }
}
