import Glibc
import StealingEngine
import Synchronization
import Testing

/// The run queue alone, without sockets: what it promises in order, and that
/// under owner pushes and pops racing several thieves (with tiny capacities,
/// so every overflow and steal path runs constantly) each task is taken
/// exactly once. Also run under ThreadSanitizer (`make test-tsan`).
@Suite("Run queue")
struct TaskQueueTests {
    @Test("The owner pops in push order; a full queue moves its older half and the new task to the inject queue")
    func ownerOrderAndOverflow() {
        let queue = TaskQueue(capacity: 8)
        let inject = InjectQueue()
        for task in UInt64(1)...8 { #expect(queue.push(task, overflow: inject) == false) }
        #expect(queue.count == 8)
        #expect(queue.push(9, overflow: inject) == true)  // full: 1...4 and 9 move
        #expect(queue.count == 4)
        #expect(inject.count == 5)
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
        defer { scratch.deallocate() }
        #expect(inject.pop(upTo: 8, into: scratch) == 5)
        #expect(Array(UnsafeBufferPointer(start: scratch, count: 5)) == [1, 2, 3, 4, 9])
        var popped: [UInt64] = []
        while let task = queue.pop() { popped.append(task) }
        #expect(popped == [5, 6, 7, 8])
        #expect(queue.pop() == nil)
    }

    @Test("A thief takes half (rounded up) from the head, runs the last and queues the rest in order", arguments: [1, 2, 5, 8])
    func stealHalf(queued: Int) throws {
        let victim = TaskQueue(capacity: 8)
        let thief = TaskQueue(capacity: 8)
        let inject = InjectQueue()
        for task in 1...queued { victim.push(UInt64(task), overflow: inject) }
        var moved = 0
        let task = victim.stealInto(thief, moved: &moved)
        let expectedMoved = queued - queued / 2
        #expect(moved == expectedMoved)
        #expect(task == UInt64(expectedMoved))
        var kept: [UInt64] = []
        while let task = thief.pop() { kept.append(task) }
        #expect(kept == (1..<expectedMoved).map(UInt64.init))
        var left: [UInt64] = []
        while let task = victim.pop() { left.append(task) }
        #expect(left == ((expectedMoved + 1)..<(queued + 1)).map(UInt64.init))
    }

    @Test("Nothing to steal from an empty queue, and no steal into a queue more than half full")
    func stealRefusals() {
        let inject = InjectQueue()
        let victim = TaskQueue(capacity: 4)
        let thief = TaskQueue(capacity: 4)
        var moved = 0
        #expect(victim.stealInto(thief, moved: &moved) == 0)
        for task in UInt64(1)...3 { thief.push(task, overflow: inject) }
        victim.push(10, overflow: inject)
        #expect(victim.stealInto(thief, moved: &moved) == 0)  // the thief holds 3 of 4
        #expect(victim.count == 1)
    }

    @Test("Positions wrap: many times the capacity through one queue keeps order")
    func wrapAround() {
        let queue = TaskQueue(capacity: 2)
        let inject = InjectQueue()
        for task in UInt64(1)...100_000 {
            queue.push(task, overflow: inject)
            #expect(queue.pop() == task)
        }
        #expect(inject.isEmpty)
    }

    @Test("Owner and three thieves, capacity 2 to 8: every task is taken exactly once", arguments: [2, 4, 8])
    func concurrentExactlyOnce(capacity: Int) {
        let total = 1_000_000
        let thieves = 3
        let inject = InjectQueue()
        let queues = (0...thieves).map { _ in TaskQueue(capacity: capacity) }
        let ownerDone = Atomic(false)
        let taken = Atomic(0)
        // One counter per task, bumped by whoever takes it; per-thread scratch.
        final class Ledger: @unchecked Sendable {
            // @unchecked Sendable: atomics, and scratch buffers one per thread.
            let seen: UnsafeMutablePointer<Atomic<Int>>
            let scratch: [UnsafeMutablePointer<UInt64>]
            let taken = Atomic(0)
            init(total: Int, threads: Int, capacity: Int) {
                seen = .allocate(capacity: total + 1)
                for i in 0...total { (seen + i).initialize(to: Atomic(0)) }
                scratch = (0..<threads).map { _ in .allocate(capacity: capacity) }
            }
            deinit {
                seen.deallocate()
                for s in scratch { s.deallocate() }
            }
            @Sendable func take(_ task: UInt64) {
                seen[Int(task)].add(1, ordering: .relaxed)
                taken.add(1, ordering: .relaxed)
            }
        }
        let ledger = Ledger(total: total, threads: thieves + 1, capacity: capacity)
        let seen = ledger.seen
        let take = ledger.take
        runConcurrently(thieves + 1) { me in
            let mine = queues[me]
            if me == 0 {
                for task in 1...total {
                    mine.push(UInt64(task), overflow: inject)
                    if task % 2 == 0, let popped = mine.pop() { take(popped) }
                }
                ownerDone.store(true, ordering: .releasing)
            }
            // Everyone (the owner too, once done) drains: own queue, then steal
            // from any other queue (thieves steal from thieves), then inject.
            var victim = me
            // A lost task would leave the count short forever: once the owner
            // is done, give up after this many empty rounds and let the
            // expectations below report what is missing.
            var emptyRounds = 0
            while true {
                if let task = mine.pop() {
                    take(task)
                    emptyRounds = 0
                    continue
                }
                var found = false
                for _ in 0..<queues.count {
                    victim = (victim + 1) % queues.count
                    if victim == me { continue }
                    var moved = 0
                    let stolen = queues[victim].stealInto(mine, moved: &moved)
                    if stolen != 0 {
                        take(stolen)
                        found = true
                        break
                    }
                }
                if found {
                    emptyRounds = 0
                    continue
                }
                let n = inject.pop(upTo: capacity, into: ledger.scratch[me])
                if n > 0 {
                    for i in 0..<n { take(ledger.scratch[me][i]) }
                    continue
                }
                if ownerDone.load(ordering: .acquiring) {
                    if ledger.taken.load(ordering: .relaxed) >= total { break }
                    emptyRounds += 1
                    if emptyRounds > 100_000 { break }
                }
                sched_yield()
            }
        }
        var missing = 0
        var twice = 0
        for task in 1...total {
            let n = seen[task].load(ordering: .relaxed)
            if n == 0 { missing += 1 }
            if n > 1 { twice += 1 }
        }
        #expect(missing == 0)
        #expect(twice == 0)
        #expect(ledger.taken.load(ordering: .relaxed) == total)
    }
}

/// Runs `body(i)` on `count` threads at once and waits for all.
func runConcurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
    }
    var threads: [pthread_t] = []
    for i in 0..<count {
        let box = Unmanaged.passRetained(Box(body, i)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body(box.index)
            return nil
        }, box)
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
