import Glibc
import Synchronization
import Testing

/// A graceful stop loses nothing a client sent: every request that reached
/// the server before or during the drain gets an answer (the last one with
/// `Connection: close`), and only connections with nothing pending close.
@Suite("End to end: lossless drain", .serialized)
struct DrainTests {
    /// What a back-to-back keep-alive client saw across the stop.
    struct Tally: Sendable {
        var sent = 0
        var answered = 0
        /// The client's last response said `Connection: close`, then the server closed.
        var closedCleanly = false
    }

    @Test("Clients sending back to back across a stop: every request sent is answered", arguments: engineNames)
    func sentEqualsAnswered(engine: String) throws {
        let server = try TestServer(engine: engine)
        let clients = 32
        let answered = Atomic(0)
        let tallies = Mutex([Tally](repeating: Tally(), count: clients))
        let port = server.port
        let engine = server.engine
        concurrently(clients + 1) { index in
            if index == clients {
                // Stop once the clients are well into their run (an order, not a time).
                while answered.load(ordering: .relaxed) < clients * 50 { usleep(1_000) }
                engine.stop()
                return
            }
            var tally = Tally()
            defer { tallies.withLock { $0[index] = tally } }
            guard let client = try? TestClient(port: port) else { return }
            while true {
                guard (try? client.send("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")) != nil else { return }
                tally.sent += 1
                guard let response = try? client.readResponse() else { return }
                tally.answered += 1
                answered.add(1, ordering: .relaxed)
                if response.header("Connection") == "close" {
                    tally.closedCleanly = (try? client.isClosedByServer()) == true
                    return
                }
            }
        }
        server.engine.waitUntilStopped()
        let all = tallies.withLock { $0 }
        let sent = all.reduce(0) { $0 + $1.sent }, got = all.reduce(0) { $0 + $1.answered }
        #expect(sent == got, "\(sent - got) of \(sent) requests sent were never answered")
        #expect(all.filter { !$0.closedCleanly }.count == 0, "connections closed without a Connection: close response")
    }
}
