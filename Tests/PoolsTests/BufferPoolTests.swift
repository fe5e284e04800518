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

    @Test("Decay gives back what stayed free through a whole interval, down to the floor")
    func decayAfterABurst() {
        let pool = BufferPool(counters: WorkerCounters(), keepPerClass: 4)
        let burst = (0..<100).map { _ in pool.take(atLeast: 1000) }
        for buffer in burst { pool.give(buffer) }
        #expect(pool.freeBuffers == 100 && pool.holdsSurplus)
        // The burst took them during this interval: none stayed free through it.
        #expect(pool.decay() == 0)
        #expect(pool.freeBuffers == 100)
        // A quiet interval: all but the floor go back.
        #expect(pool.decay() == 96 * 4096)
        #expect(pool.freeBuffers == 4 && !pool.holdsSurplus)
    }

    @Test("A steady load keeps the buffers it takes back each interval")
    func decayKeepsWhatIsUsed() {
        let pool = BufferPool(counters: WorkerCounters(), keepPerClass: 0)
        for buffer in (0..<50).map({ _ in pool.take(atLeast: 1000) }) { pool.give(buffer) }
        _ = pool.decay()
        // Each interval 30 of the 50 are taken and given back; 20 stay free throughout.
        for _ in 0..<3 {
            let used = (0..<30).map { _ in pool.take(atLeast: 1000) }
            for buffer in used { pool.give(buffer) }
            _ = pool.decay()
        }
        #expect(pool.freeBuffers == 30)
    }

    @Test("Buffers a load allocates again after a decay raise the floor, so a varying load stops churning")
    func decayLearnsTheLoad() {
        let counters = WorkerCounters()
        let pool = BufferPool(counters: counters, keepPerClass: 0)
        func interval(using n: Int) {
            let used = (0..<n).map { _ in pool.take(atLeast: 1000) }
            for buffer in used { pool.give(buffer) }
            _ = pool.decay()
        }
        interval(using: 40)
        interval(using: 30)   // 10 stayed free all interval: given back
        interval(using: 40)   // 10 allocated again: the floor rises by 10
        let misses = counters.snapshot().poolMisses
        for _ in 0..<4 {
            interval(using: 30)
            interval(using: 40)
        }
        #expect(counters.snapshot().poolMisses == misses)
        #expect(pool.freeBuffers == 40)
        // A quiet interval (nothing taken) puts the floor back: all of it goes.
        _ = pool.decay()
        _ = pool.decay()
        #expect(pool.freeBuffers == 0)
    }
}
