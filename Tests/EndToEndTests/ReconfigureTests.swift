import EngineCore
import Glibc
import Testing

/// What a reload applies to a running engine (`Engine.reconfigure`) takes
/// effect without a restart, in every engine that has the setting.
@Suite("End to end: live reconfiguration", .serialized)
struct ReconfigureTests {
    @Test("Shedding switched on while serving: the next connection past the new limit gets 503",
          arguments: reactorEngineNames)
    func shedAboveApplies(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        let a = try server.client()
        #expect(try a.get("/health").status == 200)
        var live = LiveSettings(EngineConfiguration())
        live.shedAbove = 1
        server.engine.reconfigure(live)
        let b = try server.client()
        try? b.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try b.readResponse().status == 503)
        live.shedAbove = 0
        server.engine.reconfigure(live)
        #expect(try server.client().get("/health").status == 200)
        withExtendedLifetime(a) {}
    }

    @Test("Request limits changed while serving apply to connections accepted afterwards", arguments: engineNames)
    func limitsApplyToNewConnections(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        let before = try server.client()
        #expect(try before.get("/health").status == 200)
        var configuration = EngineConfiguration()
        configuration.limits.maxBodyBytes = 4
        server.engine.reconfigure(LiveSettings(configuration))
        let after = try server.client()
        try after.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
        #expect(try after.readResponse().status == 413)
        // The connection accepted before keeps the limits it was accepted with.
        try before.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
        #expect(try before.readResponse().text == "0123456789")
    }

    @Test("A shorter keep-alive timeout set while serving closes an idle connection", arguments: reactorEngineNames)
    func keepAliveApplies(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        var live = LiveSettings(EngineConfiguration())
        live.keepAliveTimeout = 0.2
        server.engine.reconfigure(live)
        let client = try server.client()
        #expect(try client.get("/health").status == 200)
        // Closed by the server long before the default 60 s (the client's
        // 20 s read timeout would fail the check instead).
        #expect(try client.isClosedByServer())
    }

    @Test("threads: a new receive timeout applies to connections accepted after it")
    func threadsReadTimeoutApplies() throws {
        let server = try TestServer(engine: "threads")
        var live = LiveSettings(EngineConfiguration())
        live.readTimeout = 0.2
        server.engine.reconfigure(live)
        let client = try server.client()
        #expect(try client.get("/health").status == 200)
        #expect(try client.isClosedByServer())
    }
}
