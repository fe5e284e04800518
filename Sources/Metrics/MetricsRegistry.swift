import Glibc
import Synchronization

/// Every worker's counters, aggregated only when someone reads them.
///
/// Registration and retirement take a lock, but they happen when a worker
/// starts or ends (a connection for the `threads` engine), never per request.
/// Retired workers are folded into `retired` so totals never go backwards.
public final class MetricsRegistry: Sendable {
    public static let shared = MetricsRegistry()

    private struct State {
        var live: [ObjectIdentifier: WorkerCounters] = [:]
        var retired = CounterSnapshot()
        var retiredLatency = LatencySnapshot()
        var gauges: [String: String] = [:]
        var events: [ObjectIdentifier: EventCounters] = [:]
        var retiredEvents: [String: UInt64] = [:]
        /// Help text by event name, kept after the loops are gone.
        var eventHelp: [String: String] = [:]
        var engineGauges: [ObjectIdentifier: EngineGauges] = [:]
        /// Process-level values (configuration generation, last reload), by name.
        var processValues: [String: (help: String, type: String, value: Double)] = [:]
        var labelledCounters: [String: (help: String, label: String, read: @Sendable () -> [(String, Int)])] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public func register(_ counters: WorkerCounters) {
        state.withLock { $0.live[ObjectIdentifier(counters)] = counters }
    }

    /// Folds the worker's final counts into the totals and forgets it.
    public func retire(_ counters: WorkerCounters) {
        let last = counters.snapshot()
        let latency = counters.latency.snapshot()
        state.withLock {
            $0.live[ObjectIdentifier(counters)] = nil
            $0.retired = $0.retired + last
            $0.retiredLatency = $0.retiredLatency + latency
        }
    }

    public func register(_ events: EventCounters) {
        state.withLock {
            $0.events[ObjectIdentifier(events)] = events
            for event in events.events { $0.eventHelp[event.name] = event.help }
        }
    }

    public func retire(_ events: EventCounters) {
        let last = events.snapshot()
        state.withLock {
            $0.events[ObjectIdentifier(events)] = nil
            $0.retiredEvents.merge(last, uniquingKeysWith: &+)
        }
    }

    public func register(_ gauges: EngineGauges) {
        state.withLock { $0.engineGauges[ObjectIdentifier(gauges)] = gauges }
    }

    public func retire(_ gauges: EngineGauges) {
        state.withLock { $0.engineGauges[ObjectIdentifier(gauges)] = nil }
    }

    /// Static facts shown as an info metric (engine name, threads...).
    public func setInfo(_ key: String, _ value: String) {
        state.withLock { $0.gauges[key] = value }
    }

    /// A process-level gauge or counter (`type`), rendered as its own family.
    /// For the control plane (reloads), not the request path: it takes the lock.
    public func setProcessValue(_ name: String, help: String, type: String = "gauge", _ value: Double) {
        state.withLock { $0.processValues[name] = (help, type, value) }
    }

    /// A process-level counter family with one label, read when `/metrics`
    /// is rendered (atomics kept by whoever counts; no lock to count).
    public func setLabelledCounters(_ name: String, help: String, label: String,
                                    read: @escaping @Sendable () -> [(String, Int)]) {
        state.withLock { $0.labelledCounters[name] = (help, label, read) }
    }

    public func totals() -> CounterSnapshot {
        let (workers, retired) = state.withLock { (Array($0.live.values), $0.retired) }
        return workers.reduce(retired) { $0 + $1.snapshot() }
    }

    /// Every worker's latency histograms, summed.
    public func latencyTotals() -> LatencySnapshot {
        let (workers, retired) = state.withLock { (Array($0.live.values), $0.retiredLatency) }
        return workers.reduce(retired) { $0 + $1.latency.snapshot() }
    }

    /// Renders the Prometheus text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        let (workers, retired, info, eventSets, retiredEvents, eventHelp) = state.withLock {
            (Array($0.live.values), $0.retired, $0.gauges, Array($0.events.values), $0.retiredEvents, $0.eventHelp)
        }
        let latency = latencyTotals()
        // One snapshot per worker, used for totals, live gauges and per-worker series.
        let snapshots = workers.map { (name: $0.name, counts: $0.snapshot()) }
        let live = snapshots.reduce(CounterSnapshot()) { $0 + $1.counts }
        let total = retired + live
        var out = ""
        out += "# HELP switchyard_http_responses_total Responses sent, by status code.\n"
        out += "# TYPE switchyard_http_responses_total counter\n"
        for (status, count) in total.responsesByStatus {
            out += "switchyard_http_responses_total{status=\"\(status.map(String.init) ?? "other")\"} \(count)\n"
        }
        out += "# HELP switchyard_routed_requests_total Requests that reached the router.\n"
        out += "# TYPE switchyard_routed_requests_total counter\n"
        out += "switchyard_routed_requests_total \(total.routedRequests)\n"
        out += "# HELP switchyard_connections_open Connections currently open.\n"
        out += "# TYPE switchyard_connections_open gauge\n"
        out += "switchyard_connections_open \(total.connectionsOpen)\n"
        out += "# HELP switchyard_connections_total Connections accepted.\n"
        out += "# TYPE switchyard_connections_total counter\n"
        out += "switchyard_connections_total \(total.connectionsOpened)\n"
        out += "# HELP switchyard_bytes_received_total Bytes read from clients.\n"
        out += "# TYPE switchyard_bytes_received_total counter\n"
        out += "switchyard_bytes_received_total \(total.bytesIn)\n"
        out += "# HELP switchyard_bytes_sent_total Bytes written to clients.\n"
        out += "# TYPE switchyard_bytes_sent_total counter\n"
        out += "switchyard_bytes_sent_total \(total.bytesOut)\n"
        // Pool gauges describe live workers only; retired workers hold no buffers.
        out += "# HELP switchyard_pool_buffers_in_use Pooled buffers lent out now.\n"
        out += "# TYPE switchyard_pool_buffers_in_use gauge\n"
        out += "switchyard_pool_buffers_in_use \(max(0, Int64(bitPattern: live.poolInUse)))\n"
        out += "# HELP switchyard_pool_buffers_high_water Most pooled buffers lent out at once (summed over workers).\n"
        out += "# TYPE switchyard_pool_buffers_high_water gauge\n"
        out += "switchyard_pool_buffers_high_water \(live.poolHighWater)\n"
        out += "# HELP switchyard_pool_misses_total Buffers that had to come from the system allocator.\n"
        out += "# TYPE switchyard_pool_misses_total counter\n"
        out += "switchyard_pool_misses_total \(total.poolMisses)\n"
        out += "# HELP switchyard_pool_released_bytes_total Bytes of free pooled buffers given back to the allocator by decay (--pool-decay).\n"
        out += "# TYPE switchyard_pool_released_bytes_total counter\n"
        out += "switchyard_pool_released_bytes_total \(total.poolReleasedBytes)\n"
        out += "# HELP switchyard_connections_closed_at_request_limit_total Keep-alive connections closed after --max-requests-per-connection requests.\n"
        out += "# TYPE switchyard_connections_closed_at_request_limit_total counter\n"
        out += "switchyard_connections_closed_at_request_limit_total \(total.requestLimitCloses)\n"
        out += "# HELP switchyard_late_responses_total Responses a handler deferred (respondLater) and answered in a later turn.\n"
        out += "# TYPE switchyard_late_responses_total counter\n"
        out += "switchyard_late_responses_total \(total.lateResponses)\n"
        out += "# HELP switchyard_stale_resumes_total Late answers dropped because their connection had closed, timed out or been replaced.\n"
        out += "# TYPE switchyard_stale_resumes_total counter\n"
        out += "switchyard_stale_resumes_total \(total.staleResumes)\n"
        out += "# HELP switchyard_overload_shed_total Requests the overload controller answered 503 without running their handler, by priority class.\n"
        out += "# TYPE switchyard_overload_shed_total counter\n"
        for (priority, name) in LatencyHistograms.classNames.enumerated() {
            out += "switchyard_overload_shed_total{class=\"\(name)\"} \(total.shed(priority: priority))\n"
        }
        out += "# HELP switchyard_overload_episodes_total Times a loop's overload controller entered its overloaded state.\n"
        out += "# TYPE switchyard_overload_episodes_total counter\n"
        out += "switchyard_overload_episodes_total \(total.overloadEpisodes)\n"
        out += "# HELP switchyard_open_descriptors File descriptors this process has open.\n"
        out += "# TYPE switchyard_open_descriptors gauge\n"
        out += "switchyard_open_descriptors \(openDescriptorCount())\n"
        out += latency.prometheusText()
        let named = snapshots.compactMap { w in w.name.map { (name: $0, counts: w.counts) } }.sorted { $0.name < $1.name }
        if !named.isEmpty {
            // One family per figure, a series per worker: what each event
            // loop says of itself (the threads engine's connection threads
            // have no name and no loop), then per-worker totals.
            func family(_ name: String, _ type: String, _ help: String, _ rows: [(worker: String, value: String)]) {
                guard !rows.isEmpty else { return }
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
                for row in rows { out += "\(name){worker=\"\(row.worker)\"} \(row.value)\n" }
            }
            family("switchyard_loop_queue_delay_seconds", "gauge",
                   "A loop's latest estimate of how long its oldest waiting request has waited.",
                   named.map { ($0.name, sampleText(Double($0.counts.queueDelayMicros) / 1_000_000)) })
            family("switchyard_loop_overloaded", "gauge", "1 while a loop's overload controller is in its overloaded state.",
                   named.map { ($0.name, $0.counts.overloaded ? "1" : "0") })
            family("switchyard_loop_utilization", "gauge", "Share of the last whole second a loop spent working rather than waiting.",
                   named.map { ($0.name, sampleText(Double($0.counts.utilizationPerMille) / 1000)) })
            family("switchyard_loop_busy_seconds_total", "counter", "Time a loop spent working rather than waiting (loop clock).",
                   named.map { ($0.name, sampleText(Double($0.counts.busyMicros) / 1_000_000)) })
            family("switchyard_loop_cpu_seconds_total", "counter", "CPU time (user and system) of a loop's thread.",
                   named.compactMap { w in w.counts.cpuClock.flatMap { threadCPUSeconds($0) }.map { (w.name, sampleText($0)) } })
            family("switchyard_worker_responses_total", "counter", "Responses sent by each long-lived worker.",
                   named.map { ($0.name, String($0.counts.responses)) })
            family("switchyard_worker_connections_open", "gauge", "Connections open on each long-lived worker.",
                   named.map { ($0.name, String($0.counts.connectionsOpen)) })
            family("switchyard_worker_connections_accepted_total", "counter", "Connections each long-lived worker took in (its share of the accept policy).",
                   named.map { ($0.name, String($0.counts.connectionsOpened)) })
            // Balance across loops, worked out on read: the busiest loop over
            // the mean (1 when all are equal, or all idle).
            func imbalance(_ values: [Double]) -> String { sampleText(Metrics.imbalance(values)) }
            out += "# HELP switchyard_loop_imbalance Busiest loop over the mean: live connections, connections accepted, utilisation of the last second.\n"
            out += "# TYPE switchyard_loop_imbalance gauge\n"
            out += "switchyard_loop_imbalance{measure=\"connections\"} \(imbalance(named.map { Double($0.counts.connectionsOpen) }))\n"
            out += "switchyard_loop_imbalance{measure=\"accepted\"} \(imbalance(named.map { Double($0.counts.connectionsOpened) }))\n"
            out += "switchyard_loop_imbalance{measure=\"busy\"} \(imbalance(named.map { Double($0.counts.utilizationPerMille) }))\n"
        }
        if !eventHelp.isEmpty {
            // Engine events (system calls by kind, io_uring conditions): one
            // family, labelled by event, and the same per loop.
            let perLoop = eventSets.map { (worker: $0.worker, counts: $0.snapshot()) }.sorted { $0.worker < $1.worker }
            let totals = perLoop.reduce(retiredEvents) { $0.merging($1.counts, uniquingKeysWith: &+) }
            let help = Set(eventHelp.values).sorted().joined(separator: "; ")
            out += "# HELP switchyard_engine_events_total Engine events by kind (\(help)).\n"
            out += "# TYPE switchyard_engine_events_total counter\n"
            for (name, count) in totals.sorted(by: { $0.key < $1.key }) {
                out += "switchyard_engine_events_total{event=\"\(name)\"} \(count)\n"
            }
            if !perLoop.isEmpty {
                out += "# HELP switchyard_worker_engine_events_total Engine events by kind, per loop.\n"
                out += "# TYPE switchyard_worker_engine_events_total counter\n"
                for loop in perLoop {
                    for (name, count) in loop.counts.sorted(by: { $0.key < $1.key }) {
                        out += "switchyard_worker_engine_events_total{worker=\"\(loop.worker)\",event=\"\(name)\"} \(count)\n"
                    }
                }
            }
        }
        let gaugeSets = state.withLock { Array($0.engineGauges.values) }.sorted { $0.worker < $1.worker }
        if !gaugeSets.isEmpty {
            out += "# HELP switchyard_worker_engine_state Engine state now, per loop (queue lengths).\n"
            out += "# TYPE switchyard_worker_engine_state gauge\n"
            for set in gaugeSets {
                for (name, value) in zip(set.names, set.read()) {
                    out += "switchyard_worker_engine_state{worker=\"\(set.worker)\",state=\"\(name)\"} \(value)\n"
                }
            }
        }
        for (name, entry) in state.withLock({ $0.labelledCounters }).sorted(by: { $0.key < $1.key }) {
            out += "# HELP \(name) \(entry.help)\n# TYPE \(name) counter\n"
            for (value, count) in entry.read() { out += "\(name){\(entry.label)=\"\(value)\"} \(count)\n" }
        }
        for (name, entry) in state.withLock({ $0.processValues }).sorted(by: { $0.key < $1.key }) {
            out += "# HELP \(name) \(entry.help)\n# TYPE \(name) \(entry.type)\n"
            out += "\(name) \(sampleText(entry.value))\n"
        }
        if !info.isEmpty {
            out += "# HELP switchyard_info Static facts about this server.\n"
            out += "# TYPE switchyard_info gauge\n"
            let labels = info.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
            out += "switchyard_info{\(labels)} 1\n"
        }
        return out
    }
}

/// CPU seconds on a thread's CPU-time clock; nil once the thread is gone.
func threadCPUSeconds(_ clock: Int32) -> Double? {
    var t = timespec()
    guard clock_gettime(clockid_t(clock), &t) == 0 else { return nil }
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Entries of /proc/self/fd, less the one the listing itself opens.
func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return 0 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        if entry.pointee.d_name.0 != 46 { count += 1 }  // not "." or ".."
    }
    return max(count - 1, 0)
}
