/// How much a request matters when a loop is overloaded. A route has one
/// (`Application`'s priority rules); the overload controller sheds the
/// lowest classes first and never sheds `critical`.
public enum PriorityClass: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// Health checks and metrics: never shed, so an orchestrator and an
    /// operator still see the server while it sheds.
    case critical = 0
    case normal = 1
    /// Work that may wait or be retried (batch, expensive endpoints).
    case low = 2

    public init?(name: String) {
        switch name {
        case "critical": self = .critical
        case "normal": self = .normal
        case "low": self = .low
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .critical: return "critical"
        case .normal: return "normal"
        case .low: return "low"
        }
    }

    public static func < (a: PriorityClass, b: PriorityClass) -> Bool { a.rawValue < b.rawValue }
}

/// One thread's view of its loop's overload controller, read by the
/// application before it runs a handler, plus the per-turn tallies the loop
/// turns into latency samples.
///
/// The loop thread writes the two flags at the start of each turn (from its
/// `OverloadController`); the same thread reads them while it serves the
/// turn's requests, so they are plain stored properties. An engine without
/// a controller (threads) leaves them false.
/// Ownership: the worker thread whose `WorkerContext` holds it.
public final class OverloadGate {
    /// Answer requests of the low class with 503 now.
    public var shedLow = false
    /// Answer requests of the normal class with 503 now.
    public var shedNormal = false
    /// Requests answered this turn, by class raw value (handlers run, or
    /// shed); the loop takes them at the end of its turn.
    public var answeredThisTurn: (Int, Int, Int) = (0, 0, 0)

    public init() {}

    /// Whether a request of `priority` is to be shed now.
    @inline(__always)
    public func sheds(_ priority: PriorityClass) -> Bool {
        switch priority {
        case .critical: return false
        case .normal: return shedNormal
        case .low: return shedLow
        }
    }

    /// Counts a request answered in this turn.
    @inline(__always)
    public func answered(_ priority: PriorityClass) {
        switch priority {
        case .critical: answeredThisTurn.0 &+= 1
        case .normal: answeredThisTurn.1 &+= 1
        case .low: answeredThisTurn.2 &+= 1
        }
    }

    /// The turn's tallies, reset for the next turn.
    @inline(__always)
    public func takeAnswered() -> (Int, Int, Int) {
        let taken = answeredThisTurn
        answeredThisTurn = (0, 0, 0)
        return taken
    }
}
