#if canImport(Glibc)
import Glibc
#endif

/// One measurement: one line of results.csv.
///
/// Tidy data: one row per (point, repetition) attempt, one column per
/// variable, so a notebook loads it with `pandas.read_csv` and groups at will.
/// An empty cell means "does not apply" (threads of a reference server, rate
/// of a closed loop) or "not measured" (every metric of a failed run).
public struct ResultRow: Sendable, Equatable {
    public enum Status: String, Sendable {
        case ok
        case failed
    }

    // Identity: which point, which repetition, when.
    public var experiment: String
    public var pointID: String
    public var repetition: Int
    public var engine: String
    public var threads: Int?
    public var pin: String
    public var accept: String
    /// The point's `matrix.flags` variant, `key=value;key=value`; empty for none.
    public var flags: String
    public var connections: Int
    public var pipeline: Int
    /// Open-loop requests/s; nil for a closed loop.
    public var rate: Double?
    /// Empty for a closed loop, where arrivals do not apply.
    public var arrivals: String
    /// `HOT:SHARE` of a skewed open loop; empty when every connection is alike.
    public var skew: String
    public var status: Status
    /// Why a run failed, in the runner's words; empty when ok.
    public var reason: String

    // Throughput.
    public var requests: Int?
    public var rps: Double?
    public var bytesPerSecond: Double?

    // Latency percentiles, microseconds.
    public var p50: Double?
    public var p90: Double?
    public var p99: Double?
    public var p999: Double?
    public var max: Double?

    // Client-side errors by kind.
    public var errorsConnect: Int?
    public var errorsReset: Int?
    public var errorsTimeout: Int?
    public var errorsNon2xx: Int?
    public var errorsMalformed: Int?

    // What the load generator could not get answered, and how well an open
    // loop kept its schedule (empty for a closed loop).
    public var outstanding: Int?
    public var silentConnections: Int?
    public var scheduleSent: Int?
    public var scheduleLate: Int?
    /// CPU the load generator used over its run, as a fraction of one CPU:
    /// on a small machine it competes with the server, so it must stay small.
    public var loadCPUShare: Double?

    // Server cost, from getrusage/proc over the measured interval.
    public var cpuUserSeconds: Double?
    public var cpuSystemSeconds: Double?
    public var cpuMicrosecondsPerRequest: Double?
    public var contextSwitchesVoluntary: Int?
    public var contextSwitchesInvoluntary: Int?
    public var peakRSSKiB: Int?

    // Balance across the server's loops (every process's), busiest over the
    // mean: live connections at the window's end, connections accepted over
    // the server's life, busy time over the window. Empty for servers
    // without per-loop metrics.
    public var imbalanceConnections: Double?
    public var imbalanceAccepted: Double?
    public var imbalanceBusy: Double?

    /// UTC, ISO 8601 (`2026-11-25T22:10:09Z`); see `ResultRow.timestamp()`.
    public var startedAt: String

    /// A row with the identity columns filled from the run and no metrics
    /// yet: the runner fills those in, or marks it failed.
    public init(experiment: String, run: ScheduledRun, arrivals: Arrivals, startedAt: String) {
        let point = run.point
        self.experiment = experiment
        self.pointID = point.id
        self.repetition = run.repetition
        self.engine = point.engine
        self.threads = point.threads
        self.pin = point.pin ?? ""
        self.accept = point.accept ?? ""
        self.flags = point.flagsText
        self.connections = point.connections
        self.pipeline = point.pipeline
        self.rate = point.rate
        self.arrivals = point.rate == nil ? "" : arrivals.rawValue
        self.skew = point.skew ?? ""
        self.status = .ok
        self.reason = ""
        self.startedAt = startedAt
    }

    /// Marks the row failed; metrics already filled in are kept, since a
    /// partial measurement can still explain the failure.
    public mutating func fail(_ reason: String) {
        status = .failed
        self.reason = reason
    }

    /// The current time as `startedAt` wants it.
    public static func timestamp(epochSeconds: Int = Int(time(nil))) -> String {
        var seconds = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }
}

// MARK: Columns

/// One CSV column: its header name and how a row's field goes to and from text.
/// The table below is the single place that fixes the column order.
struct ResultColumn: Sendable {
    let name: String
    let encode: @Sendable (ResultRow) -> String
    /// Returns false when the text is not a valid value for the column.
    let decode: @Sendable (inout ResultRow, String) -> Bool
}

extension ResultColumn {
    static func text(_ name: String, _ field: WritableKeyPath<ResultRow, String> & Sendable) -> Self {
        Self(name: name, encode: { $0[keyPath: field] }, decode: { row, text in
            row[keyPath: field] = text
            return true
        })
    }

    static func int(_ name: String, _ field: WritableKeyPath<ResultRow, Int> & Sendable) -> Self {
        Self(name: name, encode: { String($0[keyPath: field]) }, decode: { row, text in
            guard let value = Int(text) else { return false }
            row[keyPath: field] = value
            return true
        })
    }

    static func optionalInt(_ name: String, _ field: WritableKeyPath<ResultRow, Int?> & Sendable) -> Self {
        Self(name: name, encode: { $0[keyPath: field].map(String.init) ?? "" }, decode: { row, text in
            if text.isEmpty { row[keyPath: field] = nil; return true }
            guard let value = Int(text) else { return false }
            row[keyPath: field] = value
            return true
        })
    }

    static func optionalDouble(_ name: String, _ field: WritableKeyPath<ResultRow, Double?> & Sendable) -> Self {
        Self(name: name, encode: { $0[keyPath: field].map(formatNumber) ?? "" }, decode: { row, text in
            if text.isEmpty { row[keyPath: field] = nil; return true }
            guard let value = Double(text) else { return false }
            row[keyPath: field] = value
            return true
        })
    }

    static let status = Self(name: "status", encode: { $0.status.rawValue }, decode: { row, text in
        guard let value = ResultRow.Status(rawValue: text) else { return false }
        row.status = value
        return true
    })

    static let all: [ResultColumn] = [
        .text("experiment", \.experiment),
        .text("point_id", \.pointID),
        .int("repetition", \.repetition),
        .text("engine", \.engine),
        .optionalInt("threads", \.threads),
        .text("pin", \.pin),
        .text("accept", \.accept),
        .text("flags", \.flags),
        .int("connections", \.connections),
        .int("pipeline", \.pipeline),
        .optionalDouble("rate", \.rate),
        .text("arrivals", \.arrivals),
        .text("skew", \.skew),
        .status,
        .text("reason", \.reason),
        .optionalInt("requests", \.requests),
        .optionalDouble("rps", \.rps),
        .optionalDouble("bytes_per_s", \.bytesPerSecond),
        .optionalDouble("p50_us", \.p50),
        .optionalDouble("p90_us", \.p90),
        .optionalDouble("p99_us", \.p99),
        .optionalDouble("p999_us", \.p999),
        .optionalDouble("max_us", \.max),
        .optionalInt("errors_connect", \.errorsConnect),
        .optionalInt("errors_reset", \.errorsReset),
        .optionalInt("errors_timeout", \.errorsTimeout),
        .optionalInt("errors_non2xx", \.errorsNon2xx),
        .optionalInt("errors_malformed", \.errorsMalformed),
        .optionalInt("outstanding", \.outstanding),
        .optionalInt("silent_connections", \.silentConnections),
        .optionalInt("schedule_sent", \.scheduleSent),
        .optionalInt("schedule_late", \.scheduleLate),
        .optionalDouble("load_cpu_share", \.loadCPUShare),
        .optionalDouble("cpu_user_s", \.cpuUserSeconds),
        .optionalDouble("cpu_system_s", \.cpuSystemSeconds),
        .optionalDouble("cpu_us_per_request", \.cpuMicrosecondsPerRequest),
        .optionalInt("ctx_switches_voluntary", \.contextSwitchesVoluntary),
        .optionalInt("ctx_switches_involuntary", \.contextSwitchesInvoluntary),
        .optionalInt("peak_rss_kib", \.peakRSSKiB),
        .optionalDouble("imbalance_connections", \.imbalanceConnections),
        .optionalDouble("imbalance_accepted", \.imbalanceAccepted),
        .optionalDouble("imbalance_busy", \.imbalanceBusy),
        .text("started_at", \.startedAt),
    ]
}
