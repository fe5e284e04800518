import Synchronization

/// Who is parked and who is searching, and the wake-up protocol that loses
/// no task (tokio's and Go's, written for our workers):
///
/// - A worker with nothing local may *search* (steal from others, take from
///   the inject queue) only while fewer than `searcherCap` workers search,
///   so idle workers do not all hammer the same queues.
/// - A worker that makes stealable work (its queue holds two or more tasks)
///   wakes one parked worker, but only when nobody is searching (a searcher
///   will find the work) and somebody is parked. The woken worker starts out
///   searching.
/// - A searcher that finds work stops searching; if it was the last one,
///   it wakes another worker, which keeps looking for what is left.
/// - A worker parks by listing itself as a sleeper first and then looking
///   at every queue once more before it sleeps (waking one if it sees work). The
///   waker changes state before it checks for sleepers and the parker lists
///   itself before it checks for work, both sequentially consistent, so one
///   of them always sees the other: no task waits for a worker that sleeps.
///
/// Ownership: any thread; `sleepers` behind a mutex, taken only on the way
/// to and from a park.
final class Idle: @unchecked Sendable {
    // @unchecked Sendable: atomics and a mutex.
    let workers: Int
    let searcherCap: Int
    private let searching = Atomic(0)
    /// Workers not parked.
    private let unparked: Atomic<Int>
    private let sleepers: PthreadLock<[Int]>

    init(workers: Int, searcherCap: Int) {
        self.workers = workers
        self.searcherCap = searcherCap
        unparked = Atomic(workers)
        var list = [Int]()
        list.reserveCapacity(workers)
        sleepers = PthreadLock(list)
    }

    var searchingCount: Int { searching.load(ordering: .sequentiallyConsistent) }

    /// Whether the caller may start searching.
    func startSearching() -> Bool {
        var n = searching.load(ordering: .sequentiallyConsistent)
        while n < searcherCap {
            let (exchanged, actual) = searching.compareExchange(expected: n, desired: n + 1, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            n = actual
        }
        return false
    }

    /// The caller stops searching; true if it was the last searcher.
    func stopSearching() -> Bool {
        searching.subtract(1, ordering: .sequentiallyConsistent).oldValue == 1
    }

    /// Work appeared that others could take: returns a parked worker to
    /// wake (now counted as unparked and searching), or -1. (Not an optional:
    /// unoptimized builds allocate its type metadata on first use.)
    func workerToWake() -> Int {
        // Fast path, no lock: someone searches, or nobody sleeps.
        if searching.load(ordering: .sequentiallyConsistent) != 0 { return -1 }
        if unparked.load(ordering: .sequentiallyConsistent) >= workers { return -1 }
        return sleepers.withLock { list -> Int in
            if searching.load(ordering: .sequentiallyConsistent) != 0 { return -1 }
            guard let worker = list.popLast() else { return -1 }
            searching.add(1, ordering: .sequentiallyConsistent)
            unparked.add(1, ordering: .sequentiallyConsistent)
            return worker
        }
    }

    /// The caller is about to park: lists it as a sleeper (leaving the
    /// searchers if it was one); it must then look at every queue once more
    /// before it sleeps.
    func park(_ worker: Int, searching wasSearching: Bool) {
        sleepers.withLock { list in
            if wasSearching { searching.subtract(1, ordering: .sequentiallyConsistent) }
            unparked.subtract(1, ordering: .sequentiallyConsistent)
            list.append(worker)
        }
    }

    /// The caller woke. Returns true if a waker chose it (it is now
    /// searching); false if it woke for its own reasons (readiness, timer)
    /// and took itself off the list.
    func unpark(_ worker: Int) -> Bool {
        sleepers.withLock { list -> Bool in
            // An index loop: the generic `firstIndex(of:)` and `swapAt` allocate
            // in unoptimized builds, and this runs on every park.
            var i = 0
            while i < list.count && list[i] != worker { i += 1 }
            guard i < list.count else { return true }
            list[i] = list[list.count - 1]
            list.removeLast()
            unparked.add(1, ordering: .sequentiallyConsistent)
            return false
        }
    }
}
