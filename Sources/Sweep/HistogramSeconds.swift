/// The server's latency histograms (`switchyard_request_duration_seconds`,
/// `switchyard_queue_delay_seconds`) read out of two /metrics snapshots a
/// second apart: how many requests fell in each bucket in between.
struct HistogramCell: Sendable, Equatable {
    /// `request_duration` or `queue_delay`.
    var histogram: String
    var priorityClass: String
    /// The bucket's upper bound as the server wrote it (`0.000895`, `+Inf`).
    var upperBound: String
    var count: Int
}

enum HistogramSeconds {
    static let families = ["switchyard_request_duration_seconds": "request_duration",
                           "switchyard_queue_delay_seconds": "queue_delay"]

    /// Whether a series belongs to one of the histograms (kept out of
    /// server-metrics.csv, whose rows are one value per measurement).
    static func isHistogramSeries(_ series: String) -> Bool {
        families.keys.contains { series.hasPrefix($0 + "_") }
    }

    /// Cumulative bucket counts by (histogram, class), in the order written
    /// (ascending `le`). Only the process total: in process mode the merged
    /// text also has each process's series (labelled `process=`), skipped.
    static func buckets(_ snapshot: MetricsSnapshot) -> [String: [(upperBound: String, cumulative: Double)]] {
        var out: [String: [(String, Double)]] = [:]
        for sample in snapshot.samples {
            guard let brace = sample.series.firstIndex(of: "{") else { continue }
            let name = String(sample.series[..<brace])
            guard name.hasSuffix("_bucket"), let histogram = families[String(name.dropLast(7))] else { continue }
            let labels = sample.series[brace...]
            guard !labels.contains("process="), let priority = label("class", in: labels),
                  let le = label("le", in: labels) else { continue }
            out[histogram + "\u{0}" + priority, default: []].append((le, sample.value))
        }
        return out
    }

    /// Requests per bucket between the two snapshots; empty buckets left out.
    static func cells(from earlier: MetricsSnapshot, to later: MetricsSnapshot) -> [HistogramCell] {
        let before = buckets(earlier)
        var cells: [HistogramCell] = []
        for (key, now) in buckets(later).sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            let then = Dictionary(before[key] ?? [], uniquingKeysWith: { a, _ in a })
            var previousNow = 0.0, previousThen = 0.0
            for (le, cumulative) in now {
                let cumulativeThen = then[le] ?? previousThen
                let count = Int((cumulative - previousNow) - (cumulativeThen - previousThen))
                if count > 0 {
                    cells.append(HistogramCell(histogram: String(parts[0]), priorityClass: String(parts[1]), upperBound: le, count: count))
                }
                previousNow = cumulative
                previousThen = cumulativeThen
            }
        }
        return cells
    }

    /// A label's value in `{a="x",b="y"}`.
    static func label(_ name: String, in labels: Substring) -> String? {
        guard let range = labels.range(of: name + "=\"") else { return nil }
        let rest = labels[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}
