import Metrics
import Pools

/// What one loop thread owns for the hot path: its clock, date cache,
/// counters, buffer pool, request arena and overload gate. Protocol
/// machines (HTTP/1.1 sessions) and the application reach all of it through
/// the one context of the thread that runs them; nothing here is shared.
///
/// Create it on the loop's own thread (after pinning), so its memory is
/// first touched there, on that CPU's NUMA node.
/// Ownership: the thread that created it; a work-stealing worker lends it
/// to the connections it runs (`HTTPSession.rebind`).
public final class LoopContext {
    /// The loop's clock, read once per turn by the engine (`LoopClock.beginTurn`).
    public var clock = LoopClock()
    public let date = DateCache()
    public let counters: WorkerCounters
    public let buffers: BufferPool
    public let arena: RequestArena
    /// The loop's overload decisions and per-turn tallies (`OverloadGate`).
    public var overload = OverloadGate()
    /// Who is told, from any thread, that a deferred response of a
    /// connection this thread runs is ready (`LateAnswer.connection` names
    /// the connection): the loop's own core, a stealing pool that routes to
    /// the connection's home, a connection thread's queue. Set by the engine
    /// when the thread starts. Weak: the engine owns it (a loop's core owns
    /// this context).
    public weak var resumer: (any Resumer)?

    public init(counters: WorkerCounters, maxCachedBuffersPerClass: Int = 256, keptBuffersPerClass: Int = 16) {
        self.counters = counters
        buffers = BufferPool(counters: counters, maxCachedPerClass: maxCachedBuffersPerClass, keepPerClass: keptBuffersPerClass)
        arena = RequestArena(pool: buffers)
    }
}
