import Histogram

/// What went wrong with a request or connection.
public enum ErrorKind: String, Sendable, CaseIterable, Hashable, Comparable {
    /// The connection could not be opened (refused, unreachable, timed out).
    case connect
    /// The server reset or closed the connection with requests in flight.
    case reset
    /// A request got no complete response within `timeout`.
    case timeout
    /// A complete response whose status was not 2xx.
    case non2xx
    /// Bytes that are not a well-framed HTTP/1.x response.
    case malformed

    public static func < (a: ErrorKind, b: ErrorKind) -> Bool { a.index < b.index }

    /// Position in `allCases`, without building that array on a hot path.
    var index: Int {
        switch self {
        case .connect: 0
        case .reset: 1
        case .timeout: 2
        case .non2xx: 3
        case .malformed: 4
        }
    }
}

/// Latency percentiles in microseconds.
public struct LatencySummary: Sendable, Equatable {
    public var p50: Int
    public var p90: Int
    public var p99: Int
    public var p999: Int
    public var max: Int
    public var mean: Double
    public var count: Int

    public init(p50: Int = 0, p90: Int = 0, p99: Int = 0, p999: Int = 0, max: Int = 0, mean: Double = 0, count: Int = 0) {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.mean = mean
        self.count = count
    }
}

extension LatencySummary {
    /// The percentiles of a histogram (empty: all zero).
    init(_ histogram: Histogram<UInt64>) {
        guard histogram.totalCount > 0 else {
            self.init()
            return
        }
        self.init(p50: Int(histogram.valueAtPercentile(50)), p90: Int(histogram.valueAtPercentile(90)),
                  p99: Int(histogram.valueAtPercentile(99)), p999: Int(histogram.valueAtPercentile(99.9)),
                  max: Int(histogram.maxRecorded), mean: histogram.mean, count: Int(histogram.totalCount))
    }
}

/// The latency of one `--mix` entry (a request class).
public struct ClassLatency: Sendable, Equatable {
    public var path: String
    public var weight: Double
    /// Latency of every response, whatever its status.
    public var latency: LatencySummary
    /// Responses with a 2xx status.
    public var responses2xx = 0
    /// 2xx responses within the run's SLO; nil without one.
    public var withinSLO: Int?

    public init(path: String, weight: Double, latency: LatencySummary) {
        self.path = path
        self.weight = weight
        self.latency = latency
    }
}

/// How well an open-loop run kept its schedule.
public struct ScheduleAdherence: Sendable, Equatable {
    /// Requests due in the window that were sent.
    public var sent: Int
    /// Of those, sent more than `slackMicroseconds` after their intended time
    /// (the generator was behind, or no connection was free).
    public var late: Int
    public var slackMicroseconds: Int

    public init(sent: Int, late: Int, slackMicroseconds: Int) {
        self.sent = sent
        self.late = late
        self.slackMicroseconds = slackMicroseconds
    }

    /// Fraction sent on schedule (1 when nothing was due).
    public var onSchedule: Double { sent > 0 ? Double(sent - late) / Double(sent) : 1 }
    /// Below this the run's latencies describe the generator as much as the
    /// server (Caladan's generator aborts such a run).
    public static let acceptable = 0.95
    public var isKept: Bool { onSchedule >= Self.acceptable }
}

/// One second of the measured window.
public struct SecondSample: Sendable, Equatable {
    /// 0 is the first measured second.
    public var second: Int
    /// Responses completed in this second.
    public var requests: Int
    /// 99th percentile latency of those responses, in microseconds.
    public var p99: Int
    public var errors: Int

    public init(second: Int, requests: Int, p99: Int, errors: Int) {
        self.second = second
        self.requests = requests
        self.p99 = p99
        self.errors = errors
    }
}

/// The outcome of one run, over the measured window only.
public struct LoadReport: Sendable {
    /// Complete responses received (any status).
    public var requests: Int
    public var responses2xx: Int
    public var bytesReceived: Int
    /// Seconds actually measured.
    public var elapsed: Double
    public var requestsPerSecond: Double
    public var bytesPerSecond: Double
    public var latency: LatencySummary
    public var errors: [ErrorKind: Int]
    public var timeline: [SecondSample]
    /// Latency per `--mix` entry, in mix order.
    public var classes: [ClassLatency] = []
    /// The latency objective goodput is counted against (seconds); nil: none.
    public var slo: Double?
    /// 2xx responses within the SLO per second, over every class.
    public var goodput: Double? {
        guard slo != nil, elapsed > 0 else { return nil }
        return Double(classes.reduce(0) { $0 + ($1.withinSLO ?? 0) }) / elapsed
    }
    /// Requests sent (or, open loop, due) and not answered when the window closed.
    public var outstanding = 0
    /// Connections that never received a response (refused, or starved by a
    /// server that accepts fewer clients than were offered).
    public var silentConnections = 0
    /// Open loop only.
    public var schedule: ScheduleAdherence?

    public init(requests: Int, responses2xx: Int, bytesReceived: Int, elapsed: Double,
                latency: LatencySummary, errors: [ErrorKind: Int], timeline: [SecondSample]) {
        self.requests = requests
        self.responses2xx = responses2xx
        self.bytesReceived = bytesReceived
        self.elapsed = elapsed
        self.requestsPerSecond = elapsed > 0 ? Double(requests) / elapsed : 0
        self.bytesPerSecond = elapsed > 0 ? Double(bytesReceived) / elapsed : 0
        self.latency = latency
        self.errors = errors
        self.timeline = timeline
    }

    /// A table in the spirit of wrk's output, for people.
    public func text() -> String {
        var out = ""
        out += "  Latency      p50 \(Self.time(latency.p50))  p90 \(Self.time(latency.p90))  p99 \(Self.time(latency.p99))"
        out += "  p99.9 \(Self.time(latency.p999))  max \(Self.time(latency.max))  mean \(Self.time(Int(latency.mean.rounded())))\n"
        out += "  \(requests) requests in \(Self.fixed(elapsed, 2))s, \(Self.bytes(Double(bytesReceived))) read\n"
        let failures = ErrorKind.allCases.compactMap { kind in
            errors[kind].flatMap { $0 > 0 ? "\(kind.rawValue) \($0)" : nil }
        }
        if !failures.isEmpty {
            out += "  Errors: \(failures.joined(separator: ", "))\n"
        }
        if responses2xx != requests {
            out += "  Non-2xx responses: \(requests - responses2xx)\n"
        }
        if classes.count > 1 {
            for c in classes {
                out += "  \(c.path) (weight \(Self.number(c.weight))): p50 \(Self.time(c.latency.p50))  p99 \(Self.time(c.latency.p99))"
                out += "  p99.9 \(Self.time(c.latency.p999))  max \(Self.time(c.latency.max))  (\(c.latency.count) responses, \(c.responses2xx) 2xx"
                out += (c.withinSLO.map { ", \($0) within the SLO" } ?? "") + ")\n"
            }
        }
        if outstanding > 0 || silentConnections > 0 {
            out += "  Unanswered when the window closed: \(outstanding) requests; \(silentConnections) connections never got a response\n"
        }
        if let schedule {
            out += "  Schedule: \(schedule.sent - schedule.late) of \(schedule.sent) sends within \(Self.time(schedule.slackMicroseconds))"
            out += " of their intended time (\(Self.fixed(schedule.onSchedule * 100, 1))%)\n"
            if !schedule.isKept {
                out += "  Warning: under \(Int(ScheduleAdherence.acceptable * 100))% of sends kept the schedule: the generator (or too few"
                out += " connections) shaped these latencies; use more connections, threads or a lower rate\n"
            }
        }
        if let slo, let goodput {
            out += "  Goodput: \(Self.fixed(goodput, 2)) 2xx responses/s within the SLO of \(Self.time(Int(slo * 1e6)))\n"
        }
        out += "Requests/sec: \(Self.fixed(requestsPerSecond, 2))\n"
        out += "Transfer/sec: \(Self.bytes(bytesPerSecond))\n"
        if timeline.count > 1 {
            out += "  second  requests       p99  errors\n"
            for sample in timeline {
                out += "  " + Self.pad(String(sample.second), 6) + Self.pad(String(sample.requests), 10)
                out += Self.pad(Self.time(sample.p99), 10) + Self.pad(String(sample.errors), 8) + "\n"
            }
        }
        return out
    }

    /// Machine-readable output with a fixed key order, so diffs stay small.
    public func json() -> String {
        var out = "{\n"
        out += "  \"requests\": \(requests),\n"
        out += "  \"responses2xx\": \(responses2xx),\n"
        out += "  \"bytesReceived\": \(bytesReceived),\n"
        out += "  \"elapsed\": \(Self.number(elapsed)),\n"
        out += "  \"requestsPerSecond\": \(Self.number(requestsPerSecond)),\n"
        out += "  \"bytesPerSecond\": \(Self.number(bytesPerSecond)),\n"
        out += "  \"latencyMicroseconds\": {\"p50\": \(latency.p50), \"p90\": \(latency.p90), \"p99\": \(latency.p99), "
        out += "\"p999\": \(latency.p999), \"max\": \(latency.max), \"mean\": \(Self.number(latency.mean)), \"count\": \(latency.count)},\n"
        let errorFields = ErrorKind.allCases.map { "\"\($0.rawValue)\": \(errors[$0] ?? 0)" }
        out += "  \"errors\": {\(errorFields.joined(separator: ", "))},\n"
        let samples = timeline.map {
            "    {\"second\": \($0.second), \"requests\": \($0.requests), \"p99\": \($0.p99), \"errors\": \($0.errors)}"
        }
        let classFields = classes.map { c in
            "    {\"path\": \(Self.quoted(c.path)), \"weight\": \(Self.number(c.weight)), \"latencyMicroseconds\": {\"p50\": \(c.latency.p50), "
                + "\"p90\": \(c.latency.p90), \"p99\": \(c.latency.p99), \"p999\": \(c.latency.p999), \"max\": \(c.latency.max), "
                + "\"mean\": \(Self.number(c.latency.mean)), \"count\": \(c.latency.count)}, \"responses2xx\": \(c.responses2xx), "
                + "\"withinSLO\": \(c.withinSLO.map(String.init) ?? "null")}"
        }
        out += "  \"classes\": [" + (classFields.isEmpty ? "]" : "\n" + classFields.joined(separator: ",\n") + "\n  ]") + ",\n"
        out += "  \"outstanding\": \(outstanding),\n"
        out += "  \"silentConnections\": \(silentConnections),\n"
        if let schedule {
            out += "  \"schedule\": {\"sent\": \(schedule.sent), \"late\": \(schedule.late), \"slackMicroseconds\": \(schedule.slackMicroseconds), "
            out += "\"onSchedule\": \(Self.number(schedule.onSchedule)), \"kept\": \(schedule.isKept)},\n"
        } else {
            out += "  \"schedule\": null,\n"
        }
        out += "  \"timeline\": [" + (samples.isEmpty ? "]" : "\n" + samples.joined(separator: ",\n") + "\n  ]") + "\n"
        out += "}\n"
        return out
    }

    // MARK: Formatting without Foundation

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u00" + String(scalar.value, radix: 16).leftPadded(2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A finite JSON number (NaN and infinity are not JSON).
    static func number(_ value: Double) -> String {
        value.isFinite ? fixed(value, 3) : "0"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return String(value) }
        let whole = Int(scaled) / Int(scale)
        let fraction = Int(scaled) % Int(scale)
        var fractionText = String(fraction)
        while fractionText.count < digits { fractionText = "0" + fractionText }
        let sign = value < 0 && scaled > 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fractionText)"
    }

    static func time(_ microseconds: Int) -> String {
        if microseconds < 1000 { return "\(microseconds)us" }
        if microseconds < 1_000_000 { return fixed(Double(microseconds) / 1000, 2) + "ms" }
        return fixed(Double(microseconds) / 1_000_000, 2) + "s"
    }

    static func bytes(_ count: Double) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = count
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return fixed(value, 2) + units[unit]
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
