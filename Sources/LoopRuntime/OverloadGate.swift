import Glibc

/// One thread's view of its loop's overload controller, read by the
/// application before it runs a handler, plus the per-turn tallies the loop
/// turns into latency samples.
///
/// While its loop is overloaded, a request is shed once it has waited
/// longer than its class allows: the loop sets, at the top of each turn,
/// the moments (`lowDeadline`, `normalDeadline`, µs on the monotonic clock)
/// after which a request of this turn has waited too long, and `sheds`
/// reads the clock to compare. So a long turn serves low requests for its
/// first few milliseconds and answers the rest with 503 at once, instead of
/// deciding for the whole turn at its start. Only while overloaded does a
/// request cost a clock read; otherwise `sheds` is one load and a branch.
///
/// A struct stored in the `LoopContext`, so the request path reads it in
/// place (a class would cost a retain and release per request).
/// Ownership: the loop thread whose `LoopContext` holds it (the loop
/// writes at the top of a turn, the same thread reads while serving it). An
/// engine without a controller (threads) leaves `overloaded` false.
public struct OverloadGate {
    public var overloaded = false
    /// Low requests are shed after this moment (µs, monotonic clock).
    public var lowDeadline = Int.max
    /// Normal requests are shed after this moment.
    public var normalDeadline = Int.max
    /// Requests answered this turn, by class (their handlers ran); the
    /// loop takes them at the end of its turn.
    public var answeredCritical = 0
    public var answeredNormal = 0
    public var answeredLow = 0
    /// How long this turn's requests may have waited for the loop (µs, the
    /// loop's estimate at the top of the turn): a late response's latency
    /// sample starts from it.
    public var queueDelay = 0

    public init() {}

    /// Whether a request of `priority` is to be shed now.
    // Inlinable: the application asks once per request, from its module,
    // and while not overloaded this is one load and a branch.
    @inlinable @inline(__always)
    public func sheds(_ priority: PriorityClass) -> Bool {
        guard overloaded, priority != .critical else { return false }
        return monotonicMicroseconds() > (priority == .low ? lowDeadline : normalDeadline)
    }

    /// Takes back `answered` for a request whose handler deferred its
    /// response: it is sampled when it is answered, with its own duration.
    @inlinable @inline(__always)
    public mutating func deferred(_ priority: PriorityClass) {
        switch priority {
        case .critical: answeredCritical &-= 1
        case .normal: answeredNormal &-= 1
        case .low: answeredLow &-= 1
        }
    }

    /// Counts a request answered in this turn.
    @inlinable @inline(__always)
    public mutating func answered(_ priority: PriorityClass) {
        switch priority {
        case .critical: answeredCritical &+= 1
        case .normal: answeredNormal &+= 1
        case .low: answeredLow &+= 1
        }
    }
}
