import EngineCore
import Glibc
import Histogram
import Synchronization

/// Runs a load test: see README.md for the closed and open loop models.
public enum LoadGenerator {
    /// Generates load for `warmup + duration` seconds and reports the measured
    /// part. Throws if the configuration is unusable or nothing succeeded.
    public static func run(_ configuration: LoadConfiguration) throws(LoadError) -> LoadReport {
        let c = configuration
        try validate(c)
        guard let address = SocketAddress.resolve(c.host, port: c.port) else {
            throw LoadError("cannot resolve host \(c.host)")
        }
        let target = address.description
        if c.sourceAddresses > 0 && !address.isIPv4Loopback {
            throw LoadError("source addresses (127.0.0.1 upwards) need an IPv4 loopback target (127.0.0.0/8), not \(target)")
        }
        // Serialized once; workers copy these bytes into their outboxes.
        // An IPv6 literal goes in brackets in Host, as in a URL.
        let hostHeader = c.host.contains(":") && !c.host.hasPrefix("[") ? "[\(c.host)]" : c.host
        let requests = c.mix.map { Array("GET \($0.path) HTTP/1.1\r\nHost: \(hostHeader):\(c.port)\r\n\r\n".utf8) }
        let total = c.mix.reduce(0) { $0 + $1.weight }
        var running = 0.0
        var cumulative = c.mix.map { entry -> Double in
            running += entry.weight
            return running / total
        }
        cumulative[cumulative.count - 1] = 1

        let threads = min(c.threads, c.connections)
        let seconds = max(1, Int(c.duration.rounded(.up)))
        let start = monotonicNanoseconds()
        let measureStart = start + Int64(c.warmup * 1e9)
        let end = measureStart + Int64(c.duration * 1e9)
        // Latencies above this still record (auto-resize); it only sizes the
        // histograms so the usual case never resizes.
        let highest = UInt64(Swift.max(1_000_000, c.timeout * 2e6))
        var plans: [WorkerPlan] = []
        var firstConnection = 0
        for t in 0..<threads {
            let share = c.connections / threads + (t < c.connections % threads ? 1 : 0)
            defer { firstConnection += share }
            plans.append(WorkerPlan(
                index: t, connections: share, pipeline: c.pipeline, address: address,
                target: target, requests: requests, cumulativeWeights: cumulative,
                startTime: start, measureStart: measureStart, endTime: end,
                rate: c.rate.map { $0 / Double(threads) }, arrivals: c.arrivals,
                firstArrivalOffset: c.rate.map { Double(t) / $0 } ?? 0,
                timeout: Int64(c.timeout * 1e9), scheduleSlack: Int64(c.scheduleSlack * 1e9), seed: c.seed,
                cpu: c.cpus.isEmpty ? nil : c.cpus[t % c.cpus.count],
                seconds: seconds, highestLatency: highest, sloMicros: c.slo.map { UInt64(max(0, $0) * 1e6) } ?? .max,
                cancellation: c.cancellation,
                closeGate: c.closeGate, realtime: c.realtime,
                firstConnection: firstConnection, sourceAddresses: c.sourceAddresses,
                hotConnections: c.skew.map { max(1, Int((Double(share) * $0.hotConnections).rounded(.up))) } ?? 0,
                hotShare: c.skew?.hotShare ?? 0))
        }
        c.onMeasurementWindow?(measureStart, end)

        let slots = Results(count: threads)
        let handles = plans.map { plan in
            Thread.spawn(name: "loadgen-\(plan.index)") {
                let result = Worker(plan: plan).run()
                slots.store(result, at: plan.index)
            }
        }
        for handle in handles { handle.join() }
        let results = slots.take()
        var report = try merge(results, measureStart: measureStart, seconds: seconds)
        report.classes = c.mix.enumerated().map { k, entry in
            var histogram = results[0].perClass[k]
            for result in results.dropFirst() { histogram.add(result.perClass[k]) }
            var latency = ClassLatency(path: entry.path, weight: entry.weight, latency: LatencySummary(histogram))
            latency.responses2xx = results.reduce(0) { $0 + $1.perClass2xx[k] }
            if c.slo != nil { latency.withinSLO = results.reduce(0) { $0 + $1.perClassGood[k] } }
            return latency
        }
        report.slo = c.slo
        report.outstanding = results.reduce(0) { $0 + $1.outstanding }
        report.silentConnections = results.reduce(0) { $0 + $1.silentConnections }
        if c.rate != nil {
            report.schedule = ScheduleAdherence(
                sent: results.reduce(0) { $0 + $1.scheduledSends }, late: results.reduce(0) { $0 + $1.lateSends },
                slackMicroseconds: Int(c.scheduleSlack * 1e6))
        }
        return report
    }

    private static func validate(_ c: LoadConfiguration) throws(LoadError) {
        guard !c.mix.isEmpty else { throw LoadError("the request mix is empty") }
        for entry in c.mix {
            guard entry.weight > 0, entry.weight.isFinite else {
                throw LoadError("mix weight for \(entry.path) must be positive, not \(entry.weight)")
            }
            guard entry.path.hasPrefix("/"), !entry.path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                throw LoadError("mix path \(entry.path) must start with / and contain no spaces or line breaks")
            }
        }
        guard (1...65535).contains(c.port) else { throw LoadError("port \(c.port) must be from 1 to 65535") }
        guard c.connections >= 1 else { throw LoadError("connections must be at least 1") }
        guard c.pipeline >= 1 else { throw LoadError("pipeline must be at least 1") }
        guard c.threads >= 1 else { throw LoadError("threads must be at least 1") }
        guard c.duration > 0, c.duration.isFinite else { throw LoadError("duration must be positive") }
        guard c.warmup >= 0, c.warmup.isFinite else { throw LoadError("warmup must not be negative") }
        guard c.timeout > 0, c.timeout.isFinite else { throw LoadError("timeout must be positive") }
        if let rate = c.rate {
            guard rate > 0, rate.isFinite else { throw LoadError("rate must be positive") }
        }
        guard (0...16_000_000).contains(c.sourceAddresses) else {
            throw LoadError("source addresses must be from 0 (the kernel chooses) to 16000000, not \(c.sourceAddresses)")
        }
        if c.skew != nil && c.rate == nil {
            throw LoadError("skew needs an open loop (a rate): a closed loop keeps every connection equally busy")
        }
    }

    private static func merge(_ results: [WorkerResult], measureStart: Int64, seconds: Int) throws(LoadError) -> LoadReport {
        var latency = results[0].latency
        var errors = Array(repeating: 0, count: ErrorKind.allCases.count)
        var requests = 0
        var ok = 0
        var bytes = 0
        var stopped = measureStart
        for (k, result) in results.enumerated() {
            if k > 0 { latency.add(result.latency) }
            for e in errors.indices { errors[e] += result.errors[e] }
            requests += result.requests
            ok += result.responses2xx
            bytes += result.bytes
            stopped = Swift.max(stopped, result.stoppedAt)
            if let warning = result.warning {
                let line = Array("loadgen: warning: \(warning)\n".utf8)
                line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
            }
        }
        var errorMap: [ErrorKind: Int] = [:]
        for (k, kind) in ErrorKind.allCases.enumerated() where errors[k] > 0 { errorMap[kind] = errors[k] }

        guard ok > 0 else {
            var parts = ErrorKind.allCases.enumerated().compactMap { k, kind in
                errors[k] > 0 ? "\(errors[k]) \(kind.rawValue) error\(errors[k] == 1 ? "" : "s")" : nil
            }
            if parts.isEmpty { parts = ["no 2xx responses"] }
            let detail = results.compactMap(\.firstProblem).first.map { " (\($0))" } ?? ""
            throw LoadError("nothing succeeded: \(parts.joined(separator: ", "))\(detail)")
        }

        var timeline: [SecondSample] = []
        for s in 0..<seconds {
            var merged: Histogram<UInt64>?
            var errorsThisSecond = 0
            for result in results {
                errorsThisSecond += result.errorsPerSecond[s]
                guard let histogram = result.perSecond[s] else { continue }
                if merged == nil { merged = histogram } else { merged!.add(histogram) }
            }
            timeline.append(SecondSample(
                second: s, requests: Int(merged?.totalCount ?? 0),
                p99: Int(merged?.valueAtPercentile(99) ?? 0), errors: errorsThisSecond))
        }
        let summary = LatencySummary(latency)
        let elapsed = Double(stopped - measureStart) / 1e9
        return LoadReport(
            requests: requests, responses2xx: ok, bytesReceived: bytes, elapsed: elapsed,
            latency: summary, errors: errorMap, timeline: timeline)
    }
}

/// Where worker threads leave their results for the joining thread.
private final class Results: Sendable {
    private let slots: Mutex<[WorkerResult?]>

    init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }

    func store(_ result: WorkerResult, at index: Int) {
        slots.withLock { $0[index] = result }
    }

    func take() -> [WorkerResult] {
        slots.withLock { $0.compactMap { $0 } }
    }
}
