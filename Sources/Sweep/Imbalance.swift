/// Balance across a server's loops from its per-loop series over one
/// measured window, as `results.csv` records it.
extension SweepRunner {
    /// Busiest over mean of live connections (at the window's end),
    /// connections accepted and busy time (over the window), across every
    /// loop of every process; nil where the server has no per-loop series.
    static func imbalances(_ samples: [MetricsSnapshot.Sample]) -> (Double?, Double?, Double?) {
        (imbalance("switchyard_worker_connections_open", samples),
         imbalance("switchyard_worker_connections_accepted_total", samples),
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
