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
        var gauges: [String: String] = [:]
        var events: [ObjectIdentifier: EventCounters] = [:]
        var retiredEvents: [String: UInt64] = [:]
        /// Help text by event name, kept after the loops are gone.
        var eventHelp: [String: String] = [:]
        var engineGauges: [ObjectIdentifier: EngineGauges] = [:]
        /// Process-level values (configuration generation, last reload), by name.
        var processValues: [String: (help: String, type: String, value: Double)] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public func register(_ counters: WorkerCounters) {
        state.withLock { $0.live[ObjectIdentifier(counters)] = counters }
    }

    /// Folds the worker's final counts into the totals and forgets it.
    public func retire(_ counters: WorkerCounters) {
        let last = counters.snapshot()
        state.withLock {
            $0.live[ObjectIdentifier(counters)] = nil
            $0.retired = $0.retired + last
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

    public func totals() -> CounterSnapshot {
        let (workers, retired) = state.withLock { (Array($0.live.values), $0.retired) }
        return workers.reduce(retired) { $0 + $1.snapshot() }
    }

    /// Renders the Prometheus text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        let (workers, retired, info, eventSets, retiredEvents, eventHelp) = state.withLock {
            (Array($0.live.values), $0.retired, $0.gauges, Array($0.events.values), $0.retiredEvents, $0.eventHelp)
        }
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
        out += "# HELP switchyard_connections_closed_at_request_limit_total Keep-alive connections closed after --max-requests-per-connection requests.\n"
        out += "# TYPE switchyard_connections_closed_at_request_limit_total counter\n"
        out += "switchyard_connections_closed_at_request_limit_total \(total.requestLimitCloses)\n"
        let named = snapshots.compactMap { w in w.name.map { (name: $0, counts: w.counts) } }.sorted { $0.name < $1.name }
        if !named.isEmpty {
            out += "# HELP switchyard_worker_responses_total Responses sent by each long-lived worker.\n"
            out += "# TYPE switchyard_worker_responses_total counter\n"
            for w in named {
                out += "switchyard_worker_responses_total{worker=\"\(w.name)\"} \(w.counts.responses)\n"
            }
            out += "# HELP switchyard_worker_connections_open Connections open on each long-lived worker.\n"
            out += "# TYPE switchyard_worker_connections_open gauge\n"
            for w in named {
                out += "switchyard_worker_connections_open{worker=\"\(w.name)\"} \(w.counts.connectionsOpen)\n"
            }
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
            out += "# HELP switchyard_worker_engine_gauge Engine state now, per loop (queue lengths).\n"
            out += "# TYPE switchyard_worker_engine_gauge gauge\n"
            for set in gaugeSets {
                for (name, value) in zip(set.names, set.read()) {
                    out += "switchyard_worker_engine_gauge{worker=\"\(set.worker)\",gauge=\"\(name)\"} \(value)\n"
                }
            }
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
