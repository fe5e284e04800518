import Application
import EngineCore
import EventLoopCore
import HTTP1
import LoadGen
import LoopRuntime
import Metrics
import Testing

/// The queueing-delay overload controller: under a standing queue it sheds
/// the low class with 503 and keeps serving the others; critical is never
/// shed; switched off, nothing is.
@Suite("End to end: overload control", .serialized)
struct OverloadTests {
    /// A closed loop of 16 clients that always have a request waiting keeps
    /// the loop's queue standing: a turn serves each once (mostly
    /// `/work?us=1000`, about 12 ms of work), and by its end every client has
    /// sent its next request, so no wait finds the loop idle.
    func saturate(_ server: TestServer) throws -> LoadReport {
        var load = LoadConfiguration(host: "127.0.0.1", port: server.port,
                                     mix: [("/work?us=1000", 6), ("/plaintext", 1), ("/health", 1)])
        load.connections = 16
        load.duration = 1
        return try LoadGenerator.run(load)
    }

    @Test("Controller on, saturated: low requests get 503, normal and critical never (normal target far above)",
          arguments: reactorEngineNames)
    func shedsLowFirst(engine: String) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 1
            $0.overload.enabled = true
            $0.overload.targetMicros = 1_000
            $0.overload.intervalMicros = 20_000
            $0.overload.normalTargetMicros = 10_000_000
        }
        defer { server.stop() }
        let report = try saturate(server)
        let totals = server.metrics.totals()
        #expect(totals.shed(priority: PriorityClass.low.rawValue) > 0)
        #expect(totals.shed(priority: PriorityClass.normal.rawValue) == 0)
        #expect(totals.shed(priority: PriorityClass.critical.rawValue) == 0)
        #expect(totals.overloadEpisodes >= 1)
        // Every 503 is a shed one, and the client saw each of them.
        let served503 = totals.responsesByStatus.first { $0.status == 503 }?.count ?? 0
        #expect(served503 == totals.shed(priority: PriorityClass.low.rawValue))
        #expect(report.errors[.non2xx, default: 0] > 0)
        // The shed answers keep the connection: none was reset or reopened.
        #expect(report.errors[.reset, default: 0] == 0)
        #expect(report.responses2xx > 0)
    }

    @Test("Controller on with the normal target at the low one: normal is shed too, critical never",
          arguments: reactorEngineNames)
    func criticalNeverShed(engine: String) throws {
        let server = try TestServer(engine: engine) {
            $0.threads = 1
            $0.overload.enabled = true
            $0.overload.targetMicros = 1_000
            $0.overload.intervalMicros = 20_000
            $0.overload.normalTargetMicros = 1_000
        }
        defer { server.stop() }
        _ = try saturate(server)
        let totals = server.metrics.totals()
        #expect(totals.shed(priority: PriorityClass.low.rawValue) > 0)
        #expect(totals.shed(priority: PriorityClass.normal.rawValue) > 0)
        #expect(totals.shed(priority: PriorityClass.critical.rawValue) == 0)
        let text = server.metrics.prometheusText()
        #expect(text.contains("switchyard_overload_shed_total{class=\"critical\"} 0"))
        #expect(text.contains("switchyard_loop_queue_delay_seconds{worker="))
    }

    @Test("Controller off, saturated: nothing is shed", arguments: reactorEngineNames)
    func offShedsNothing(engine: String) throws {
        let server = try TestServer(engine: engine) { $0.threads = 1 }
        defer { server.stop() }
        let report = try saturate(server)
        let totals = server.metrics.totals()
        #expect((0..<3).allSatisfy { totals.shed(priority: $0) == 0 })
        #expect(totals.responsesByStatus.allSatisfy { $0.status != 503 })
        #expect(report.errors[.non2xx, default: 0] == 0)
        // The loop measured the queue it did not act on.
        let latency = server.metrics.latencyTotals()
        #expect(latency.total(.queueDelay, priority: PriorityClass.low.rawValue) > 0)
        #expect(latency.total(.requestDuration, priority: PriorityClass.critical.rawValue) > 0)
    }
}

@Suite("Overload controller (CoDel state machine)")
struct OverloadControllerTests {
    func controller(enabled: Bool = true) -> OverloadController {
        var settings = OverloadSettings()
        settings.enabled = enabled
        settings.targetMicros = 5_000
        settings.intervalMicros = 100_000
        settings.normalTargetMicros = 50_000
        return OverloadController(settings: settings)
    }

    @Test("A burst shorter than the interval is not overload; a delay above target for a whole interval is")
    func standingQueue() {
        var c = controller()
        var began: Bool
        began = c.observe(queueDelay: 20_000, at: 0)
        #expect(!began)
        began = c.observe(queueDelay: 20_000, at: 50_000)
        #expect(!began)
        began = c.observe(queueDelay: 1_000, at: 60_000)
        #expect(!began)  // the queue emptied: the clock restarts
        began = c.observe(queueDelay: 20_000, at: 70_000)
        #expect(!began)
        #expect(!c.overloaded)
        began = c.observe(queueDelay: 20_000, at: 170_000)
        #expect(began)
        #expect(c.overloaded)
    }

    @Test("Recovery needs the delay at or below target for a whole interval")
    func recovery() {
        var c = controller()
        _ = c.observe(queueDelay: 20_000, at: 0)
        _ = c.observe(queueDelay: 20_000, at: 100_000)
        #expect(c.overloaded)
        _ = c.observe(queueDelay: 1_000, at: 110_000)
        _ = c.observe(queueDelay: 20_000, at: 150_000)  // shedding turns alternate: still overloaded
        _ = c.observe(queueDelay: 1_000, at: 160_000)
        _ = c.observe(queueDelay: 1_000, at: 250_000)
        #expect(c.overloaded)
        _ = c.observe(queueDelay: 1_000, at: 260_000)
        #expect(!c.overloaded)
    }

    @Test("Off: never overloaded")
    func off() {
        var c = controller(enabled: false)
        for t in stride(from: 0, to: 1_000_000, by: 10_000) { _ = c.observe(queueDelay: 1_000_000, at: t) }
        #expect(!c.overloaded)
    }
}

@Suite("Overload gate")
struct OverloadGateTests {
    @Test("Overloaded: a class is shed once its deadline has passed; critical never; not overloaded: nothing")
    func deadlines() {
        var gate = OverloadGate()
        gate.lowDeadline = 0
        gate.normalDeadline = Int.max
        #expect(!gate.sheds(.low))  // not overloaded
        gate.overloaded = true
        #expect(gate.sheds(.low) && !gate.sheds(.normal) && !gate.sheds(.critical))
        gate.normalDeadline = 0
        #expect(gate.sheds(.normal) && !gate.sheds(.critical))
    }
}

@Suite("Priority rules")
struct PriorityRuleTests {
    @Test("Defaults: health and metrics critical, work low, the rest normal; later rules win; prefixes")
    func classes() throws {
        let rules = try PriorityRules.defaults(overriddenBy: "/static/*=low, /work=normal")
        #expect(rules.priority(of: "/health") == .critical)
        #expect(rules.priority(of: "/metrics") == .critical)
        #expect(rules.priority(of: "/work") == .normal)
        #expect(rules.priority(of: "/static/*path") == .low)
        #expect(rules.priority(of: "/plaintext") == .normal)
        #expect(rules.unmatched(by: ["/health", "/metrics", "/work", "/static/*path"]).isEmpty)
        #expect(rules.unmatched(by: ["/health"]).map(\.pattern) == ["/metrics", "/work", "/static/*", "/work"])
    }

    @Test("Malformed rules are refused with what is allowed", arguments: ["/work", "/work=urgent", "work=low"])
    func refused(text: String) {
        #expect(throws: PriorityRuleError.self) { try PriorityRules.parse(text) }
    }

    @Test("The application stores each route's class at registration")
    func application() throws {
        var demo = DemoConfiguration()
        demo.priorities = try PriorityRules.defaults(overriddenBy: "/json=low")
        let app = try Application.demo(demo, metrics: MetricsRegistry())
        let classes = Dictionary(app.routePriorities.map { ($0.pattern, $0.priority) }, uniquingKeysWith: { a, _ in a })
        #expect(classes["/json"] == .low && classes["/health"] == .critical && classes["/plaintext"] == .normal)
    }
}
