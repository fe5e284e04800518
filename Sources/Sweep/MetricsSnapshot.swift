/// The server's own `/metrics` (Prometheus text format) at one moment, so a
/// sweep can record what the server counted over the measured interval:
/// responses by status, connections accepted, pool misses, per-loop shares.
struct MetricsSnapshot: Sendable, Equatable {
    enum Kind: String, Sendable {
        case counter
        case gauge
        /// No `# TYPE` line, or a type we do not difference (histograms).
        case untyped
    }

    struct Sample: Sendable, Equatable {
        /// The series as written, labels included: `x_total{status="200"}`.
        var series: String
        var kind: Kind
        var value: Double
    }

    /// In the order the server wrote them.
    var samples: [Sample]

    /// Parses exposition text; lines that are not samples are skipped, so an
    /// unexpected line costs one series, not the whole snapshot.
    init(parsing text: String) {
        var kinds: [Substring: Kind] = [:]
        samples = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count >= 4 { kinds[parts[2]] = Kind(rawValue: String(parts[3])) ?? .untyped }
                continue
            }
            if line.hasPrefix("#") { continue }
            // The value follows the last space; label values may hold spaces.
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            samples.append(Sample(series: String(series), kind: kinds[name] ?? .untyped, value: value))
        }
    }

    /// What happened between `earlier` and this snapshot: counters as
    /// differences, gauges as their value now. A series that is new since
    /// `earlier` counts from zero.
    func since(_ earlier: MetricsSnapshot) -> [Sample] {
        var before: [String: Double] = [:]
        for sample in earlier.samples { before[sample.series] = sample.value }
        return samples.map { sample in
            guard sample.kind == .counter else { return sample }
            var delta = sample
            delta.value = sample.value - (before[sample.series] ?? 0)
            return delta
        }
    }
}
