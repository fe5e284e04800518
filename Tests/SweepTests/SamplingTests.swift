@testable import Experiments
import Glibc
@testable import Sweep
import Testing
import Topology

@Suite struct MetricsSnapshotTests {
    static let before = """
        # HELP switchyard_http_responses_total Responses sent, by status code.
        # TYPE switchyard_http_responses_total counter
        switchyard_http_responses_total{status="200"} 100
        # TYPE switchyard_connections_open gauge
        switchyard_connections_open 3
        # TYPE switchyard_info gauge
        switchyard_info{engine="epoll",note="a b"} 1
        """
    static let after = """
        # TYPE switchyard_http_responses_total counter
        switchyard_http_responses_total{status="200"} 1100
        switchyard_http_responses_total{status="404"} 7
        # TYPE switchyard_connections_open gauge
        switchyard_connections_open 5
        not a sample line
        # TYPE switchyard_info gauge
        switchyard_info{engine="epoll",note="a b"} 1
        """

    @Test func countersBecomeDifferencesAndGaugesKeepTheirValue() {
        let delta = MetricsSnapshot(parsing: Self.after).since(MetricsSnapshot(parsing: Self.before))
        let values = Dictionary(uniqueKeysWithValues: delta.map { ($0.series, $0.value) })
        #expect(values[#"switchyard_http_responses_total{status="200"}"#] == 1000)
        #expect(values[#"switchyard_http_responses_total{status="404"}"#] == 7, "a new series counts from zero")
        #expect(values["switchyard_connections_open"] == 5)
        #expect(values[#"switchyard_info{engine="epoll",note="a b"}"#] == 1, "label values may hold spaces")
        #expect(delta.count == 4, "the malformed line is skipped")
        #expect(delta.first { $0.series == "switchyard_connections_open" }?.kind == .gauge)
    }
}

@Suite struct ImbalanceTests {
    static func samples(_ lines: [(String, Double)]) -> [MetricsSnapshot.Sample] {
        lines.map { MetricsSnapshot.Sample(series: $0.0, kind: .gauge, value: $0.1) }
    }

    @Test func busiestLoopOverTheMean() {
        let single = Self.samples([
            (#"switchyard_worker_connections_open{worker="loop-0"}"#, 30), (#"switchyard_worker_connections_open{worker="loop-1"}"#, 10),
            ("switchyard_connections_open", 40),
        ])
        #expect(SweepRunner.imbalance("switchyard_worker_connections_open", single) == 1.5)
        #expect(SweepRunner.imbalance("switchyard_loop_busy_seconds_total", single) == nil, "no per-loop series")
        let idle = Self.samples([(#"switchyard_worker_connections_open{worker="loop-0"}"#, 0)])
        #expect(SweepRunner.imbalance("switchyard_worker_connections_open", idle) == 1)
    }

    @Test func processModeCountsEachProcessLoopNotTheSums() {
        // The merge's sums over processes (no process label) are not loops.
        let merged = Self.samples([
            (#"switchyard_worker_connections_open{worker="loop-0"}"#, 40), (#"switchyard_worker_connections_open{worker="loop-1"}"#, 20),
            (#"switchyard_worker_connections_open{process="0",generation="1",worker="loop-0"}"#, 30),
            (#"switchyard_worker_connections_open{process="0",generation="1",worker="loop-1"}"#, 10),
            (#"switchyard_worker_connections_open{process="1",generation="1",worker="loop-0"}"#, 10),
            (#"switchyard_worker_connections_open{process="1",generation="1",worker="loop-1"}"#, 10),
        ])
        #expect(SweepRunner.imbalance("switchyard_worker_connections_open", merged) == 2)
    }
}

@Suite struct ProcSamplingTests {
    @Test func statFieldsAreCountedFromTheLastParenthesis() throws {
        // A command name may hold spaces and parentheses.
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 3 0 100 1000 50"
        let fields = try #require(StatFields(line))
        #expect(fields.processGroup == 4242)
        #expect(fields.userTicks == 1234 && fields.systemTicks == 567)
        #expect(StatFields("garbage") == nil)
    }

    @Test func statusValuesAreRead() {
        let status = "Name:\tx\nVmHWM:\t   12345 kB\nvoluntary_ctxt_switches:\t17\nnonvoluntary_ctxt_switches:\t3\n"
        #expect(ProcessUsage.statusValue(status, key: "VmHWM:") == 12345)
        #expect(ProcessUsage.statusValue(status, key: "voluntary_ctxt_switches:") == 17)
        #expect(ProcessUsage.statusValue(status, key: "nonvoluntary_ctxt_switches:") == 3)
        #expect(ProcessUsage.statusValue(status, key: "VmRSS:") == nil)
    }

    /// This test process's own group: it exists, has used CPU, and has memory.
    @Test func samplesOwnProcessGroup() {
        var spin = 0.0
        for index in 0..<2_000_000 { spin += Double(index).squareRoot() }
        #expect(spin > 0)
        let usage = ProcessUsage.sample(group: getpgrp())
        #expect(usage.processes >= 1)
        #expect(usage.userSeconds + usage.systemSeconds > 0)
        #expect(usage.peakRSSKiB > 1000)
        #expect(usage.switches[getpid()] != nil, "the main thread is among the sampled ones")
        #expect(ProcessUsage.sample(group: 999_999_999).processes == 0)
    }

    @Test func intervalsCountSwitchesThreadByThread() {
        typealias S = ProcessUsage.Switches
        let earlier = ProcessUsage(userSeconds: 1, systemSeconds: 2,
                                   switches: [10: S(voluntary: 5, involuntary: 1), 11: S(voluntary: 7, involuntary: 0)],
                                   peakRSSKiB: 500, processes: 1)
        var later = ProcessUsage(userSeconds: 1.5, systemSeconds: 2.25,
                                 switches: [10: S(voluntary: 9, involuntary: 2), 11: S(voluntary: 7, involuntary: 3),
                                            12: S(voluntary: 4, involuntary: 0)],
                                 peakRSSKiB: 800, processes: 1)
        let interval = later.since(earlier)
        #expect(interval.userSeconds == 0.5 && interval.systemSeconds == 0.25)
        // Thread 12 was born in between: all of its switches count.
        #expect(interval.voluntarySwitches == 4 + 0 + 4 && interval.involuntarySwitches == 1 + 3 + 0)
        #expect(interval.peakRSSKiB == 800, "a high-water mark, not a difference")

        // Thread 11 exited in between: its switches are unknown, so no total is claimed.
        later.switches[11] = nil
        #expect(later.since(earlier).voluntarySwitches == nil)
        #expect(later.since(earlier).involuntarySwitches == nil)
    }
}

@Suite struct HTTPProbeTests {
    @Test func parsesCompleteAndPartialResponses() throws {
        let full = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".utf8)
        let parsed = try #require(HTTPProbe.parse(full))
        #expect(parsed.complete && parsed.response.status == 200 && parsed.response.body == "hello")
        let partial = try #require(HTTPProbe.parse(Array(full.dropLast(2))))
        #expect(!partial.complete)
        #expect(HTTPProbe.parse(Array("HTTP/1.1 200 OK\r\nContent-".utf8)) == nil, "head not complete")
        #expect(HTTPProbe.parse(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)) == nil, "not HTTP")
    }

    @Test func refusedConnectionGivesNil() throws {
        let port = try #require(HTTPProbe.freePort())
        #expect(HTTPProbe.get(port: port, path: "/health", timeout: 1) == nil)
    }
}

@Suite struct CPUSplitTests {
    @Test func halvesGiveWholeCoresToEachSide() {
        #expect(CPUSplit.halves(cores: [[0], [1]]) == CPUSplit(server: [0], load: [1]))
        #expect(CPUSplit.halves(cores: [[0], [1], [2]]) == CPUSplit(server: [0, 1], load: [2]))
        // Hyper-thread siblings stay together.
        #expect(CPUSplit.halves(cores: [[0, 4], [1, 5], [2, 6], [3, 7]])
            == CPUSplit(server: [0, 4, 1, 5], load: [2, 6, 3, 7]))
        let single = CPUSplit.halves(cores: [[3]])
        #expect(single.isShared && single == CPUSplit(server: [3], load: [3]))
    }

    @Test func givenSideLeavesWholeCoresToTheOther() throws {
        let machine = try CPUTopology.discover()
        let first = try #require(machine.cores.first?.processingUnits.first)
        let split = try CPUSplit.resolve(server: [first], load: nil, topology: machine)
        #expect(split.server == [first])
        // No CPU of the server's core goes to the load, siblings included.
        let serverCore = machine.cores.first { $0.processingUnits.contains(first) }!.processingUnits
        #expect(Set(split.load).isDisjoint(with: serverCore))
        if machine.cores.count > 1 { #expect(!split.load.isEmpty) }
        #expect(throws: SweepError.self) { try CPUSplit.resolve(server: [first], load: [first], topology: machine) }
    }
}

@Suite struct SummaryTests {
    static let spec = """
        name = "s"
        repetitions = 3
        [matrix]
        engines = ["threads", "epoll"]
        connections = [8, 64]
        """

    func row(_ spec: ExperimentSpec, engine: String, connections: Int, repetition: Int, rps: Double?,
             p99: Double = 100, cpu: Double = 10) -> ResultRow {
        let point = spec.points.first { $0.engine == engine && $0.connections == connections }!
        var row = ResultRow(experiment: "s", run: ScheduledRun(point: point, repetition: repetition),
                            arrivals: .constant, startedAt: "t")
        if let rps {
            row.rps = rps
            row.p99 = p99
            row.cpuMicrosecondsPerRequest = cpu
        } else {
            row.fail("server exited with status 1 before answering /health")
        }
        return row
    }

    @Test func mediansAndRatiosToTheFirstEngine() throws {
        let spec = try parseSpec(Self.spec)
        let rows = [
            row(spec, engine: "threads", connections: 8, repetition: 1, rps: 100, p99: 200, cpu: 20),
            row(spec, engine: "threads", connections: 8, repetition: 2, rps: 300, p99: 200, cpu: 20),
            row(spec, engine: "threads", connections: 8, repetition: 3, rps: 200, p99: 200, cpu: 20),
            row(spec, engine: "epoll", connections: 8, repetition: 1, rps: 400, p99: 100, cpu: 5),
            row(spec, engine: "epoll", connections: 8, repetition: 2, rps: 1000, p99: 100, cpu: 5),
            row(spec, engine: "epoll", connections: 64, repetition: 1, rps: nil),
        ]
        let summary = Summary(spec: spec, rows: rows)
        #expect(summary.baseline == "threads")
        #expect(summary.lines.count == 3, "points without any row are left out")
        let threads = try #require(summary.lines.first { $0.engine == "threads" })
        #expect(threads.rps == 200, "median of 100, 300, 200")
        #expect(threads.rpsRatio == nil)
        let epoll = try #require(summary.lines.first { $0.engine == "epoll" && $0.connections == 8 })
        #expect(epoll.rps == 700, "median of two is their mean")
        #expect(epoll.rpsRatio == 3.5 && epoll.p99Ratio == 0.5 && epoll.cpuRatio == 0.25)
        let failed = try #require(summary.lines.first { $0.connections == 64 })
        #expect(failed.okRuns == 0 && failed.failedRuns == 1 && failed.rps == nil)
        #expect(failed.failure?.contains("status 1") == true)
        let text = summary.text()
        #expect(text.contains("req/s × threads"))
        #expect(text.contains("3.50"))
        #expect(text.contains("failed: engine=epoll"))
    }

    @Test func flagVariantsOfTheBaselineCompareToItsFirstVariant() throws {
        let spec = try parseSpec("""
            name = "s"
            [matrix]
            engines = ["epoll"]
            connections = [8]
            flags = [{}, { shed-above = 512 }]
            """)
        var rows: [ResultRow] = []
        for (point, rps) in zip(spec.points, [1000.0, 250]) {
            var row = ResultRow(experiment: "s", run: ScheduledRun(point: point, repetition: 1), arrivals: .constant,
                                startedAt: "t")
            row.rps = rps
            rows.append(row)
        }
        let summary = Summary(spec: spec, rows: rows)
        #expect(summary.lines.map(\.flags) == ["", "shed-above=512"])
        #expect(summary.lines[0].rpsRatio == nil, "the reference configuration")
        #expect(summary.lines[1].rpsRatio == 0.25)
        #expect(summary.text().contains("shed-above=512"), "a flags column appears when a point has flags")
    }

    @Test func numbersFormatWithoutFoundation() {
        #expect(grouped(135_210.4) == "135,210")
        #expect(grouped(999) == "999")
        #expect(grouped(nil) == "-")
        #expect(fixed(3.14159, 2) == "3.14")
        #expect(fixed(0.005, 2) == "0.01")
        #expect(fixed(12, 0) == "12")
        #expect(median([3, 1, 2]) == 2 && median([]) == nil)
    }
}

@Suite struct HistogramSecondsTests {
    static func text(_ low: [Int], process: Bool = false) -> String {
        let bounds = ["0.000001", "0.000002", "+Inf"]
        var out = "# TYPE switchyard_request_duration_seconds histogram\n"
        for (bound, cumulative) in zip(bounds, low) {
            out += "switchyard_request_duration_seconds_bucket{class=\"low\",le=\"\(bound)\"} \(cumulative)\n"
            if process {
                out += "switchyard_request_duration_seconds_bucket{class=\"low\",le=\"\(bound)\",process=\"0\",generation=\"1\"} \(cumulative)\n"
            }
        }
        out += "switchyard_request_duration_seconds_count{class=\"low\"} \(low.last ?? 0)\n"
        return out
    }

    @Test("A second's cells are the non-cumulative bucket differences; empty ones and per-process series left out")
    func cells() {
        let earlier = MetricsSnapshot(parsing: Self.text([1, 3, 3], process: true))
        let later = MetricsSnapshot(parsing: Self.text([1, 7, 9], process: true))
        let cells = HistogramSeconds.cells(from: earlier, to: later)
        #expect(cells == [
            HistogramCell(histogram: "request_duration", priorityClass: "low", upperBound: "0.000002", count: 4),
            HistogramCell(histogram: "request_duration", priorityClass: "low", upperBound: "+Inf", count: 2),
        ])
        // A class seen for the first time counts from zero.
        #expect(HistogramSeconds.cells(from: MetricsSnapshot(parsing: ""), to: later).map(\.count) == [1, 6, 2])
        #expect(HistogramSeconds.isHistogramSeries("switchyard_request_duration_seconds_bucket{class=\"low\",le=\"+Inf\"}"))
        #expect(!HistogramSeconds.isHistogramSeries("switchyard_http_responses_total{status=\"200\"}"))
    }
}
