/// server-metrics.csv: what each server said about itself over each
/// measurement, one row per series (long, tidy form), beside results.csv.
///
/// Only the project's engines have `/metrics`; reference servers get no rows.
/// Counters are differences over the measured interval, gauges their value at
/// its end. A row joins its results.csv row on (point_id, repetition,
/// started_at): a measurement that was retried has a new `started_at`.
///
/// Owned by one thread (the runner's); not Sendable on purpose.
public final class ServerMetricsCSV {
    public struct Row: Sendable, Equatable {
        public var experiment: String
        public var pointID: String
        public var repetition: Int
        public var startedAt: String
        /// The series as the server named it, labels included.
        public var series: String
        /// `counter` (a difference), `gauge` (the value at the end) or `untyped`.
        public var kind: String
        public var value: Double

        public init(experiment: String, pointID: String, repetition: Int, startedAt: String, series: String,
                    kind: String, value: Double) {
            self.experiment = experiment
            self.pointID = pointID
            self.repetition = repetition
            self.startedAt = startedAt
            self.series = series
            self.kind = kind
            self.value = value
        }
    }

    public static let header = ["experiment", "point_id", "repetition", "started_at", "series", "kind", "value"]

    private let file: LongCSV

    /// Opens (creating if needed) the file; an existing one must have this header.
    public init(path: String) throws(ResultsError) {
        file = try LongCSV(path: path, header: Self.header)
    }

    /// Writes one measurement's rows in one write, then fsyncs.
    public func append(_ rows: [Row]) throws(ResultsError) {
        try file.append(rows.map { row in
            [row.experiment, row.pointID, String(row.repetition), row.startedAt, row.series, row.kind, formatNumber(row.value)]
        })
    }

    /// Every row of a file (for tests and tools); a missing file has none.
    public static func read(path: String) throws(ResultsError) -> [Row] {
        try LongCSV.records(path: path, header: header).enumerated().map { (index, record) throws(ResultsError) in
            guard let repetition = Int(record[2]), let value = Double(record[6]) else {
                throw ResultsError(message: "\(path): record \(index + 2) is malformed")
            }
            return Row(experiment: record[0], pointID: record[1], repetition: repetition, startedAt: record[3],
                       series: record[4], kind: record[5], value: value)
        }
    }
}
