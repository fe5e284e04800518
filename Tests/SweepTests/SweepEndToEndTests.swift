import Experiments
import Glibc
@testable import Sweep
import Testing

/// Real sweeps: the runner starts real servers (the `switchyard` binary and
/// shell-command references) as child processes and loads them over loopback.
/// Durations are tiny; nothing here asserts a speed.
@Suite("Sweep end to end", .serialized)
struct SweepEndToEndTests {
    static let twoEngines = """
        name = "two"
        duration = 0.4
        warmup = 0.2
        repetitions = 2
        [matrix]
        engines = ["threads", "epoll"]
        connections = [4]
        pipeline = [2]
        """

    @Test func sweepOverTwoEnginesWritesWellFormedCSV() throws {
        let folder = temporaryFolder()
        let outcome = try makeRunner(Self.twoEngines, folder: folder).run()
        #expect(outcome.measured == 4 && outcome.failed == 0 && !outcome.interrupted)

        let results = try ResultsCSV.read(path: folder + "/two/results.csv")
        #expect(results.count == 4)
        // Interleaved: threads, epoll, threads, epoll.
        #expect(results.map(\.engine) == ["threads", "epoll", "threads", "epoll"])
        #expect(results.map(\.repetition) == [1, 1, 2, 2])
        for row in results {
            #expect(row.status == .ok, "\(row.pointID): \(row.reason)")
            #expect(row.connections == 4 && row.pipeline == 2 && row.rate == nil)
            #expect((row.requests ?? 0) > 0 && (row.rps ?? 0) > 0)
            #expect(row.p50 != nil && row.p99 != nil && row.p999 != nil && row.max != nil)
            #expect(row.p50! <= row.p99! && row.p99! <= row.max!)
            #expect(row.errorsConnect == 0 && row.errorsNon2xx == 0 && row.errorsMalformed == 0)
            #expect(row.cpuUserSeconds != nil && row.cpuSystemSeconds != nil && row.cpuMicrosecondsPerRequest != nil)
            #expect((row.peakRSSKiB ?? 0) > 0)
            #expect(row.contextSwitchesVoluntary != nil)
        }
        #expect(results.first { $0.engine == "threads" }?.threads == nil, "threads has no pool: the column is empty")
        #expect(results.first { $0.engine == "epoll" }?.accept == "reuseport")
        // Balance across loops: epoll's loops report it; threads has no loops.
        #expect(results.filter { $0.engine == "epoll" }.allSatisfy { ($0.imbalanceConnections ?? 0) >= 1 && $0.imbalanceBusy != nil })
        #expect(results.filter { $0.engine == "threads" }.allSatisfy { $0.imbalanceConnections == nil })

        // The header is exactly this version's, and every line has every column.
        let text = try #require(readText(folder + "/two/results.csv"))
        let lines = text.split(separator: "\n")
        #expect(lines.first.map(String.init) == ResultsCSV.header.joined(separator: ","))
        #expect(lines.count == 5)

        // The server's own counters cover the measured window, not the whole run:
        // they agree with the client's count to within the time the two samples
        // take (warm-up is half as long again, so including it would be off by
        // a third). 20%, not less: with the other suites running in parallel on
        // two cores, a sample was seen to take up to 14% of a short window.
        let metrics = try ServerMetricsCSV.read(path: folder + "/two/server-metrics.csv")
        for row in results {
            let responses = metrics.first {
                $0.pointID == row.pointID && $0.repetition == row.repetition && $0.startedAt == row.startedAt
                    && $0.series == #"switchyard_http_responses_total{status="200"}"#
            }
            let served = try #require(responses, "no /metrics delta for \(row.pointID)").value
            let counted = Double(row.requests!)
            #expect(abs(served - counted) <= 0.2 * counted, "server \(served) vs client \(counted)")
        }

        // The event loop's latency histograms, second by second (the
        // threads engine has no loop clock and no histograms).
        let heatmap = try LatencyHeatmapCSV.read(path: folder + "/two/latency-heatmap.csv")
        for row in results {
            let cells = heatmap.filter { $0.pointID == row.pointID && $0.repetition == row.repetition && $0.startedAt == row.startedAt }
            if row.engine == "epoll" {
                // The load's /plaintext is normal; the sampler's own /metrics scrapes are critical.
                let served = cells.filter { $0.histogram == "request_duration" && $0.priorityClass == "normal" }.reduce(0) { $0 + $1.count }
                #expect(served > 0 && cells.allSatisfy { $0.priorityClass != "low" && $0.second == 0 && $0.count > 0 })
                #expect(cells.contains { $0.histogram == "queue_delay" })
            } else {
                #expect(cells.isEmpty)
            }
        }
        #expect(!metrics.contains { $0.series.hasPrefix("switchyard_request_duration_seconds_bucket") },
                "histogram buckets go to latency-heatmap.csv, not server-metrics.csv")

        let metadata = try #require(readText(folder + "/two/metadata.json"))
        for key in ["\"git_commit\"", "\"kernel\"", "\"cpu_model\"", "\"swift_version\"", "\"io_uring_features\"",
                    "\"topology\"", "\"server_cpus\"", "\"spec\""] {
            #expect(metadata.contains(key), "metadata.json lacks \(key)")
        }
        #expect(outcome.summary.lines.count == 2)
        #expect(outcome.summary.lines.last?.rpsRatio != nil, "epoll is compared to threads, the first engine")
        #expect(readText(folder + "/two/summary.txt")?.contains("req/s × threads") == true)
    }

    @Test func rerunResumesAndFreshStartsOver() throws {
        let folder = temporaryFolder()
        let spec = Self.twoEngines.replacingOccurrences("repetitions = 2", "repetitions = 1")
        let first = try makeRunner(spec, folder: folder).run()
        #expect(first.measured == 2)

        let second = try makeRunner(spec, folder: folder).run()
        #expect(second.measured == 0 && second.skippedAlreadyDone == 2)
        #expect(try ResultsCSV.read(path: folder + "/two/results.csv").count == 2)

        // Other settings would make the file mix two kinds of measurement: refused.
        let longer = spec.replacingOccurrences("duration = 0.4", "duration = 0.5")
        let refusal = #expect(throws: SweepError.self) { try makeRunner(longer, folder: folder).run() }
        #expect(refusal?.description.contains("was: duration=0.4 s") == true, "\(String(describing: refusal))")
        #expect(refusal?.description.contains("--fresh") == true)

        let third = try makeRunner(spec, folder: folder, fresh: true).run()
        #expect(third.measured == 2 && third.skippedAlreadyDone == 0)
        #expect(exists(folder + "/two/results.csv.1"), "the earlier results are kept aside")
        #expect(try ResultsCSV.read(path: folder + "/two/results.csv").count == 2)
    }

    /// A server that cannot start, one that dies mid-measurement, and one
    /// whose program is missing: each is recorded (or skipped) with its
    /// reason, and the sweep measures the rest.
    @Test func failedPointsAreRecordedAndTheSweepGoesOn() throws {
        let folder = temporaryFolder()
        let binary = switchyardBinary
        let spec = """
            name = "failures"
            duration = 0.6
            warmup = 0.1
            repetitions = 1
            [matrix]
            engines = ["broken", "dying", "absent", "epoll"]
            connections = [2]
            [[reference]]
            name = "broken"
            port = 1
            command = "echo 'cannot bind: pretend' >&2; exit 3"
            [[reference]]
            name = "dying"
            port = 1
            command = "'\(binary)' serve --engine epoll --port {port} & sleep 0.5; kill -9 $!; exit 0"
            [[reference]]
            name = "absent"
            port = 1
            requires = ["switchyard-no-such-program"]
            command = "switchyard-no-such-program --port {port}"
            """
        let outcome = try makeRunner(spec, folder: folder).run()
        let results = try ResultsCSV.read(path: folder + "/failures/results.csv")
        #expect(results.map(\.engine) == ["broken", "dying", "epoll"], "absent is skipped, not failed")
        #expect(outcome.failed == 2)

        let broken = try #require(results.first { $0.engine == "broken" })
        #expect(broken.status == .failed)
        #expect(broken.reason.contains("exited with status 3"), "\(broken.reason)")
        #expect(broken.reason.contains("cannot bind: pretend"), "the server's last words are in the reason")

        let dying = try #require(results.first { $0.engine == "dying" })
        #expect(dying.status == .failed)
        #expect(dying.reason.contains("during the measurement") || dying.reason.contains("load:"), "\(dying.reason)")

        let epoll = try #require(results.first { $0.engine == "epoll" })
        #expect(epoll.status == .ok, "\(epoll.reason)")
        let metadata = try #require(readText(folder + "/failures/metadata.json"))
        #expect(metadata.contains("switchyard-no-such-program is not installed"))

        // A rerun retries the failures only.
        let again = try makeRunner(spec, folder: folder).run()
        #expect(again.skippedAlreadyDone == 1 && again.measured == 2)
    }

    @Test func openLoopPointsRecordTheirRate() throws {
        let folder = temporaryFolder()
        let spec = """
            name = "open"
            duration = 0.5
            warmup = 0.1
            repetitions = 1
            [matrix]
            engines = ["epoll"]
            connections = [4]
            rate = [400]
            arrivals = "poisson"
            mix = [{ path = "/work?us=2", weight = 9 }, { path = "/plaintext", weight = 1 }]
            """
        _ = try makeRunner(spec, folder: folder).run()
        let row = try #require(try ResultsCSV.read(path: folder + "/open/results.csv").first)
        #expect(row.status == .ok, "\(row.reason)")
        #expect(row.rate == 400 && row.arrivals == "poisson")
        // About 200 requests at 400/s for 0.5 s; Poisson arrivals vary.
        #expect((50...400).contains(row.requests ?? 0))
    }

    @Test func serverCommandLinesCarryEveryKnob() throws {
        let spec = """
            name = "args"
            [matrix]
            engines = ["epoll", "nginx"]
            threads = [2]
            pin = ["compact"]
            accept = ["acceptor"]
            flags = [{ shed-above = 512 }]
            [server]
            shed-above = 0
            backlog = 64
            [[reference]]
            name = "nginx"
            port = 1
            command = "nginx -g 'worker_processes {threads};' -p {dir} -c x --port {port}"
            """
        let folder = temporaryFolder()
        let runner = try makeRunner(spec, folder: folder)
        let points = runner.options.spec.points
        let ours = try runner.serverArguments(for: points[0], port: 4321, folder: folder + "/args")
        #expect(Array(ours.dropFirst()) == [
            "serve", "--engine", "epoll", "--host", "127.0.0.1", "--port", "4321", "--exit-with-parent", "--threads", "2",
            "--pin", "compact", "--accept", "acceptor", "--backlog", "64", "--shed-above", "512",
        ], "the variant's --shed-above replaces [server]'s")
        let reference = try runner.serverArguments(for: points[1], port: 4321, folder: folder + "/args")
        #expect(reference.prefix(2) == ["/bin/sh", "-c"])
        #expect(reference[2].hasSuffix("nginx -g 'worker_processes 2;' -p \(folder)/args/logs/nginx-server -c x --port 4321"))
    }

    @Test func interruptedSweepMeasuresNothingMore() throws {
        let folder = temporaryFolder()
        let runner = try makeRunner(Self.twoEngines, folder: folder)
        runner.interrupt()
        let outcome = try runner.run()
        #expect(outcome.interrupted && outcome.measured == 0)
        #expect(try ResultsCSV.read(path: folder + "/two/results.csv").isEmpty)
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
