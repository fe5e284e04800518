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
/// thread: taking and giving back are array pushes and pops on the owning
/// thread, with no lock and no atomic read-modify-write.
///
/// A pool starts empty and fills as buffers come back, so after warm-up the
/// hot path allocates nothing. Each class keeps at most `maxCachedPerClass`
/// free buffers; beyond that they go back to the system allocator, so a
/// burst does not pin its peak memory forever. Requests larger than the
/// largest class are served by the system allocator directly (a "miss").
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
    // safety: each element was allocated with its class's size, alignment 16.
    private var free: [[UnsafeMutableRawPointer]]
    private let counters: WorkerCounters
    private var inUse = 0
    private var highWater = 0

    public init(counters: WorkerCounters, maxCachedPerClass: Int = 256) {
        self.counters = counters
        self.maxCachedPerClass = maxCachedPerClass
        free = BufferPool.sizeClasses.map { _ in
            var list: [UnsafeMutableRawPointer] = []
            list.reserveCapacity(maxCachedPerClass)
            return list
        }
    }

    deinit {
        for list in free { for buffer in list { buffer.deallocate() } }
    }

    /// The smallest class that holds `bytes`, or nil beyond the largest.
    @inline(__always)
    static func sizeClass(for bytes: Int) -> Int? {
        if bytes <= 4 * 1024 { return 0 }
        if bytes <= 16 * 1024 { return 1 }
        if bytes <= 64 * 1024 { return 2 }
        return nil
    }

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
        let capacity = Self.sizeClasses[sizeClass]
        if let buffer = free[sizeClass].popLast() {
            return PooledBuffer(base: buffer, capacity: capacity)
        }
        counters.recordPoolMiss()
        return PooledBuffer(base: .allocate(byteCount: capacity, alignment: 16), capacity: capacity)
    }

    /// Takes back a buffer that `take` returned.
    public func give(_ buffer: PooledBuffer) {
        inUse -= 1
        counters.setPoolInUse(inUse)
        if let sizeClass = Self.sizeClass(for: buffer.capacity), Self.sizeClasses[sizeClass] == buffer.capacity,
           free[sizeClass].count < maxCachedPerClass {
            free[sizeClass].append(buffer.base)
        } else {
            buffer.base.deallocate()
        }
    }
}
