import Glibc

/// A hashed timing wheel: O(1) arm and cancel, one deadline per connection slot.
///
/// Time is cut into ticks (`tickMilliseconds`); a deadline goes into bucket
/// `tick % bucketCount`, a doubly linked list threaded through arrays indexed
/// by connection slot (no node objects, no allocation once the arrays have
/// grown to the loop's connection count). Deadlines further away than one
/// turn of the wheel stay in their bucket and are skipped until their turn
/// comes round. Firing is at most one tick late, which is all a timeout needs.
///
/// A class, not a struct: it lives inside the loop's `LoopCore`, and a
/// struct there was copied (four arrays retained and released) for each
/// non-mutating call, twice per loop turn (measured: ~170 instructions per
/// request).
///
/// Ownership: the event loop thread that owns the connections.
public final class TimerWheel {
    public let tickMilliseconds: Int
    private let bucketCount = 512
    private var buckets: [Int32]  // head slot of each bucket, -1 when empty
    private var next: [Int32] = []
    private var previous: [Int32] = []
    private var deadlineTick: [Int] = []  // -1: not armed
    private var currentTick: Int
    /// When the tick after `currentTick` begins (ms): before then nothing
    /// can expire, and the loop's wait ends there at the latest.
    private var nextTickAt: Int
    public private(set) var armedCount = 0

    public init(tickMilliseconds: Int = 100, now: Int) {
        self.tickMilliseconds = tickMilliseconds
        buckets = Array(repeating: -1, count: bucketCount)
        currentTick = now / tickMilliseconds
        nextTickAt = (currentTick + 1) * tickMilliseconds
    }

    /// Whether `advance(to: now)` could find anything: a new tick began.
    /// Most turns fall within the current tick (100 ms), so the loop asks
    /// this first and skips the walk.
    @inline(__always)
    public func mayExpire(at now: Int) -> Bool { now >= nextTickAt }

    /// Makes room for slots `0..<count` (connection table growth only).
    public func reserve(slots count: Int) {
        while deadlineTick.count < count {
            next.append(-1)
            previous.append(-1)
            deadlineTick.append(-1)
        }
    }

    /// Arms (or re-arms) `slot` to fire at `deadline` milliseconds.
    public func arm(_ slot: Int, at deadline: Int) {
        arm(slot, atTick: tick(for: deadline))
    }

    /// The tick a deadline (ms) falls in, rounded up so a timer fires no
    /// earlier than asked.
    @inline(__always)
    public func tick(for deadline: Int) -> Int {
        (deadline + tickMilliseconds - 1) / tickMilliseconds
    }

    /// Arms (or re-arms) `slot` to fire in `tick` (from `tick(for:)`), and
    /// never in the tick being processed: a tick computed before the wheel
    /// last advanced is moved past it.
    @inline(__always)
    public func arm(_ slot: Int, atTick tick: Int) {
        let tick = max(tick, currentTick + 1)
        // Re-arming into the tick it already has (a keep-alive connection
        // answering several requests within one tick) changes nothing:
        // skip the unlink and relink, the common case under load.
        if deadlineTick[slot] != tick { relink(slot, tick: tick) }
    }

    private func relink(_ slot: Int, tick: Int) {
        cancel(slot)
        let bucket = tick % bucketCount
        deadlineTick[slot] = tick
        let head = buckets[bucket]
        next[slot] = head
        previous[slot] = -1
        if head >= 0 { previous[Int(head)] = Int32(slot) }
        buckets[bucket] = Int32(slot)
        armedCount += 1
    }

    public func cancel(_ slot: Int) {
        guard deadlineTick[slot] >= 0 else { return }
        let bucket = deadlineTick[slot] % bucketCount
        let n = next[slot], p = previous[slot]
        if p >= 0 { next[Int(p)] = n } else { buckets[bucket] = n }
        if n >= 0 { previous[Int(n)] = p }
        deadlineTick[slot] = -1
        armedCount -= 1
    }

    /// Milliseconds until the next tick boundary, for epoll_wait; -1 when
    /// nothing is armed (sleep until an event).
    @inline(__always)
    public func waitMilliseconds(now: Int) -> Int32 {
        guard armedCount > 0 else { return -1 }
        // `nextTickAt` unless the clock is already past it (not yet advanced).
        let nextBoundary = now < nextTickAt ? nextTickAt : (now / tickMilliseconds + 1) * tickMilliseconds
        return Int32(max(1, nextBoundary - now))
    }

    /// Advances to `now` and appends to `expired` every slot whose deadline
    /// passed (disarmed). The caller handles them after this returns: its
    /// handling may re-arm timers, which must not happen mid-walk.
    public func advance(to now: Int, collectingInto expired: inout [Int]) {
        let target = now / tickMilliseconds
        guard target > currentTick else { return }
        // After a long stall, one pass over every bucket is enough.
        let steps = min(target - currentTick, bucketCount)
        var tick = target - steps + 1
        while tick <= target {
            var slot = buckets[tick % bucketCount]
            while slot >= 0 {
                let s = Int(slot)
                slot = next[s]
                if deadlineTick[s] <= target {
                    cancel(s)
                    expired.append(s)
                }
            }
            tick += 1
        }
        currentTick = target
        nextTickAt = (target + 1) * tickMilliseconds
    }
}
