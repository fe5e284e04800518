import Metrics
import Testing
@testable import Pools

@Suite("Buffer pool")
struct BufferPoolTests {
    @Test("Requests round up to the smallest size class that fits",
          arguments: [(1, 4096), (4096, 4096), (4097, 16384), (16384, 16384), (16385, 65536), (65536, 65536)])
    func sizeClasses(request: Int, capacity: Int) {
        let pool = BufferPool(counters: WorkerCounters())
        let buffer = pool.take(atLeast: request)
        #expect(buffer.capacity == capacity)
        pool.give(buffer)
    }

    @Test("A buffer given back is lent again: no second allocation")
    func reuse() {
        let counters = WorkerCounters()
        let pool = BufferPool(counters: counters)
        let first = pool.take(atLeast: 1000)
        pool.give(first)
        let second = pool.take(atLeast: 2000)
        #expect(second.base == first.base)
        #expect(counters.snapshot().poolMisses == 1)
        pool.give(second)
    }

    @Test("In use, high-water mark and misses are published")
    func statistics() {
        let counters = WorkerCounters()
        let pool = BufferPool(counters: counters)
        let buffers = (0..<5).map { _ in pool.take(atLeast: 10_000) }
        #expect(counters.snapshot().poolInUse == 5)
        for buffer in buffers { pool.give(buffer) }
        let snapshot = counters.snapshot()
        #expect(snapshot.poolInUse == 0)
        #expect(snapshot.poolHighWater == 5)
        #expect(snapshot.poolMisses == 5)
    }

    @Test("Oversize requests bypass the classes and count as misses")
    func oversize() {
        let counters = WorkerCounters()
        let pool = BufferPool(counters: counters)
        let big = pool.take(atLeast: 100_000)
        #expect(big.capacity == 100_000)
        pool.give(big)
        let again = pool.take(atLeast: 100_000)
        #expect(counters.snapshot().poolMisses == 2)
        pool.give(again)
    }

    @Test("The cache per class is bounded; the rest goes back to the system")
    func boundedCache() {
        let counters = WorkerCounters()
        let pool = BufferPool(counters: counters, maxCachedPerClass: 2)
        let buffers = (0..<4).map { _ in pool.take(atLeast: 100) }
        for buffer in buffers { pool.give(buffer) }
        _ = (0..<4).map { _ in pool.take(atLeast: 100) }
        // 4 first-time misses, then 2 served from the cache and 2 new misses.
        #expect(counters.snapshot().poolMisses == 6)
    }
}

@Suite("Request arena")
struct RequestArenaTests {
    @Test("Allocations are aligned, disjoint, and reused after reset")
    func bumpAndReset() {
        let counters = WorkerCounters()
        let arena = RequestArena(pool: BufferPool(counters: counters))
        let a = arena.allocate(byteCount: 3, alignment: 1)
        let b = arena.allocate(byteCount: 16, alignment: 8)
        #expect(Int(bitPattern: b.baseAddress!) % 8 == 0)
        #expect(b.baseAddress! >= a.baseAddress! + 3)
        arena.reset()
        let c = arena.allocate(byteCount: 3, alignment: 1)
        #expect(c.baseAddress == a.baseAddress)
        #expect(counters.snapshot().poolMisses == 1)
    }

    @Test("Large and overflowing requests take more chunks; reset returns all but the first")
    func chunks() {
        let counters = WorkerCounters()
        let arena = RequestArena(pool: BufferPool(counters: counters))
        _ = arena.allocate(byteCount: 4000)
        _ = arena.allocate(byteCount: 4000)      // does not fit the first 4 KiB chunk
        _ = arena.allocate(byteCount: 20_000)    // a chunk of its own
        #expect(counters.snapshot().poolInUse == 3)
        arena.reset()
        #expect(counters.snapshot().poolInUse == 1)
    }
}
