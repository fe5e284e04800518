/// Balance across a server's loops from its per-loop series over one
/// measured window, as `results.csv` records it.
extension SweepRunner {
    /// Busiest over mean, across every loop of every process, of live
    /// connections at the window's end and busy time over the window (from
    /// `samples`, the window's differences and end gauges), and of
    /// connections accepted over the server's life (from `totals`, the
    /// counters at the window's end: long-lived connections are accepted
    /// during the warm-up, and in the window the only new ones are the
    /// runner's own scrapes). nil where the server has no per-loop series.
    /// Both counts include the runner's scrape connections: one open at the
    /// window's end, and a few accepted (its health polls and scrapes).
    static func imbalances(_ samples: [MetricsSnapshot.Sample], totals: [MetricsSnapshot.Sample]) -> (Double?, Double?, Double?) {
        (imbalance("switchyard_worker_connections_open", samples),
         imbalance("switchyard_worker_connections_accepted_total", totals),
         imbalance("switchyard_loop_busy_seconds_total", samples))
    }

    /// In process mode the merged text has each loop once per process
    /// (labelled `process=`) and a sum over processes per loop name; only
    /// the former are loops.
    static func imbalance(_ family: String, _ samples: [MetricsSnapshot.Sample]) -> Double? {
        let loops = samples.filter { $0.series.hasPrefix(family + "{") && $0.series.contains("worker=") }
        let perProcess = loops.filter { $0.series.contains("process=") }
        let values = (perProcess.isEmpty ? loops : perProcess).map(\.value)
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        return mean > 0 ? (values.max()! / mean * 1000).rounded() / 1000 : 1
    }
}
