/// latency-by-class.csv: the latency of each request class (each entry of
/// the spec's `mix`) in each measurement, one row per class (long, tidy
/// form), beside results.csv, whose overall percentiles mix the classes. A
/// row joins its results.csv row on (point_id, repetition, started_at).
///
/// Owned by one thread (the runner's); not Sendable on purpose.
public final class ClassLatencyCSV {
    public struct Row: Sendable, Equatable {
        public var experiment: String
        public var pointID: String
        public var repetition: Int
        public var startedAt: String
        /// The class's request path, as in the mix.
        public var path: String
        public var weight: Double
        public var responses: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public var mean: Double
        /// Responses with a 2xx status, and those within the spec's SLO (nil: none set).
        public var responses2xx = 0
        public var withinSLO: Int?

        public init(experiment: String, pointID: String, repetition: Int, startedAt: String, path: String, weight: Double,
                    responses: Int, p50: Double, p90: Double, p99: Double, p999: Double, max: Double, mean: Double,
                    responses2xx: Int = 0, withinSLO: Int? = nil) {
            self.responses2xx = responses2xx
            self.withinSLO = withinSLO
            self.experiment = experiment
            self.pointID = pointID
            self.repetition = repetition
            self.startedAt = startedAt
            self.path = path
            self.weight = weight
            self.responses = responses
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.p999 = p999
            self.max = max
            self.mean = mean
        }
    }

    public static let header = [
        "experiment", "point_id", "repetition", "started_at", "class", "weight", "responses",
        "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us", "responses_2xx", "within_slo",
    ]

    private let file: LongCSV

    public init(path: String) throws(ResultsError) {
        file = try LongCSV(path: path, header: Self.header)
    }

    public func append(_ rows: [Row]) throws(ResultsError) {
        try file.append(rows.map { row in
            [row.experiment, row.pointID, String(row.repetition), row.startedAt, row.path, formatNumber(row.weight),
             String(row.responses)] + [row.p50, row.p90, row.p99, row.p999, row.max, row.mean].map(formatNumber)
                + [String(row.responses2xx), row.withinSLO.map(String.init) ?? ""]
        })
    }

    /// Every row of a file (for tests and tools); a missing file has none.
    public static func read(path: String) throws(ResultsError) -> [Row] {
        try LongCSV.records(path: path, header: header).enumerated().map { (index, r) throws(ResultsError) in
            let numbers = r[7..<13].compactMap(Double.init)
            guard let repetition = Int(r[2]), let weight = Double(r[5]), let responses = Int(r[6]), numbers.count == 6 else {
                throw ResultsError(message: "\(path): record \(index + 2) is malformed")
            }
            var row = Row(experiment: r[0], pointID: r[1], repetition: repetition, startedAt: r[3], path: r[4], weight: weight,
                          responses: responses, p50: numbers[0], p90: numbers[1], p99: numbers[2], p999: numbers[3],
                          max: numbers[4], mean: numbers[5])
            row.responses2xx = Int(r[13]) ?? 0
            row.withinSLO = Int(r[14])
            return row
        }
    }
}
