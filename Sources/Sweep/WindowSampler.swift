import EngineCore
import Glibc
import LoadGen
import Synchronization

/// Samples the server at the two edges of the load generator's measured
/// window (CPU time, context switches and peak RSS from /proc; its own
/// /metrics), on a thread of its own that sleeps until each edge.
///
/// Why not sample before and after `LoadGenerator.run`: that would charge
/// the warm-up and connection set-up to the measurement.
final class WindowSampler: Sendable {
    struct Window: Sendable {
        /// nil when /proc had nothing on the server (it was gone).
        var usage: ProcessUsage.Interval?
        /// Counter differences and end-of-window gauges; empty for servers
        /// without /metrics (references) or when a scrape failed.
        var metrics: [MetricsSnapshot.Sample]
        /// Counters' totals at the window's end (not differences), for the
        /// figures over the server's life: connections accepted per loop
        /// (long-lived connections are all accepted before the window).
        var totalsAtEnd: [MetricsSnapshot.Sample] = []
        /// The latency histograms second by second: (second, cells).
        var seconds: [(second: Int, cells: [HistogramCell])] = []
    }

    private let group: pid_t
    /// Where /metrics answers; nil for servers without one.
    private let metricsPort: Int?
    private let thread = Mutex<Thread?>(nil)
    private let result = Mutex<Window>(Window(usage: nil, metrics: []))

    /// Cuts the waits short when the sweep is interrupted.
    private let cancellation: LoadCancellation
    /// Keeps the load's connections open until the end sample is taken.
    let closeGate = LoadGate()

    init(group: pid_t, port: Int?, cancellation: LoadCancellation) {
        self.group = group
        metricsPort = port
        self.cancellation = cancellation
    }

    /// Starts sampling; `start` and `end` are `LoadClock` nanoseconds.
    func start(window start: Int64, _ end: Int64) {
        let handle = Thread.spawn(name: "sweep-sampler") { [self] in
            defer { closeGate.open() }
            sleep(until: start)
            let usageBefore = ProcessUsage.sample(group: group)
            let metricsBefore = scrape()
            // Once a second in between, the histograms' change (a heat map's
            // column); the last second ends at the window's end.
            var seconds: [(Int, [HistogramCell])] = []
            var previous = metricsBefore
            var second = 0
            while metricsPort != nil, start + Int64(second + 1) * 1_000_000_000 < end, !cancellation.isCancelled {
                sleep(until: start + Int64(second + 1) * 1_000_000_000)
                let now = scrape()
                if let previous, let now { seconds.append((second, HistogramSeconds.cells(from: previous, to: now))) }
                previous = now
                second += 1
            }
            sleep(until: end)
            let usageAfter = ProcessUsage.sample(group: group)
            let metricsAfter = scrape()
            if let previous, let metricsAfter { seconds.append((second, HistogramSeconds.cells(from: previous, to: metricsAfter))) }
            var window = Window(usage: nil, metrics: [])
            if usageBefore.processes > 0, usageAfter.processes > 0 { window.usage = usageAfter.since(usageBefore) }
            if let metricsBefore, let metricsAfter {
                window.metrics = metricsAfter.since(metricsBefore).filter { !HistogramSeconds.isHistogramSeries($0.series) }
            }
            window.totalsAtEnd = metricsAfter?.samples.filter { $0.series.hasPrefix("switchyard_worker_connections_accepted_total{") } ?? []
            window.seconds = seconds
            result.withLock { $0 = window }
        }
        thread.withLock { $0 = handle }
    }

    /// Waits for the sampler and returns what it saw. Safe to call when the
    /// load never started (the window is then empty).
    func finish() -> Window {
        if let handle = thread.withLock({ $0.take() }) { handle.join() }
        return result.withLock { $0 }
    }

    private func scrape() -> MetricsSnapshot? {
        guard let metricsPort, let response = HTTPProbe.get(port: metricsPort, path: "/metrics", timeout: 2),
              response.status == 200 else { return nil }
        return MetricsSnapshot(parsing: response.body)
    }

    private func sleep(until deadline: Int64) {
        while true {
            let left = deadline - LoadClock.now()
            if left <= 0 || cancellation.isCancelled { return }
            let step = min(left, 100_000_000)
            var pause = timespec(tv_sec: 0, tv_nsec: Int(step))
            nanosleep(&pause, nil)
        }
    }
}
