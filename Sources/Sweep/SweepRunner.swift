import EngineCore
import Experiments
import Glibc
import LoadGen
import Synchronization

/// Runs a sweep: every pending measurement of a spec, one after another,
/// each appended to results.csv the moment it ends (see README.md).
///
/// Owned by the thread that calls `run()`; `interrupt()` may be called from
/// any thread (the signal handler's).
public final class SweepRunner: Sendable {
    /// An engine of this build, as the runner needs to know it.
    public struct EngineInfo: Sendable {
        public var name: String
        /// nil when it can run here; else why not.
        public var unavailableReason: String?

        public init(name: String, unavailableReason: String?) {
            self.name = name
            self.unavailableReason = unavailableReason
        }
    }

    public struct Options: Sendable {
        public var spec: ExperimentSpec
        /// The spec file's text, recorded in metadata.json.
        public var specText: String
        /// Where `NAME/` is made (normally notebooks-data).
        public var outputRoot: String
        /// Measure everything again; earlier files are kept as `*.N`.
        public var fresh = false
        /// What is executed to serve the project's engines: normally
        /// `/proc/self/exe`, the runner's own binary, which stays the same
        /// build even if the file is rebuilt or deleted during the sweep.
        public var serverBinary: String
        /// Where that binary lives, for metadata.json and the git commit
        /// (its folder is inside the checkout); defaults to `serverBinary`.
        public var serverBinaryPath: String?
        public var engines: [EngineInfo]
        public var cpus: CPUSplit
        /// Load generator I/O threads (default: one per load CPU).
        public var loadThreads: Int
        /// Seconds a server has to answer its health path after it starts.
        public var startupTimeout = 15.0
        /// Seconds a server has to exit after SIGTERM before SIGKILL.
        public var stopGrace = 10.0
        /// Per-request timeout of the load generator, seconds.
        public var requestTimeout = 5.0
        /// CPUTopology JSON for metadata.json.
        public var topologyJSON: String
        /// Extra facts for metadata.json's "runner" object.
        public var notes: [(key: String, value: String)] = []

        public init(spec: ExperimentSpec, specText: String, outputRoot: String, serverBinary: String,
                    engines: [EngineInfo], cpus: CPUSplit, loadThreads: Int, topologyJSON: String) {
            self.spec = spec
            self.specText = specText
            self.outputRoot = outputRoot
            self.serverBinary = serverBinary
            self.engines = engines
            self.cpus = cpus
            self.loadThreads = loadThreads
            self.topologyJSON = topologyJSON
        }
    }

    /// What a finished (or interrupted) sweep did.
    public struct Outcome: Sendable {
        public var folder: String
        public var measured: Int
        public var failed: Int
        public var skippedAlreadyDone: Int
        public var interrupted: Bool
        public var summary: Summary
    }

    public let options: Options
    private let interrupted = Atomic<Bool>(false)
    private let currentLoad = Mutex<LoadCancellation?>(nil)
    /// The process group of the server being measured, 0 between servers;
    /// a second interrupt kills it outright.
    private let currentServer = Atomic<Int32>(0)

    public init(options: Options) {
        self.options = options
    }

    /// Stops the sweep as soon as possible: the load in progress ends, its
    /// partial measurement is discarded (one already complete is kept), the
    /// server is stopped, and what was measured before stays on disk. A
    /// second call does not wait: it kills the server and exits with 130.
    public func interrupt() {
        if interrupted.exchange(true, ordering: .relaxed) {
            let group = currentServer.load(ordering: .relaxed)
            if group > 0 { kill(-group, SIGKILL) }
            log("sweep: interrupted twice; killed the server, exiting now")
            _exit(130)
        }
        currentLoad.withLock { $0?.cancel() }
    }

    private var isInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    public func run() throws(SweepError) -> Outcome {
        let spec = options.spec
        let folder = options.outputRoot + "/" + spec.name
        try makeFolders(folder + "/logs")
        let resultsPath = folder + "/results.csv"
        let metricsPath = folder + "/server-metrics.csv"
        let classesPath = folder + "/latency-by-class.csv"
        let heatmapPath = folder + "/latency-heatmap.csv"
        if options.fresh {
            do {
                for path in [resultsPath, metricsPath, classesPath, heatmapPath] {
                    if let kept = try ResultsCSV.setAside(path: path) { log("sweep: --fresh: kept the earlier \(path) as \(kept)") }
                }
            } catch { throw SweepError("\(error)") }
        }
        let results: ResultsCSV
        let serverMetrics: ServerMetricsCSV
        let classLatency: ClassLatencyCSV
        let heatmap: LatencyHeatmapCSV
        do {
            results = try ResultsCSV(path: resultsPath)
            serverMetrics = try ServerMetricsCSV(path: metricsPath)
            classLatency = try ClassLatencyCSV(path: classesPath)
            heatmap = try LatencyHeatmapCSV(path: heatmapPath)
        } catch { throw SweepError("\(error)") }

        let skipped = skippedEngines()
        let skippedNames = Set(skipped.map(\.engine))
        let order = spec.runOrder.filter { !skippedNames.contains($0.point.engine) }
        let plan = ResumePlan(order: order, existing: results.rows, experiment: spec.name, fresh: options.fresh)
        for (engine, reason) in skipped { log("sweep: skipping \(engine): \(reason)") }
        if !plan.done.isEmpty {
            log("sweep: resuming: \(plan.done.count) of \(order.count) measurements already in \(resultsPath) (--fresh to redo them)")
        }

        if !options.fresh, results.rows.contains(where: { $0.experiment == spec.name }) {
            try checkSettingsUnchanged(metadataPath: folder + "/metadata.json", resultsPath: resultsPath)
        }
        try writeMetadata(folder: folder, skipped: skipped)

        let progress = Progress(total: plan.pending.count, expectedSecondsEach: spec.warmup + spec.duration + 1.5)
        var measured = 0
        var failed = 0
        // Logs are named by position in the whole run order, so a retried
        // measurement overwrites its own earlier log and no other.
        var positions: [ScheduledRun: Int] = [:]
        for (index, run) in order.enumerated() { positions[run] = index + 1 }
        for run in plan.pending {
            if isInterrupted { break }
            progress.begin("\(run.point.id)  rep \(run.repetition)/\(spec.repetitions)")
            let logPath = "\(folder)/logs/\(positions[run] ?? 0)-\(run.point.engine).log"
            let measurement = measure(run, logPath: logPath, folder: folder)
            if measurement.cutShort {
                // Not a measurement of what the spec asked.
                progress.end("interrupted; this measurement is discarded")
                break
            }
            do {
                try serverMetrics.append(measurement.metrics)
                try classLatency.append(measurement.classes)
                try heatmap.append(measurement.heatmap)
                try results.append(measurement.row)
            } catch { throw SweepError("\(error)") }
            measured += 1
            if measurement.row.status == .failed { failed += 1 }
            progress.end(Self.outcomeLine(measurement.row))
        }

        let summary = Summary(spec: spec, rows: results.rows)
        let summaryText = summary.text()
        writeText(summaryText, to: folder + "/summary.txt")
        return Outcome(folder: folder, measured: measured, failed: failed, skippedAlreadyDone: plan.done.count,
                       interrupted: isInterrupted, summary: summary)
    }

    /// Engines that cannot run here, and references whose programs are
    /// missing: skipped, not failed, since their absence says nothing about
    /// the others.
    private func skippedEngines() -> [(engine: String, reason: String)] {
        options.spec.matrix.engines.compactMap { engine in
            if let reference = options.spec.reference(named: engine) {
                return reference.requires.first { !MachineFacts.isOnPath($0) }.map { (engine, "\($0) is not installed") }
            }
            return options.engines.first { $0.name == engine }?.unavailableReason.map { (engine, $0) }
        }
    }

    /// Resuming is only sound when the rows already there were measured the
    /// same way: refuses, naming the change, rather than mix two kinds of
    /// measurement in one file.
    private func checkSettingsUnchanged(metadataPath: String, resultsPath: String) throws(SweepError) {
        let now = settings
        guard let earlier = readSmallFile(metadataPath), let before = Self.settings(inMetadata: earlier),
              before != now else { return }
        let beforeParts = before.split(separator: ";").map { String($0.trimmingSpaces) }
        let nowParts = now.split(separator: ";").map { String($0.trimmingSpaces) }
        let was = beforeParts.filter { !nowParts.contains($0) }
        let becomes = nowParts.filter { !beforeParts.contains($0) }
        throw SweepError("\(resultsPath) was measured with other settings (was: \(was.joined(separator: "; ")); "
            + "now: \(becomes.joined(separator: "; "))); resuming would mix the two. Rerun with --fresh "
            + "(the old results are kept as results.csv.N) or restore the settings")
    }

    // MARK: One measurement

    struct Measurement {
        var row: ResultRow
        var metrics: [ServerMetricsCSV.Row]
        var classes: [ClassLatencyCSV.Row] = []
        var heatmap: [LatencyHeatmapCSV.Row] = []
        /// An interrupt ended it early; it must not be recorded.
        var cutShort = false
    }

    /// Starts the server, loads it, samples it, stops it. Never throws: any
    /// failure becomes the row's reason, and the sweep goes on.
    func measure(_ run: ScheduledRun, logPath: String, folder: String) -> Measurement {
        let spec = options.spec
        var row = ResultRow(experiment: spec.name, run: run, arrivals: spec.matrix.arrivals, startedAt: ResultRow.timestamp())
        var measurement = Measurement(row: row, metrics: [])
        func fail(_ reason: String) -> Measurement {
            row.fail(reason)
            measurement.row = row
            return measurement
        }

        guard let port = HTTPProbe.freePort() else { return fail("no free TCP port on 127.0.0.1") }
        let arguments: [String]
        do {
            arguments = try serverArguments(for: run.point, port: port, folder: folder)
        } catch { return fail(error.description) }
        let server: ServerProcess
        do {
            server = try ServerProcess(arguments: arguments, cpus: options.cpus.server, logPath: logPath)
        } catch { return fail(error.description) }
        currentServer.store(server.pid, ordering: .relaxed)
        defer { currentServer.store(0, ordering: .relaxed) }

        let healthPath = options.spec.reference(named: run.point.engine)?.health ?? "/health"
        if let problem = waitUntilHealthy(server, port: port, path: healthPath) {
            server.stop(grace: 2)
            measurement.cutShort = isInterrupted
            return fail(problem)
        }

        // Load, with the server sampled exactly at the measured window's edges.
        let cancellation = LoadCancellation()
        let sampler = WindowSampler(group: server.pid, port: run.point.isReference ? nil : port,
                                    cancellation: cancellation)
        var configuration = LoadConfiguration(
            host: "127.0.0.1", port: port, mix: spec.matrix.mix.map { (path: $0.path, weight: $0.weight) })
        configuration.connections = run.point.connections
        configuration.pipeline = run.point.pipeline
        configuration.duration = spec.duration
        configuration.warmup = spec.warmup
        configuration.rate = run.point.rate
        // The spec's and the load generator's enums share their raw values.
        configuration.arrivals = LoadGen.Arrivals(rawValue: spec.matrix.arrivals.rawValue) ?? .constant
        configuration.threads = options.loadThreads
        configuration.cpus = options.cpus.load
        configuration.timeout = options.requestTimeout
        configuration.realtime = spec.load.realtime
        configuration.slo = spec.load.slo
        configuration.seed = UInt64(run.repetition)
        configuration.sourceAddresses = spec.load.sourceAddresses
        configuration.skew = run.point.skew.flatMap(Skew.init(parsing:))
        configuration.cancellation = cancellation
        configuration.onMeasurementWindow = { start, end in sampler.start(window: start, end) }
        configuration.closeGate = sampler.closeGate
        currentLoad.withLock { $0 = cancellation }
        if isInterrupted { cancellation.cancel() }
        let report: Result<LoadReport, LoadError>
        let loadStarted = (cpu: ProcessUsage.ownCPUSeconds(), wall: LoadClockSeconds.now())
        do {
            report = .success(try LoadGenerator.run(configuration))
        } catch {
            report = .failure(error)
        }
        let loadWall = LoadClockSeconds.now() - loadStarted.wall
        if loadWall > 0 { row.loadCPUShare = rounded((ProcessUsage.ownCPUSeconds() - loadStarted.cpu) / loadWall, 3) }
        currentLoad.withLock { $0 = nil }
        measurement.cutShort = cancellation.isCancelled
        let window = sampler.finish()

        // Did the server survive the measurement, and does it stop cleanly?
        let crashed = !server.isRunning
        let stoppedGracefully = crashed ? true : server.stop(grace: options.stopGrace)

        if case .success(let report) = report {
            row.requests = report.requests
            // Rounded: digits beyond these are noise, and they make the CSV hard to read.
            row.rps = rounded(report.requestsPerSecond, 2)
            row.bytesPerSecond = report.bytesPerSecond.rounded()
            row.p50 = Double(report.latency.p50)
            row.p90 = Double(report.latency.p90)
            row.p99 = Double(report.latency.p99)
            row.p999 = Double(report.latency.p999)
            row.max = Double(report.latency.max)
            row.errorsConnect = report.errors[.connect] ?? 0
            row.errorsReset = report.errors[.reset] ?? 0
            row.errorsTimeout = report.errors[.timeout] ?? 0
            row.errorsNon2xx = report.errors[.non2xx] ?? 0
            row.errorsMalformed = report.errors[.malformed] ?? 0
            row.outstanding = report.outstanding
            row.silentConnections = report.silentConnections
            row.scheduleSent = report.schedule?.sent
            row.scheduleLate = report.schedule?.late
            measurement.classes = report.classes.map { c in
                ClassLatencyCSV.Row(
                    experiment: spec.name, pointID: run.point.id, repetition: run.repetition, startedAt: row.startedAt,
                    path: c.path, weight: c.weight, responses: c.latency.count, p50: Double(c.latency.p50),
                    p90: Double(c.latency.p90), p99: Double(c.latency.p99), p999: Double(c.latency.p999),
                    max: Double(c.latency.max), mean: rounded(c.latency.mean, 1), responses2xx: c.responses2xx, withinSLO: c.withinSLO)
            }
        }
        if let usage = window.usage {
            row.cpuUserSeconds = rounded(usage.userSeconds, 3)
            row.cpuSystemSeconds = rounded(usage.systemSeconds, 3)
            if let requests = row.requests, requests > 0 {
                row.cpuMicrosecondsPerRequest = rounded((usage.userSeconds + usage.systemSeconds) * 1e6 / Double(requests), 4)
            }
            row.contextSwitchesVoluntary = usage.voluntarySwitches
            row.contextSwitchesInvoluntary = usage.involuntarySwitches
            row.peakRSSKiB = usage.peakRSSKiB
        }
        measurement.heatmap = window.seconds.flatMap { second in
            second.cells.map {
                LatencyHeatmapCSV.Row(experiment: spec.name, pointID: run.point.id, repetition: run.repetition,
                                      startedAt: row.startedAt, second: second.second, histogram: $0.histogram,
                                      priorityClass: $0.priorityClass, upperBound: $0.upperBound, count: $0.count)
            }
        }
        (row.imbalanceConnections, row.imbalanceAccepted, row.imbalanceBusy) = Self.imbalances(window.metrics, totals: window.totalsAtEnd)
        measurement.metrics = window.metrics.map {
            ServerMetricsCSV.Row(experiment: spec.name, pointID: run.point.id, repetition: run.repetition,
                                 startedAt: row.startedAt, series: $0.series, kind: $0.kind.rawValue, value: $0.value)
        }

        if crashed {
            let tail = server.logTail()
            return fail("server \(server.exitStatus?.description ?? "exited") during the measurement"
                + (tail.isEmpty ? "" : ": \(tail)"))
        }
        if case .failure(let error) = report { return fail("load: \(error.description)") }
        if window.usage == nil { return fail("could not read the server's CPU time from /proc") }
        if !stoppedGracefully {
            return fail("server did not exit within \(formatSeconds(options.stopGrace)) of SIGTERM; killed")
        }
        measurement.row = row
        return measurement
    }

    /// Polls `path` until it answers 200; nil on success, else why not.
    private func waitUntilHealthy(_ server: ServerProcess, port: Int, path: String) -> String? {
        let deadline = LoadClockSeconds.now() + options.startupTimeout
        while LoadClockSeconds.now() < deadline {
            if isInterrupted { return "interrupted while the server was starting" }
            if !server.isRunning {
                let tail = server.logTail()
                return "server \(server.exitStatus?.description ?? "exited") before answering \(path)"
                    + (tail.isEmpty ? "" : ": \(tail)")
            }
            if let response = HTTPProbe.get(port: port, path: path, timeout: 1), response.status == 200 {
                return nil
            }
            usleep(50_000)
        }
        return "no 200 from \(path) within \(formatSeconds(options.startupTimeout)) of starting"
    }

    /// The command line for a point: `switchyard serve ...` for ours, the
    /// spec's shell command for a reference server.
    func serverArguments(for point: ExperimentPoint, port: Int, folder: String) throws(SweepError) -> [String] {
        if let reference = options.spec.reference(named: point.engine) {
            let directory = "\(folder)/logs/\(point.engine)-server"
            try makeFolders(directory)
            let absolute = absolutePath(directory)
            // The same folders `requires` was checked in.
            let folders = MachineFacts.serverFolders.joined(separator: ":")
            let command = "PATH=\"$PATH:\(folders)\"; export PATH\n"
                + reference.command(port: port, dir: absolute, threads: point.threads)
            return ["/bin/sh", "-c", command]
        }
        var arguments = [options.serverBinary, "serve", "--engine", point.engine, "--host", "127.0.0.1",
                         "--port", String(port), "--exit-with-parent"]
        if let threads = point.threads { arguments += ["--threads", String(threads)] }
        if let pin = point.pin { arguments += ["--pin", pin] }
        if let accept = point.accept { arguments += ["--accept", accept] }
        // The point's variant overrides [server] where both name a flag.
        let variant = Set(point.flags.map(\.key))
        for flag in options.spec.server.filter({ !variant.contains($0.key) }) + point.flags {
            switch flag.value {
            case .bool(true): arguments.append("--\(flag.key)")
            case .bool(false): continue
            default: arguments += ["--\(flag.key)", flag.renderedValue]
            }
        }
        return arguments
    }

    // MARK: Files

    /// Everything besides the matrix that shapes a measurement, as one
    /// line: two runs with the same line measured the same way.
    var settings: String {
        let spec = options.spec
        var parts = [
            "duration=\(formatSeconds(spec.duration))", "warmup=\(formatSeconds(spec.warmup))",
            "arrivals=\(spec.matrix.arrivals.rawValue)",
            "mix=" + spec.matrix.mix.map { "\($0.path):\($0.weight)" }.joined(separator: ","),
            "server=" + spec.server.map(\.text).joined(separator: ","),
            "server_cpus=" + cpuListText(options.cpus.server), "load_cpus=" + cpuListText(options.cpus.load),
            "load_threads=\(options.loadThreads)", "request_timeout=\(formatSeconds(options.requestTimeout))",
        ] + (spec.load.realtime ? ["load_realtime=true"] : []) + (spec.load.slo.map { ["load_slo=\(formatSeconds($0))"] } ?? [])
            + (spec.load.sourceAddresses > 0 ? ["load_source_addresses=\(spec.load.sourceAddresses)"] : [])
        for reference in spec.references {
            parts.append("reference \(reference.name)=\(checksum(reference.command))")
        }
        // Kept free of JSON escapes so it reads back from metadata.json verbatim.
        return String(parts.joined(separator: "; ").map { $0 == "\"" || $0 == "\\" ? "'" : $0 })
    }

    /// The settings line recorded in a metadata.json, if any.
    static func settings(inMetadata text: String) -> String? {
        guard let start = text.range(of: "\"settings\": \"") else { return nil }
        let rest = text[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }

    private func writeMetadata(folder: String, skipped: [(engine: String, reason: String)]) throws(SweepError) {
        let path = folder + "/metadata.json"
        let binary = options.serverBinaryPath ?? options.serverBinary
        let binaryFolder = binary.contains("/") ? String(binary[..<binary.lastIndex(of: "/")!]) : "."
        let commit = MachineFacts.gitCommit(in: binaryFolder)
        if !options.fresh, let earlier = readSmallFile(path), !earlier.contains(jsonQuoted(commit)) {
            log("sweep: note: \(path) was written by another commit; results.csv now mixes measurements "
                + "of both (--fresh starts over)")
        }
        let ioUring = MachineFacts.ioUringFeatures()
        var metadata = Metadata(
            experiment: options.spec.name, gitCommit: commit, kernel: MachineFacts.kernel(),
            cpuModel: MachineFacts.cpuModel(), topologyJSON: options.topologyJSON,
            swiftVersion: MachineFacts.swiftVersion(), ioUringFeatures: ioUring.features, specText: options.specText)
        metadata.runner = [
            ("settings", settings),
            ("server_cpus", cpuListText(options.cpus.server)),
            ("load_cpus", cpuListText(options.cpus.load)),
            ("load_threads", String(options.loadThreads)),
            ("server_binary", binary),
            ("request_timeout_s", formatSeconds(options.requestTimeout)),
        ] + skipped.map { ("skipped_\($0.engine)", $0.reason) } + (ioUring.note.map { [("io_uring", $0)] } ?? [])
            + options.notes
        do { try metadata.write(to: path) } catch { throw SweepError("\(error)") }
    }

    static func outcomeLine(_ row: ResultRow) -> String {
        guard row.status == .ok else { return "FAILED: \(row.reason)" }
        var parts = ["\(grouped(row.rps)) req/s", "p50 \(fixed(row.p50, 0)) µs", "p99 \(fixed(row.p99, 0)) µs",
                     "cpu \(fixed(row.cpuMicrosecondsPerRequest, 2)) µs/req"]
        let errors = [("connect", row.errorsConnect), ("reset", row.errorsReset), ("timeout", row.errorsTimeout),
                      ("non-2xx", row.errorsNon2xx), ("malformed", row.errorsMalformed)]
            .compactMap { name, count in (count ?? 0) > 0 ? "\(count!) \(name)" : nil }
        if !errors.isEmpty { parts.append("errors: " + errors.joined(separator: ", ")) }
        return parts.joined(separator: "  ")
    }
}

private func cpuListText(_ cpus: [Int]) -> String {
    cpus.map(String.init).joined(separator: ",")
}

/// FNV-1a of a text, in hex: a short stand-in for a long command in the settings line.
func checksum(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    return String(hash, radix: 16)
}

func rounded(_ value: Double, _ decimals: Int) -> Double {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    return (value * scale).rounded() / scale
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}

private func jsonQuoted(_ text: String) -> String { "\"\(text)\"" }

func log(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}

/// `mkdir -p`.
func makeFolders(_ path: String) throws(SweepError) {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw SweepError("cannot create \(current): \(String(cString: strerror(errno)))")
        }
    }
}

func absolutePath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

func writeText(_ text: String, to path: String) {
    guard let file = fopen(path, "w") else { return }
    fputs(text, file)
    fclose(file)
}
