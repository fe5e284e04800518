import Glibc

/// A loop's one clock: the fine monotonic clock read once at the top of each
/// turn, and the count of turns. Everything a loop times (deadlines, the
/// timer wheel, queueing delay, busy time, the overload gate's deadlines)
/// reads these values, so the loop's parts agree on what "now" is and no
/// part reads the clock again on the request path.
///
/// Ownership: the loop thread, as part of its `LoopContext`.
public struct LoopClock {
    // Stored under other names so that `beginTurn` can be inlined into the
    // engines' loops while only this type sets them.
    @usableFromInline var storedMicros: Int
    @usableFromInline var storedMillis: Int
    @usableFromInline var storedTurn: UInt32 = 0

    /// µs on CLOCK_MONOTONIC at the top of the current turn.
    @inlinable public var micros: Int { storedMicros }
    /// The same moment in ms: what deadlines and the timer wheel count in.
    @inlinable public var millis: Int { storedMillis }
    /// Turns begun so far, wrapping before `LoopClock.noTurn`, so a record
    /// can say "in no turn" with that value.
    @inlinable public var turn: UInt32 { storedTurn }

    @inlinable public static var noTurn: UInt32 { 0xFFFF_FFFF }

    public init(micros: Int = monotonicMicroseconds()) {
        storedMicros = micros
        storedMillis = micros / 1000
    }

    /// A clock at a given turn (tests of the wrap).
    init(micros: Int, turn: UInt32) {
        self.init(micros: micros)
        storedTurn = turn
    }

    /// A turn begins: one clock read. Returns the reading (µs).
    @inlinable @inline(__always) @discardableResult
    public mutating func beginTurn() -> Int {
        storedTurn = storedTurn == LoopClock.noTurn - 1 ? 0 : storedTurn &+ 1
        let now = monotonicMicroseconds()
        storedMicros = now
        storedMillis = now / 1000
        return now
    }

    /// Reads the clock without beginning a turn (the moment a loop starts
    /// waiting, or a test's fake time), updating `micros` and `millis`.
    @inline(__always) @discardableResult
    public mutating func read(micros now: Int = monotonicMicroseconds()) -> Int {
        storedMicros = now
        storedMillis = now / 1000
        return now
    }
}

/// Microseconds on the fine monotonic clock (vDSO, no system call): what a
/// loop reads once per turn (`LoopClock`) and what the overload gate
/// compares its deadlines with. (The coarse clock's 4 ms steps are as long
/// as the delays a loop must see.)
@inlinable @inline(__always)
public func monotonicMicroseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1_000_000 + t.tv_nsec / 1000
}

/// Milliseconds on the coarse monotonic clock (vDSO, no system call), for
/// code outside a loop's turn (the supervisor, the threads engine's idle
/// accounting) that needs only tick precision.
@inline(__always)
public func monotonicMilliseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
}
