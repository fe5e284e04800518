import Atomics

/// Log-linear latency buckets, as HDR histograms lay them out: four buckets
/// per power of two of microseconds, so every bucket is at most 25% wide
/// from 4 µs to 134 s, and finding one costs a count-leading-zeros and two
/// shifts. Values are whole microseconds.
///
///     µs:     0  1  2  3 | 4  5  6  7 | 8-9 10-11 12-13 14-15 | 16-19 …
///     index:  0  1  2  3 | 4  5  6  7 | 8   9     10    11    | 12    …
public enum LatencyBuckets {
    /// The last finite octave: [2^26, 2^27) µs, up to about 134 s.
    static let maxOctave = 26
    /// Finite buckets, then one for anything larger (`+Inf`): 4 + (maxOctave
    /// - 1) * 4 + 1. Written as a literal: a static computed from another
    /// static is initialized lazily, and every read would then pay a
    /// `swift_once` check (measured: about 100 instructions per request).
    public static let count = 105

    /// The bucket holding `micros` (negative values count as 0).
    @inline(__always)
    public static func index(micros: Int) -> Int {
        guard micros >= 4 else { return max(micros, 0) }
        let octave = (Int.bitWidth - 1) - micros.leadingZeroBitCount  // ≥ 2
        guard octave <= maxOctave else { return count - 1 }
        let quarter = (micros >> (octave - 2)) & 3
        return 4 + (octave - 2) * 4 + quarter
    }

    /// The largest value (µs) bucket `index` holds; nil for the `+Inf` bucket.
    public static func upperBound(_ index: Int) -> Int? {
        guard index < count - 1 else { return nil }
        guard index >= 4 else { return index }
        let octave = (index - 4) / 4 + 2
        let quarter = (index - 4) % 4
        return (1 << octave) + (quarter + 1) * (1 << (octave - 2)) - 1
    }
}

/// What a loop measured about its requests, by priority class: the time
/// from a request's first byte read to its response queued
/// (`requestDuration`), and the part of it the request spent waiting for the
/// loop (`queueDelay`).
public enum LatencyKind: Int, CaseIterable, Sendable {
    case requestDuration = 0
    case queueDelay = 1

    public var metricName: String {
        switch self {
        case .requestDuration: return "switchyard_request_duration_seconds"
        case .queueDelay: return "switchyard_queue_delay_seconds"
        }
    }
}

/// One worker's latency histograms: `LatencyKind` x three priority classes
/// x `LatencyBuckets.count`, plus a sum per histogram.
///
/// Ownership: as `WorkerCounters` (it is one of its parts): the owning
/// thread writes with relaxed load + store, any thread reads. Memory is
/// allocated once; recording allocates nothing and takes no lock.
public final class LatencyHistograms: @unchecked Sendable {
    /// Classes by their raw value (critical 0, normal 1, low 2), as HTTP1's
    /// `PriorityClass` numbers them.
    public static let classNames = ["critical", "normal", "low"]
    /// Literals, for the reason `LatencyBuckets.count` is one (tests check them).
    static let classCount = 3
    static let histogramCount = 6  // LatencyKind.allCases.count * classCount
    static let stride = 106  // LatencyBuckets.count buckets, then the sum (µs)

    // safety: `storage` holds `histogramCount * stride` atomics, allocated
    // in init, freed in deinit.
    private let storage: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    public init() {
        storage = .allocate(capacity: Self.histogramCount * Self.stride)
        storage.initialize(repeating: .init(0), count: Self.histogramCount * Self.stride)
    }

    deinit {
        storage.deinitialize(count: Self.histogramCount * Self.stride)
        storage.deallocate()
    }

    @inline(__always)
    private func base(_ kind: LatencyKind, _ priority: Int) -> Int {
        // Wrapping arithmetic: both are small (a kind, a class number),
        // and an overflow check per operation is a third of this code.
        (kind.rawValue &* Self.classCount &+ priority) &* Self.stride
    }

    @inline(__always)
    private func add(_ value: UInt64, at offset: Int) {
        let cell = UnsafeAtomic<UInt64>(at: storage + offset)
        cell.store(cell.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }

    /// Owner thread only: `count` requests of class `priority` took `micros` each.
    @inline(__always)
    public func record(_ kind: LatencyKind, priority: Int, micros: Int, count: Int = 1) {
        // Wrapping arithmetic, as in `base`: the offsets are small and the
        // sum of a histogram grows by µs, far from 2^64.
        let start = base(kind, priority), n = UInt64(truncatingIfNeeded: count)
        add(n, at: start &+ LatencyBuckets.index(micros: micros))
        add(UInt64(truncatingIfNeeded: max(micros, 0)) &* n, at: start &+ LatencyBuckets.count)
    }

    /// Owner thread only: `count` requests of class `priority` that waited
    /// `queueDelay` µs and took `duration` µs each, into both histograms
    /// with one call (a loop's turn of one request, the common case).
    public func record(priority: Int, queueDelay: Int, duration: Int, count: Int = 1) {
        record(.queueDelay, priority: priority, micros: queueDelay, count: count)
        record(.requestDuration, priority: priority, micros: duration, count: count)
    }

    /// Any thread: a copy of every bucket and sum.
    public func snapshot() -> LatencySnapshot {
        var s = LatencySnapshot()
        for i in 0..<(Self.histogramCount * Self.stride) {
            s.values[i] = UnsafeAtomic<UInt64>(at: storage + i).load(ordering: .relaxed)
        }
        return s
    }
}

/// Plain values copied out of one or more workers' histograms.
public struct LatencySnapshot: Sendable, Equatable {
    var values = [UInt64](repeating: 0, count: LatencyHistograms.histogramCount * LatencyHistograms.stride)

    public init() {}

    public static func + (a: LatencySnapshot, b: LatencySnapshot) -> LatencySnapshot {
        var s = a
        for i in 0..<s.values.count { s.values[i] &+= b.values[i] }
        return s
    }

    private func base(_ kind: LatencyKind, _ priority: Int) -> Int {
        (kind.rawValue * LatencyHistograms.classCount + priority) * LatencyHistograms.stride
    }

    /// Non-cumulative count of bucket `index`.
    public func count(_ kind: LatencyKind, priority: Int, bucket index: Int) -> UInt64 {
        values[base(kind, priority) + index]
    }

    /// Observations in a histogram.
    public func total(_ kind: LatencyKind, priority: Int) -> UInt64 {
        (0..<LatencyBuckets.count).reduce(0) { $0 &+ count(kind, priority: priority, bucket: $1) }
    }

    /// Sum of the observations, microseconds.
    public func sumMicros(_ kind: LatencyKind, priority: Int) -> UInt64 {
        values[base(kind, priority) + LatencyBuckets.count]
    }

    /// Prometheus histograms (cumulative `le` buckets in seconds, `_sum`,
    /// `_count`), one family per kind, a series set per class that has seen
    /// a request. Every bucket is written, empty or not, so that series from
    /// several processes can be summed bucket by bucket (`PrometheusMerge`).
    public func prometheusText() -> String {
        var out = ""
        for kind in LatencyKind.allCases {
            let help = kind == .requestDuration
                ? "Server-side time from a request's first byte read to its response queued, by priority class (loop clock, per turn)."
                : "Time a request waited for its loop before it was served, by priority class (loop clock, per turn)."
            out += "# HELP \(kind.metricName) \(help)\n# TYPE \(kind.metricName) histogram\n"
            for priority in 0..<LatencyHistograms.classNames.count {
                let total = total(kind, priority: priority)
                guard total > 0 else { continue }
                let label = "class=\"\(LatencyHistograms.classNames[priority])\""
                var cumulative: UInt64 = 0
                for i in 0..<(LatencyBuckets.count - 1) {
                    cumulative &+= count(kind, priority: priority, bucket: i)
                    let le = Double(LatencyBuckets.upperBound(i)!) / 1_000_000
                    out += "\(kind.metricName)_bucket{\(label),le=\"\(sampleText(le))\"} \(cumulative)\n"
                }
                out += "\(kind.metricName)_bucket{\(label),le=\"+Inf\"} \(total)\n"
                out += "\(kind.metricName)_sum{\(label)} \(sampleText(Double(sumMicros(kind, priority: priority)) / 1_000_000))\n"
                out += "\(kind.metricName)_count{\(label)} \(total)\n"
            }
        }
        return out
    }
}
