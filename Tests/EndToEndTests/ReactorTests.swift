import EngineCore
import Glibc
import Synchronization
import Testing

/// Engines built on event loops (everything but the thread-per-connection baseline).
let reactorEngineNames = engineNames.filter { $0 != "threads" }

@Suite("Reactor engines", .serialized)
struct ReactorTests {
    @Test("2 loops, 200 concurrent keep-alive clients, every response correct",
          arguments: reactorEngineNames, [AcceptPolicy.reusePort, .acceptor, .p2c, .roundRobin, .leastLoaded])
    func manyClients(engine: String, accept: AcceptPolicy) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 2
            $0.acceptPolicy = accept
        }
        let port = server.port
        let failures = Atomic(0)
        concurrently(200) { c in
            do {
                let client = try TestClient(port: port)
                for r in 0..<10 {
                    let id = c * 100 + r
                    if try client.get("/users/\(id)").text != "user \(id)\n" { failures.add(1, ordering: .relaxed) }
                }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        // Both loops took part (reuseport hashing or the acceptor's choice;
        // the address-hashing policies keep one client address on one loop
        // and are tested in DistributionTests).
        let metrics = try server.client().get("/metrics").text
        for loop in ["loop-0", "loop-1"] {
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("switchyard_worker_responses_total{worker=\"\(loop)\"}") }
            let count = line.flatMap { Int($0.split(separator: " ").last!) } ?? 0
            #expect(count > 0, "\(loop) served nothing")
        }
    }

    @Test("Round-robin hand-off spreads connections exactly", arguments: reactorEngineNames)
    func roundRobin(engine: String) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 2
            $0.acceptPolicy = .acceptor
            $0.balance = .roundRobin
        }
        var clients: [TestClient] = []
        for _ in 0..<6 {
            let client = try server.client()
            #expect(try client.get("/health").status == 200)
            clients.append(client)
        }
        let metrics = try clients[0].get("/metrics").text
        #expect(metrics.contains("switchyard_worker_connections_open{worker=\"loop-0\"} 3\n"))
        #expect(metrics.contains("switchyard_worker_connections_open{worker=\"loop-1\"} 3\n"))
    }

    @Test("A client trickling its head is cut off by the head deadline; others are served",
          arguments: reactorEngineNames)
    func headDeadline(engine: String) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 1
            $0.headTimeout = 1
        }
        let slow = try server.client()
        let fast = try server.client()
        let head = Array("GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Padding: \(String(repeating: "p", count: 40))\r\n\r\n".utf8)
        // One byte every 100 ms would take over 7 s; the deadline is 1 s.
        var cutOff = false
        for byte in head {
            do { try slow.send([byte]) } catch { cutOff = true; break }
            #expect(try fast.get("/health").status == 200)
            if slow.receivesAnything(within: 0.1) { cutOff = true; break }
        }
        #expect(cutOff, "the trickling client was never cut off")
        let response = try slow.readResponse()
        #expect(response.status == 408)
        #expect(try slow.isClosedByServer())
        #expect(try fast.get("/plaintext").status == 200)
    }

    @Test("An idle keep-alive connection is closed after the keep-alive timeout", arguments: reactorEngineNames)
    func keepAliveTimeout(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.keepAliveTimeout = 0.3 }
        let client = try server.client()
        #expect(try client.get("/health").status == 200)
        #expect(try client.isClosedByServer())  // blocks until the server closes it (or the 20 s safety net)
    }

    @Test("A pipelined flood is not read without bound: the server pushes back", arguments: reactorEngineNames)
    func pipelinedFlood(engine: String) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 1
            $0.readAheadLimit = 64 * 1024
        }
        let flooder = try server.client()
        // Never read the responses; keep sending until the server stops taking bytes.
        let request = Array("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        let batch = Array([[UInt8]](repeating: request, count: 1000).joined())
        let total = 64 * 1024 * 1024
        var accepted = 0
        _ = fcntl(flooder.fd, F_SETFL, fcntl(flooder.fd, F_GETFL) | O_NONBLOCK)
        var stalls = 0
        while accepted < total && stalls < 20 {
            let n = batch.withUnsafeBytes { send(flooder.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                accepted += n
                stalls = 0
            } else {
                stalls += 1
                usleep(20_000)
            }
        }
        #expect(accepted < total, "the server read \(accepted) bytes without pushing back")
        // The server itself holds at most the read-ahead bound plus one read.
        let metrics = try server.client().get("/metrics").text
        let received = metrics.split(separator: "\n").first { $0.hasPrefix("switchyard_bytes_received_total ") }
            .flatMap { Int($0.split(separator: " ").last!) } ?? -1
        #expect(received > 0 && received < accepted)
        #expect(try server.client().get("/health").status == 200)
    }

    @Test("Beyond --shed-above, new connections get 503 with Retry-After", arguments: reactorEngineNames)
    func loadShedding(engine: String) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 1
            $0.shedAbove = 2
        }
        let a = try server.client()
        let b = try server.client()
        #expect(try a.get("/health").status == 200)
        #expect(try b.get("/health").status == 200)
        let c = try server.client()
        try? c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let refused = try c.readResponse()
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") == "1")
        #expect(refused.header("Connection") == "close")
        a.shutdownWrite()
        #expect(try a.isClosedByServer())
        // Room again: a new connection is served.
        #expect(try server.client().get("/health").status == 200)
    }

    @Test("Idle keep-alive connections hold no pooled buffer (single-shot io_uring: one each, by design)",
          arguments: reactorEngineNames)
    func idleConnectionsReleaseBuffers(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        var idle: [TestClient] = []
        for _ in 0..<8 {
            let client = try server.client()
            #expect(try client.get("/plaintext").status == 200)
            idle.append(client)
        }
        // Read while serving /metrics: only that connection holds buffers
        // (input and field slots; its output is taken after the snapshot).
        let text = try server.client().get("/metrics").text
        let inUse = text.split(separator: "\n").first { $0.hasPrefix("switchyard_pool_buffers_in_use ") }
            .flatMap { Int($0.split(separator: " ").last!) } ?? -1
        if engine == "io_uring/single" {
            // By design: a single-shot receive waits in the session's own
            // buffer, which the kernel owns until it completes, so each idle
            // connection holds its input buffer and field slots (2 each).
            #expect(inUse >= 16, "\(inUse) buffers lent with 8 idle connections waiting in single-shot receives")
        } else {
            #expect(inUse >= 0 && inUse <= 3, "\(inUse) buffers lent with 8 idle connections")
        }
        #expect(text.contains("switchyard_pool_misses_total"))
        withExtendedLifetime(idle) {}
    }

    @Test("epoll gives an idle connection's buffers back a turn later, even if no other event comes")
    func quietLoopReleasesBuffers() throws {
        let server = try TestServer(engine: "epoll") { $0.threads = 1 }
        let client = try server.client()
        #expect(try client.get("/plaintext").status == 200)
        // No event reaches the loop now but its own wake-up for the release.
        var inUse = -1
        for _ in 0..<100 {
            usleep(20_000)
            let text = server.metrics.prometheusText()
            inUse = text.split(separator: "\n").first { $0.hasPrefix("switchyard_pool_buffers_in_use ") }
                .flatMap { Int($0.split(separator: " ").last!) } ?? -1
            if inUse == 0 { break }
        }
        #expect(inUse == 0, "\(inUse) buffers still lent to one idle connection")
        withExtendedLifetime(client) {}
    }

    @Test("Stopping under load loses no response in flight", arguments: reactorEngineNames)
    func stopUnderLoad(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 2 }
        let port = server.port
        let engine = server.engine
        let truncated = Atomic(0)
        let completed = Atomic(0)
        concurrently(21) { c in
            if c == 20 {
                usleep(200_000)
                engine.stop()
                return
            }
            guard let client = try? TestClient(port: port) else { return }
            while true {
                do {
                    try client.send("GET /users/\(c) HTTP/1.1\r\nHost: t\r\n\r\n")
                    let response = try client.readResponse()
                    guard response.text == "user \(c)\n" else { truncated.add(1, ordering: .relaxed); return }
                    completed.add(1, ordering: .relaxed)
                    if response.header("Connection") == "close" { return }
                } catch let failure as TestClient.Failure {
                    // A clean close between responses is fine; bytes of a
                    // response followed by a close are a lost response.
                    if !failure.description.contains("(0 bytes") && !failure.description.hasPrefix("send") {
                        truncated.add(1, ordering: .relaxed)
                    }
                    return
                } catch {
                    return
                }
            }
        }
        server.engine.waitUntilStopped()
        #expect(truncated.load(ordering: .relaxed) == 0)
        #expect(completed.load(ordering: .relaxed) > 0)
    }
}
