import FoundationEssentials
import Testing
@testable import LoadGen

/// End-to-end runs against `TestServer`. Durations are short, and no test
/// asserts how fast anything is: only counts, and latency lower bounds that
/// follow from the server's deliberate stall.
@Suite(.serialized) struct LoadGeneratorTests {
    @Test func closedLoopGetsAll200s() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1), ("/chunked", 1)])
        configuration.connections = 8
        configuration.pipeline = 4
        configuration.duration = 0.5
        configuration.threads = 2
        let report = try LoadGenerator.run(configuration)
        #expect(report.requests > 0)
        #expect(report.responses2xx == report.requests)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.latency.count == report.requests)
        #expect(report.bytesReceived > 0)
        #expect(report.timeline.count == 1)
        #expect(report.timeline.map(\.requests).reduce(0, +) == report.requests)
        // The server saw at least what we counted (some were in flight at the end).
        #expect(server.paths.values.reduce(0, +) >= report.requests)
    }

    @Test func localhostAndWarmupWork() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "localhost", port: server.port, mix: [("/", 1)])
        configuration.connections = 2
        configuration.duration = 0.3
        configuration.warmup = 0.2
        let report = try LoadGenerator.run(configuration)
        #expect(report.responses2xx > 0)
        // Warm-up responses are not counted: the server saw more than we report.
        #expect(server.paths["/", default: 0] > report.requests)
        #expect(report.elapsed >= 0.3)
    }

    @Test func non2xxIsCountedAsAnError() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1), ("/missing", 1)])
        configuration.connections = 2
        configuration.duration = 0.3
        let report = try LoadGenerator.run(configuration)
        #expect(report.responses2xx > 0)
        #expect(report.errors[.non2xx, default: 0] == report.requests - report.responses2xx)
        #expect(report.errors[.non2xx, default: 0] > 0)
    }

    /// The classic coordinated-omission demonstration. The server holds every
    /// response for `stall` seconds once. In open loop each request's clock
    /// starts at its intended send time, so requests intended during the stall
    /// wait too: the one intended at most 1/rate after the stall began waits at
    /// least stall − 1/rate, the next one stall − 2/rate, the third stall −
    /// 3/rate. The p99 of the run's ~240 samples is its third largest (two lie
    /// above the 99th percentile's rank), so its bound is stall − 3/rate.
    /// Those are lower bounds from correct accounting, not claims about our speed.
    @Test(arguments: [Arrivals.constant, .poisson])
    func openLoopSeesTheStall(arrivals: Arrivals) throws {
        let server = try TestServer()
        defer { server.stop() }
        let stall = 0.3
        let rate = 200.0
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1)])
        configuration.connections = 4
        configuration.duration = 1.2
        configuration.rate = rate
        configuration.arrivals = arrivals
        server.stall(after: 0.3, for: stall)
        let report = try LoadGenerator.run(configuration)
        let stallMicros = Int(stall * 1e6)
        #expect(report.errors.isEmpty, "\(report.errors)")
        if arrivals == .constant {
            #expect(report.latency.max >= stallMicros - Int(1e6 / rate))
            #expect(report.latency.p99 >= stallMicros - Int(3e6 / rate))
        } else {
            // Poisson gaps are random: the first arrival after the stall
            // begins comes within stall/4 unless the process is silent for
            // 75 ms at 200/s (probability e^-15), so max ≥ 3/4 of the stall;
            // likewise two arrivals land in its first half (p99 of ~240).
            #expect(report.latency.max >= stallMicros * 3 / 4)
            #expect(report.latency.p99 >= stallMicros / 2)
        }
        // Every intended request is answered: ~rate × duration.
        #expect(report.requests > Int(rate * configuration.duration * 0.5))
    }

    /// Closed loop against the same stall: only the `connections` requests
    /// caught in it are slow, among thousands, so p99 stays far below the
    /// open loop's. Robust because the slow ones are < 1% whenever the server
    /// answers more than 100 × connections requests outside the stall.
    @Test func closedLoopHidesTheStall() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1)])
        configuration.connections = 4
        configuration.duration = 1.2
        server.stall(after: 0.3, for: 0.3)
        let closed = try LoadGenerator.run(configuration)
        try #require(closed.requests > 100 * configuration.connections, "too slow a machine for this demonstration")
        #expect(closed.latency.max >= 250_000)

        configuration.rate = 200
        server.stall(after: 0.3, for: 0.3)
        let open = try LoadGenerator.run(configuration)
        #expect(closed.latency.p99 < open.latency.p99)
    }

    @Test func refusedPortThrowsConnectError() throws {
        let port = try TestServer.freePort()
        var configuration = LoadConfiguration(host: "127.0.0.1", port: port, mix: [("/", 1)])
        configuration.connections = 4
        configuration.duration = 0.3
        do {
            _ = try LoadGenerator.run(configuration)
            Issue.record("expected a LoadError")
        } catch {
            #expect(error.description.contains("connect error"), "\(error)")
            #expect(error.description.contains("refused"), "\(error)")
            #expect(error.description.contains("127.0.0.1:\(port)"), "\(error)")
        }
    }

    @Test func unresolvableHostThrows() {
        var configuration = LoadConfiguration(host: "no-such-host.invalid", port: 80, mix: [("/", 1)])
        configuration.duration = 0.1
        #expect(throws: LoadError.self) { try LoadGenerator.run(configuration) }
    }

    @Test func invalidConfigurationThrows() {
        var configuration = LoadConfiguration(host: "127.0.0.1", port: 80, mix: [])
        #expect(throws: LoadError.self) { try LoadGenerator.run(configuration) }
        configuration.mix = [("/", 0)]
        #expect(throws: LoadError.self) { try LoadGenerator.run(configuration) }
        configuration.mix = [("/", 1)]
        configuration.pipeline = 0
        #expect(throws: LoadError.self) { try LoadGenerator.run(configuration) }
    }

    @Test func garbageCountsMalformedAndReconnects() throws {
        let server = try TestServer(mode: .garbageEvery(5))
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1)])
        configuration.connections = 4
        configuration.duration = 0.5
        let report = try LoadGenerator.run(configuration)
        #expect(report.errors[.malformed, default: 0] > 0)
        // Reconnects keep it going: far more good responses than connections.
        #expect(report.responses2xx > configuration.connections)
    }

    @Test func sourceAddressesMakeManyClients() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1)])
        configuration.connections = 6
        configuration.threads = 2
        configuration.duration = 0.3
        configuration.sourceAddresses = 3
        let report = try LoadGenerator.run(configuration)
        #expect(report.errors.isEmpty, "\(report.errors)")
        // Connection i from 127.0.0.(1 + i % 3), over both threads.
        #expect(Set(server.byAddress.keys) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
        configuration.host = "::1"
        #expect(throws: LoadError.self) { try LoadGenerator.run(configuration) }  // not an IPv4 loopback target
    }

    @Test func skewSendsMostRequestsOverTheHotConnections() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1)])
        configuration.connections = 20
        configuration.duration = 0.5
        configuration.rate = 2000
        // Room for several requests in flight, so a hot connection is rarely
        // too busy to take its share (a request then goes to any free one).
        configuration.pipeline = 8
        configuration.skew = Skew(hotConnections: 0.1, hotShare: 0.9)
        let report = try LoadGenerator.run(configuration)
        try #require(report.requests >= 500, "only \(report.requests) requests")
        // Two of twenty connections carry about 90% of the requests.
        let counts = server.byConnection.values.sorted(by: >)
        let hot = Double(counts.prefix(2).reduce(0, +)) / Double(counts.reduce(0, +))
        #expect(hot > 0.75 && hot < 0.97, "the two busiest connections carried \(hot) of the requests: \(counts)")
        configuration.rate = nil
        #expect(throws: LoadError.self) { try LoadGenerator.run(configuration) }  // skew needs an open loop
    }

    @Test func mixWeightsAreRespected() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/a", 3), ("/b", 1)])
        configuration.connections = 4
        configuration.duration = 0.5
        configuration.seed = 42
        _ = try LoadGenerator.run(configuration)
        let a = server.paths["/a", default: 0]
        let b = server.paths["/b", default: 0]
        try #require(a + b >= 400, "only \(a + b) requests")
        let ratio = Double(a) / Double(max(b, 1))
        #expect(ratio > 2 && ratio < 4, "a=\(a) b=\(b)")
    }

    @Test func eachMixEntryHasItsOwnHistogram() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 9), ("/slow", 1)])
        configuration.connections = 4
        configuration.duration = 1
        let report = try LoadGenerator.run(configuration)
        try #require(report.classes.count == 2)
        #expect(report.classes.map(\.path) == ["/", "/slow"])
        #expect(report.classes[0].latency.count + report.classes[1].latency.count == report.latency.count)
        #expect(report.classes[1].latency.count > 0)
        // The server sleeps 20 ms on /slow, by construction.
        #expect(report.classes[1].latency.p50 >= 20_000)
        #expect(report.classes[0].latency.p50 < report.classes[1].latency.p50)
        #expect(report.text().contains("/slow (weight 1.000)"))
    }

    @Test func starvedConnectionsAndUnansweredRequestsAreReported() throws {
        // 6 clients, a server that serves 2: the other 4 connect (the kernel's
        // backlog accepts them), send, and never hear back.
        let server = try TestServer(mode: .acceptAtMost(2))
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1)])
        configuration.connections = 6
        configuration.duration = 0.5
        configuration.timeout = 10
        let report = try LoadGenerator.run(configuration)
        #expect(report.silentConnections == 4)
        #expect(report.outstanding >= 4)
        #expect(report.text().contains("4 connections never got a response"))
    }

    @Test func anOpenLoopThatCannotKeepItsScheduleIsFlagged() throws {
        // One connection, 20 ms per request, 200 requests/s offered: most
        // sends wait for the connection, long past their intended time.
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/slow", 1)])
        configuration.connections = 1
        configuration.duration = 1
        configuration.rate = 200
        let report = try LoadGenerator.run(configuration)
        let schedule = try #require(report.schedule)
        #expect(schedule.sent > 0)
        #expect(schedule.late > schedule.sent / 2)
        #expect(!schedule.isKept)
        #expect(report.text().contains("Warning: under 95% of sends kept the schedule"))
        #expect(report.json().contains("\"kept\": false"))
    }

    @Test func reportsRenderAndJSONParses() throws {
        let server = try TestServer()
        defer { server.stop() }
        var configuration = LoadConfiguration(host: "127.0.0.1", port: server.port, mix: [("/", 1), ("/missing", 1)])
        configuration.connections = 2
        configuration.duration = 1.5
        let report = try LoadGenerator.run(configuration)

        struct Decoded: Decodable {
            struct Latency: Decodable { var p50, p90, p99, p999, max, count: Int; var mean: Double }
            struct Sample: Decodable { var second, requests, p99, errors: Int }
            var requests, responses2xx, bytesReceived: Int
            var elapsed, requestsPerSecond, bytesPerSecond: Double
            var latencyMicroseconds: Latency
            var errors: [String: Int]
            var timeline: [Sample]
            struct Class: Decodable { var path: String; var weight: Double; var latencyMicroseconds: Latency }
            var classes: [Class]
            var outstanding, silentConnections: Int
        }
        let decoded = try JSONDecoder().decode(Decoded.self, from: Data(report.json().utf8))
        #expect(decoded.requests == report.requests)
        #expect(decoded.responses2xx == report.responses2xx)
        #expect(decoded.latencyMicroseconds.p99 == report.latency.p99)
        #expect(decoded.errors["non2xx"] == report.errors[.non2xx])
        #expect(Set(decoded.errors.keys) == Set(ErrorKind.allCases.map(\.rawValue)))
        #expect(decoded.timeline.count == 2)
        #expect(decoded.classes.map(\.path) == ["/", "/missing"])
        #expect(decoded.classes[1].latencyMicroseconds.count == report.classes[1].latency.count)

        let text = report.text()
        #expect(text.contains("Requests/sec"))
        #expect(text.contains("Non-2xx"))
    }

    @Test func errorKindIndexMatchesAllCases() {
        #expect(ErrorKind.allCases.map(\.index) == Array(ErrorKind.allCases.indices))
    }

    @Test func formatting() {
        #expect(LoadReport.fixed(1.005, 2) == "1.00" || LoadReport.fixed(1.005, 2) == "1.01")
        #expect(LoadReport.fixed(12.5, 1) == "12.5")
        #expect(LoadReport.fixed(-0.25, 2) == "-0.25")
        #expect(LoadReport.time(999) == "999us")
        #expect(LoadReport.time(1500) == "1.50ms")
        #expect(LoadReport.time(2_000_000) == "2.00s")
        #expect(LoadReport.bytes(2048) == "2.00KB")
        #expect(SocketAddress.resolve("127.0.0.1", port: 80)?.description == "127.0.0.1:80")
        #expect(SocketAddress.resolve("localhost", port: 8080)?.description == "127.0.0.1:8080")
        #expect(SocketAddress.resolve("::1", port: 443)?.description == "[::1]:443")
        #expect(SocketAddress.resolve("[::1]", port: 443)?.description == "[::1]:443", "brackets as in a URL")
    }
}
