import Synchronization

/// The engine-wide connection cap shared by all loops (reuseport policy).
///
/// Each loop takes a unit before it accepts and returns it when a
/// connection closes: one atomic add per connection, never per request. A
/// loop that finds the budget spent takes its listener out of its epoll set
/// (clients wait in the kernel backlog) and marks itself paused; the loop
/// that frees a unit wakes the paused ones. A per-loop share would be
/// simpler but wrong: SO_REUSEPORT may hash every client to one loop.
public final class ConnectionBudget: Sendable {
    public let cap: Int
    private let open = Atomic(0)

    public init(cap: Int) { self.cap = cap }

    /// Takes one unit; false when the cap is reached.
    public func tryAcquire() -> Bool {
        if open.add(1, ordering: .sequentiallyConsistent).newValue <= cap { return true }
        open.subtract(1, ordering: .sequentiallyConsistent)
        return false
    }

    /// Returns one unit; true if the budget was spent before (paused loops
    /// should be woken).
    public func release() -> Bool {
        open.subtract(1, ordering: .sequentiallyConsistent).oldValue >= cap
    }

    // Sequentially consistent throughout: a loop publishes "paused" and then
    // reads the count, a closer changes the count and then reads "paused";
    // only a total order guarantees one of them sees the other.
    public var hasRoom: Bool { open.load(ordering: .sequentiallyConsistent) < cap }
}
