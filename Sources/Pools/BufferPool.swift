import Glibc
import Metrics

/// A buffer lent by a `BufferPool`: raw bytes and how many.
public struct PooledBuffer {
    // safety: `base` holds `capacity` bytes owned by whoever holds this value
    // until it is given back to the pool it came from.
    public let base: UnsafeMutableRawPointer
    public let capacity: Int

    /// Rebuilds the handle of a buffer taken earlier, to give it back.
    public init(base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }
}

/// Buffers in three size classes (4, 16 and 64 KiB), one pool per worker
/// thread: taking and giving back are pushes and pops on a fixed stack of
/// pointers per class on the owning thread, with no lock, no atomic
/// read-modify-write and no array (an array of arrays would pay a
/// uniqueness check and a bounds check per push).
///
/// A pool starts empty and fills as buffers come back, so after warm-up the
/// hot path allocates nothing. Each class keeps at most `maxCachedPerClass`
/// free buffers; beyond that they go back to the system allocator, so a
/// burst does not pin its peak memory forever. Requests larger than the
/// largest class are served by the system allocator directly (a "miss").
///
/// Decay (`decay()`, called by the loop every `--pool-decay` while the pool
/// holds more than `keepPerClass` free buffers of a class): buffers that
/// stayed free through a whole interval, the fewest free a class had since
/// the last call, go back to the system allocator, down to the class's
/// floor. A burst's buffers are so returned within two quiet intervals. A
/// busy loop's need varies from one interval to the next, so a decay can
/// give back buffers the next interval allocates again (measured: up to 164
/// allocations in 3M pipelined requests on 64 connections); buffers
/// allocated again after a decay raise the floor by as many, and an interval
/// that never dipped into the free buffers (quiet) puts it back at
/// `keepPerClass`. The low-water mark costs one compare per take; the rest
/// is on the miss path and in `decay`.
///
/// Statistics (buffers in use, high-water mark, misses) are published on the
/// worker's counters for `/metrics`. A buffer may come back to another
/// worker's pool than the one it came from (a connection that moved to
/// another worker, work stealing); each pool's in-use count is then off by
/// one in opposite directions, and only their sum is meaningful.
/// Ownership: the worker thread that created it.
public final class BufferPool {
    public static let sizeClasses = [4 * 1024, 16 * 1024, 64 * 1024]
    public let maxCachedPerClass: Int
    // safety: `3 * maxCachedPerClass` slots, allocated in init and freed in
    // deinit; class k's free buffers are slots [k * maxCachedPerClass,
    // k * maxCachedPerClass + freeCount[k]), each allocated with the class's
    // size and alignment 16.
    private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private var free0 = 0, free1 = 0, free2 = 0
    /// The fewest free buffers each class held since the last `decay()`.
    private var low0 = 0, low1 = 0, low2 = 0
    /// Free buffers per class that decay leaves in place when the loop is quiet.
    public let keepPerClass: Int
    // safety: 3 x `DecayState.fields` Ints, allocated in init and freed in
    // deinit; class k's at [k * DecayState.fields, ...). Touched on a miss
    // and by `decay`, never on a hit.
    private let decayState: UnsafeMutablePointer<Int>
    private enum DecayState {
        static let fields = 4
        /// What decay leaves free now (starts at `keepPerClass`).
        static let floor = 0
        /// Misses since the last decay.
        static let misses = 1
        /// Buffers the last decay gave back.
        static let released = 2
        /// Free buffers when the interval began.
        static let start = 3
    }
    private let counters: WorkerCounters
    private var inUse = 0
    private var highWater = 0

    public init(counters: WorkerCounters, maxCachedPerClass: Int = 256, keepPerClass: Int = 16) {
        self.counters = counters
        self.maxCachedPerClass = max(0, maxCachedPerClass)
        self.keepPerClass = max(0, keepPerClass)
        slots = .allocate(capacity: max(1, 3 * self.maxCachedPerClass))
        decayState = .allocate(capacity: 3 * DecayState.fields)
        decayState.initialize(repeating: 0, count: 3 * DecayState.fields)
        for k in 0..<3 { decayState[k * DecayState.fields + DecayState.floor] = self.keepPerClass }
    }

    deinit {
        for k in 0..<3 {
            for i in 0..<freeCount(k) { slots[k * maxCachedPerClass + i].deallocate() }
        }
        slots.deallocate()
        decayState.deallocate()
    }

    @inline(__always) private func freeCount(_ sizeClass: Int) -> Int {
        switch sizeClass {
        case 0: free0
        case 1: free1
        default: free2
        }
    }

    @inline(__always) private func setFreeCount(_ sizeClass: Int, _ value: Int) {
        switch sizeClass {
        case 0: free0 = value
        case 1: free1 = value
        default: free2 = value
        }
    }

    @inline(__always) private func lowWater(_ sizeClass: Int) -> Int {
        switch sizeClass {
        case 0: low0
        case 1: low1
        default: low2
        }
    }

    @inline(__always) private func setLowWater(_ sizeClass: Int, _ value: Int) {
        switch sizeClass {
        case 0: low0 = value
        case 1: low1 = value
        default: low2 = value
        }
    }

    /// Some class may hold more free buffers than decay would keep: set when
    /// a give crosses the floor, settled by `decay()`. A stored flag, so the
    /// loop's check before each wait is one load.
    public private(set) var holdsSurplus = false

    /// Free buffers now, every class summed (for tests and `/metrics`).
    public var freeBuffers: Int { free0 + free1 + free2 }

    /// Gives back to the system allocator the buffers of each class that
    /// stayed free since the last call, down to `keepPerClass`, and starts
    /// the next interval. Returns the bytes released.
    public func decay() -> Int {
        var released = 0
        for k in 0..<3 {
            let state = decayState + k * DecayState.fields
            let count = freeCount(k)
            let low = min(lowWater(k), count)
            if low >= state[DecayState.start] {
                state[DecayState.floor] = keepPerClass  // quiet: nothing was needed from the free buffers
            } else if state[DecayState.released] > 0 && state[DecayState.misses] > 0 {
                // The last decay gave back buffers this load then allocated again.
                state[DecayState.floor] = min(maxCachedPerClass,
                                              state[DecayState.floor] + min(state[DecayState.misses], state[DecayState.released]))
            }
            let surplus = max(0, low - state[DecayState.floor])
            let left = count - surplus
            if surplus > 0 {
                for i in left..<count { slots[k * maxCachedPerClass + i].deallocate() }
                setFreeCount(k, left)
                released += surplus * Self.capacity(of: k)
            }
            state[DecayState.released] = surplus
            state[DecayState.misses] = 0
            state[DecayState.start] = left
            setLowWater(k, left)
        }
        holdsSurplus = free0 > keepPerClass || free1 > keepPerClass || free2 > keepPerClass
        return released
    }

    /// The smallest class that holds `bytes`, or nil beyond the largest.
    @inline(__always)
    static func sizeClass(for bytes: Int) -> Int? {
        if bytes <= 4 * 1024 { return 0 }
        if bytes <= 16 * 1024 { return 1 }
        if bytes <= 64 * 1024 { return 2 }
        return nil
    }

    /// The capacity of a class (literals: `sizeClasses` is a lazily made array).
    @inline(__always) static func capacity(of sizeClass: Int) -> Int { 4096 << (2 * sizeClass) }

    /// A buffer of at least `bytes`.
    public func take(atLeast bytes: Int) -> PooledBuffer {
        inUse += 1
        if inUse > highWater {
            highWater = inUse
            counters.setPoolHighWater(highWater)
        }
        counters.setPoolInUse(inUse)
        guard let sizeClass = Self.sizeClass(for: bytes) else {
            counters.recordPoolMiss()
            return PooledBuffer(base: .allocate(byteCount: bytes, alignment: 16), capacity: bytes)
        }
        let capacity = Self.capacity(of: sizeClass)
        let count = freeCount(sizeClass)
        if count > 0 {
            setFreeCount(sizeClass, count - 1)
            if count - 1 < lowWater(sizeClass) { setLowWater(sizeClass, count - 1) }
            return PooledBuffer(base: slots[sizeClass * maxCachedPerClass + count - 1], capacity: capacity)
        }
        counters.recordPoolMiss()
        decayState[sizeClass * DecayState.fields + DecayState.misses] += 1
        return PooledBuffer(base: .allocate(byteCount: capacity, alignment: 16), capacity: capacity)
    }

    /// Takes back a buffer that `take` returned.
    public func give(_ buffer: PooledBuffer) {
        inUse -= 1
        counters.setPoolInUse(inUse)
        if let sizeClass = Self.sizeClass(for: buffer.capacity), Self.capacity(of: sizeClass) == buffer.capacity {
            let count = freeCount(sizeClass)
            if count < maxCachedPerClass {
                slots[sizeClass * maxCachedPerClass + count] = buffer.base
                setFreeCount(sizeClass, count + 1)
                if count == keepPerClass { holdsSurplus = true }
                return
            }
        }
        buffer.base.deallocate()
    }
}
