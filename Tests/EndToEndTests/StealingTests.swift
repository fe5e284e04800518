import EngineCore
import Glibc
import Testing

/// Work stealing's reason to exist, over real sockets: a request that keeps
/// its worker busy must not hold up another connection while a second
/// worker is idle, even when both connections have the same home.
let stealingEngineNames = engineNames.filter { $0.hasPrefix("stealing") }

@Suite("Work stealing")
struct StealingTests {
    @Test("A slow request does not delay fast requests of another connection with the same home while a worker is idle",
          arguments: stealingEngineNames)
    func slowRequestDoesNotBlockItsNeighbours(engine: String) throws {
        // The acceptor hands connections out in turn: 0 → worker 0,
        // 1 → worker 1, 2 → worker 0, so `slow` and `fast` share a home.
        let server = try TestServer(engine: engine) {
            $0.threads = 2
            $0.acceptPolicy = .acceptor
            $0.balance = .roundRobin
        }
        let clients = try (0..<3).map { _ in try server.client() }
        for client in clients { #expect(try client.get("/plaintext").status == 200) }  // all accepted and homed
        let slow = clients[0]
        let fast = clients[2]
        try slow.send("GET /work?us=1000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        // Fast requests, one at a time, until the slow answer is there: if
        // they queued behind the slow one, at most the few served before it
        // started would complete first.
        var completedBeforeSlow = 0
        while !slow.receivesAnything(within: 0) && completedBeforeSlow < 200 {
            #expect(try fast.get("/plaintext").status == 200)
            completedBeforeSlow += 1
        }
        #expect(completedBeforeSlow >= 50, "\(engine): only \(completedBeforeSlow) fast responses came before the slow one")
        #expect(try slow.readResponse().status == 200)
    }
}
