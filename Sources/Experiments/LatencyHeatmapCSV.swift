/// latency-heatmap.csv: the server's own latency histograms second by
/// second over each measurement (the sweep scrapes /metrics once a second),
/// one row per non-empty bucket per second, so `make report` can draw a heat
/// map (time x latency bucket, colour = count). A row joins its results.csv
/// row on (point_id, repetition, started_at).
///
/// Owned by one thread (the runner's); not Sendable on purpose.
public final class LatencyHeatmapCSV {
    public struct Row: Sendable, Equatable {
        public var experiment: String
        public var pointID: String
        public var repetition: Int
        public var startedAt: String
        /// Whole seconds since the measured window began.
        public var second: Int
        /// `request_duration` or `queue_delay`.
        public var histogram: String
        /// The priority class: critical, normal, low.
        public var priorityClass: String
        /// The bucket's upper bound in seconds; `+Inf` for the last.
        public var upperBound: String
        /// Requests in that bucket during that second (not cumulative).
        public var count: Int

        public init(experiment: String, pointID: String, repetition: Int, startedAt: String, second: Int,
                    histogram: String, priorityClass: String, upperBound: String, count: Int) {
            self.experiment = experiment
            self.pointID = pointID
            self.repetition = repetition
            self.startedAt = startedAt
            self.second = second
            self.histogram = histogram
            self.priorityClass = priorityClass
            self.upperBound = upperBound
            self.count = count
        }
    }

    public static let header = ["experiment", "point_id", "repetition", "started_at", "second", "histogram", "class",
                                "le_seconds", "count"]

    private let file: LongCSV

    public init(path: String) throws(ResultsError) {
        file = try LongCSV(path: path, header: Self.header)
    }

    public func append(_ rows: [Row]) throws(ResultsError) {
        try file.append(rows.map { row in
            [row.experiment, row.pointID, String(row.repetition), row.startedAt, String(row.second), row.histogram,
             row.priorityClass, row.upperBound, String(row.count)]
        })
    }

    public static func read(path: String) throws(ResultsError) -> [Row] {
        try LongCSV.records(path: path, header: header).enumerated().map { (index, record) throws(ResultsError) in
            guard let repetition = Int(record[2]), let second = Int(record[4]), let count = Int(record[8]) else {
                throw ResultsError(message: "\(path): record \(index + 2) is malformed")
            }
            return Row(experiment: record[0], pointID: record[1], repetition: repetition, startedAt: record[3], second: second,
                       histogram: record[5], priorityClass: record[6], upperBound: record[7], count: count)
        }
    }
}
