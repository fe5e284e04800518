import Glibc
import Synchronization

/// What to send, how hard, and for how long.
public struct LoadConfiguration: Sendable {
    /// An IPv4 or IPv6 literal (brackets optional), "localhost", or a name
    /// for the resolver (its first address, either family).
    public var host: String
    public var port: Int
    /// Weighted request paths, e.g. `[("/work?us=2", 99), ("/work?us=500", 1)]`.
    public var mix: [(path: String, weight: Double)]
    public var connections: Int = 64
    /// Requests in flight per connection. Closed loop keeps exactly this many;
    /// open loop treats a connection as free while it has fewer.
    public var pipeline: Int = 1
    /// Seconds of measurement.
    public var duration: Double = 10
    /// Seconds run before measuring, so caches, JITs and pools are warm.
    public var warmup: Double = 0
    /// Open loop: total requests per second over all threads; nil = closed loop.
    public var rate: Double? = nil
    /// Spacing of open-loop arrivals.
    public var arrivals: Arrivals = .constant
    /// I/O threads, each with its own epoll and share of connections and rate.
    public var threads: Int = 1
    /// Thread i is pinned to `cpus[i % cpus.count]` when non-empty.
    public var cpus: [Int] = []
    /// Seconds a request may take (from its start) before it counts as a timeout.
    public var timeout: Double = 5
    /// Open loop: a request sent more than this many seconds after its
    /// intended time is off schedule (counted, and a run with under 95% on
    /// schedule is flagged, as Caladan's generator does).
    public var scheduleSlack: Double = 0.001
    /// A latency objective (seconds): each class's 2xx responses within it
    /// are counted (goodput). nil: not counted.
    public var slo: Double? = nil
    /// Run the I/O threads under SCHED_FIFO (priority 1), so that on a
    /// machine where they share a CPU with the server they send on time
    /// instead of waiting for a server thread's time slice to end. Needs
    /// CAP_SYS_NICE; without it the run warns and goes on at normal priority.
    public var realtime = false
    /// Seeds the mix choice and Poisson arrivals, so runs are repeatable.
    public var seed: UInt64 = 1
    /// Called once, on the calling thread, just before the I/O threads
    /// start, with the measured window in `LoadClock` nanoseconds. A sweep
    /// uses it to sample the server's CPU time and /metrics exactly at the
    /// window's edges rather than at a guessed moment.
    public var onMeasurementWindow: (@Sendable (_ start: Int64, _ end: Int64) -> Void)? = nil
    /// Ends the run early when cancelled (checked every loop turn, at most
    /// 5 ms apart); the report then covers only what was measured.
    public var cancellation: LoadCancellation? = nil
    /// When set, I/O threads keep their connections open after the window
    /// ends until the gate opens (or 10 s pass), so the server can be
    /// sampled at the window's end in its loaded state.
    public var closeGate: LoadGate? = nil

    /// Connect from this many loopback addresses (127.0.0.1, 127.0.0.2, ...;
    /// connection i from the i-th, wrapping), so one machine can be many
    /// clients to a server that places them by address (`--accept hash`).
    /// 0: the kernel picks the source. Needs an IPv4 loopback target.
    public var sourceAddresses = 0
    /// Open loop: a few hot connections send most requests
    /// (`hotConnections` of each thread's connections, at least one, get
    /// `hotShare` of its requests), as a few heavy clients do. nil: every
    /// connection alike.
    public var skew: Skew? = nil

    public init(host: String, port: Int, mix: [(path: String, weight: Double)]) {
        self.host = host
        self.port = port
        self.mix = mix
    }
}

/// A skewed open loop: `hotConnections` (a fraction) of the connections
/// carry `hotShare` (a fraction) of the requests.
public struct Skew: Sendable, Equatable, CustomStringConvertible {
    public var hotConnections: Double
    public var hotShare: Double

    public init(hotConnections: Double, hotShare: Double) {
        self.hotConnections = hotConnections
        self.hotShare = hotShare
    }

    /// `HOT:SHARE`, both fractions, e.g. `0.05:0.9`.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hot = Double(parts[0]), let share = Double(parts[1]),
              hot > 0, hot < 1, share > 0, share < 1 else { return nil }
        self.init(hotConnections: hot, hotShare: share)
    }

    public var description: String { "\(hotConnections):\(hotShare)" }
}

/// How open-loop request times are spaced.
public enum Arrivals: String, Sendable, CaseIterable {
    /// Evenly spaced: 1/rate apart.
    case constant
    /// Exponential inter-arrival times with mean 1/rate (a Poisson process):
    /// closer to independent users, and bursty enough to expose queueing.
    case poisson
}

/// Why a run could not start or produced nothing.
public struct LoadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A stop request for a running load, e.g. from a SIGINT handler.
public final class LoadCancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Holds connections open after the measured window until opened; see
/// `LoadConfiguration.closeGate`.
public final class LoadGate: Sendable {
    private let isOpen = Atomic<Bool>(false)

    public init() {}

    public func open() { isOpen.store(true, ordering: .releasing) }

    /// Waits, polling every millisecond: it happens once per run, after the
    /// measurement, where a millisecond of latency costs nothing.
    func wait(atMost seconds: Double = 10) {
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        while !isOpen.load(ordering: .acquiring) && monotonicNanoseconds() < deadline {
            usleep(1000)
        }
    }
}

/// The clock behind every time the load generator reports.
public enum LoadClock {
    /// CLOCK_MONOTONIC in nanoseconds.
    public static func now() -> Int64 { monotonicNanoseconds() }
}
