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
        out += "  \"timeline\": [" + (samples.isEmpty ? "]" : "\n" + samples.joined(separator: ",\n") + "\n  ]") + "\n"
        out += "}\n"
        return out
    }

    // MARK: Formatting without Foundation

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
