import Experiments

/// The table a sweep prints at the end: one line per point, medians over
/// its successful repetitions, and ratios to the spec's first engine on the
/// same load (connections, pipeline depth, rate).
///
/// Medians, not means: one repetition disturbed by the machine moves a
/// mean, not a median of three.
public struct Summary: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var pointID: String
        public var engine: String
        public var threads: String
        public var pin: String
        public var accept: String
        /// The `matrix.flags` variant, `key=value;...`; empty for none.
        public var flags: String
        public var connections: Int
        public var pipeline: Int
        /// "closed" or the open-loop rate.
        public var load: String
        /// Successful repetitions / all recorded attempts.
        public var okRuns: Int
        public var failedRuns: Int
        public var rps: Double?
        public var p50: Double?
        public var p99: Double?
        public var cpuPerRequest: Double?
        /// This line over the baseline line; nil for the baseline itself or
        /// when either has no data.
        public var rpsRatio: Double?
        public var p99Ratio: Double?
        public var cpuRatio: Double?
        /// The last failure's reason when no repetition succeeded.
        public var failure: String?
    }

    public var lines: [Line]
    /// The engine the ratios are to.
    public var baseline: String?

    /// Builds the summary of `rows` (this experiment's results, any order)
    /// for the points of `spec`, in the spec's point order.
    public init(spec: ExperimentSpec, rows: [ResultRow]) {
        let mine = rows.filter { $0.experiment == spec.name }
        var byPoint: [String: [ResultRow]] = [:]
        for row in mine { byPoint[row.pointID, default: []].append(row) }
        baseline = spec.matrix.engines.first { engine in mine.contains { $0.engine == engine && $0.status == .ok } }

        var lines: [Line] = []
        for point in spec.points {
            let attempts = byPoint[point.id] ?? []
            guard !attempts.isEmpty else { continue }
            let ok = attempts.filter { $0.status == .ok }
            lines.append(Line(
                pointID: point.id, engine: point.engine, threads: point.threadsText, pin: point.pinText,
                accept: point.acceptText, flags: point.flagsText, connections: point.connections, pipeline: point.pipeline,
                load: point.rateText + (point.skew.map { " skew \($0)" } ?? ""), okRuns: ok.count, failedRuns: attempts.count - ok.count,
                rps: median(ok.compactMap(\.rps)), p50: median(ok.compactMap(\.p50)),
                p99: median(ok.compactMap(\.p99)), cpuPerRequest: median(ok.compactMap(\.cpuMicrosecondsPerRequest)),
                failure: ok.isEmpty ? attempts.last?.reason : nil))
        }
        if let baseline {
            // The reference configuration is the baseline engine with the
            // spec's first flags variant; the baseline's other variants are
            // compared to it too, so a one-engine feature sweep has ratios.
            let baselineFlags = spec.matrix.flags.first?.text ?? ""
            for index in lines.indices where !(lines[index].engine == baseline && lines[index].flags == baselineFlags) {
                guard let reference = Self.baselineLine(
                    for: lines[index], among: lines, baseline: baseline, baselineFlags: baselineFlags)
                else { continue }
                lines[index].rpsRatio = ratio(lines[index].rps, reference.rps)
                lines[index].p99Ratio = ratio(lines[index].p99, reference.p99)
                lines[index].cpuRatio = ratio(lines[index].cpuPerRequest, reference.cpuPerRequest)
            }
        }
        self.lines = lines
    }

    /// The baseline engine's line under the same load. For another engine,
    /// the one that matches the most of flags, threads, pin and accept, so
    /// epoll with 2 threads compares to the baseline with 2 threads; for the
    /// baseline's own flag variants, its line with the first variant.
    static func baselineLine(for line: Line, among lines: [Line], baseline: String, baselineFlags: String = "")
        -> Line?
    {
        let candidates = lines.filter {
            $0.engine == baseline && $0.connections == line.connections && $0.pipeline == line.pipeline
                && $0.load == line.load && (line.engine != baseline || $0.flags == baselineFlags)
        }
        return candidates.max { score($0, line) < score($1, line) }
    }

    private static func score(_ candidate: Line, _ line: Line) -> Int {
        (candidate.flags == line.flags ? 8 : 0) + (candidate.threads == line.threads ? 4 : 0)
            + (candidate.pin == line.pin ? 2 : 0) + (candidate.accept == line.accept ? 1 : 0)
    }

    /// The table as aligned text, for the terminal and summary.txt.
    public func text() -> String {
        let ratioHeader = baseline.map { "× \($0)" } ?? "×"
        var table: [[String]] = [[
            "engine", "threads", "pin", "accept", "flags", "conns", "pipe", "load", "runs", "req/s", "p50 µs", "p99 µs",
            "cpu µs/req", "req/s \(ratioHeader)", "p99 \(ratioHeader)", "cpu \(ratioHeader)",
        ]]
        for line in lines {
            let runs = line.failedRuns == 0 ? "\(line.okRuns)" : "\(line.okRuns)+\(line.failedRuns)✗"
            table.append([
                line.engine, line.threads, line.pin, line.accept, line.flags.isEmpty ? "-" : line.flags,
                "\(line.connections)", "\(line.pipeline)", line.load,
                runs, grouped(line.rps), fixed(line.p50, 0), fixed(line.p99, 0), fixed(line.cpuPerRequest, 2),
                fixed(line.rpsRatio, 2), fixed(line.p99Ratio, 2), fixed(line.cpuRatio, 2),
            ])
        }
        // The flags column only when some point has flags: most sweeps have none.
        let showsFlags = lines.contains { !$0.flags.isEmpty }
        if !showsFlags {
            for index in table.indices { table[index].remove(at: 4) }
        }
        let textColumns = showsFlags ? 5 : 4
        let widths = (0..<table[0].count).map { column in table.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for (index, row) in table.enumerated() {
            let cells = row.enumerated().map { column, cell in
                // Text columns left-aligned, numbers right-aligned.
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column < textColumns ? cell + pad : pad + cell
            }
            text += cells.joined(separator: "  ") + "\n"
            if index == 0 { text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        for line in lines where line.failure != nil {
            text += "failed: \(line.pointID): \(line.failure!)\n"
        }
        return text
    }
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

private func ratio(_ value: Double?, _ base: Double?) -> Double? {
    guard let value, let base, base > 0 else { return nil }
    return value / base
}

/// 135210 → "135,210"; nil → "-".
func grouped(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    let digits = String(Int64(value.rounded()))
    var result = ""
    for (index, character) in digits.reversed().enumerated() {
        if index > 0, index % 3 == 0, character != "-" { result.append(",") }
        result.append(character)
    }
    return String(result.reversed())
}

/// Fixed decimals without Foundation; nil → "-".
func fixed(_ value: Double?, _ decimals: Int) -> String {
    guard let value, value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((abs(value) * scale).rounded())
    let whole = scaled / Int64(scale)
    let fraction = scaled % Int64(scale)
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}
