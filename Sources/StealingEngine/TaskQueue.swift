import Synchronization

/// A worker's run queue: a fixed-capacity ring of tasks (non-zero 64-bit
/// words) with one owner end and one thief end.
///
/// - The owner pushes at the tail and pops at the head (FIFO, so a
///   connection that became ready first is served first).
/// - Thieves take half of what is queued, from the head, in one claim.
///
/// The head is two 32-bit positions packed in one atomic word: `real`, the
/// next task the owner pops, and `steal`, where a steal in progress began.
/// A thief first moves `real` past the tasks it claims (so the owner no
/// longer pops them), copies them, then moves `steal` up to `real` (so the
/// owner may reuse their cells). While `steal != real` a steal is in
/// progress: other thieves back off, and the owner neither overwrites the
/// claimed cells nor moves tasks to the inject queue. Positions are free-
/// running counters compared with wrapping arithmetic; a cell is
/// `position & mask`.
///
/// Overflow: when the ring is full the owner moves its older half and the
/// new task to the shared inject queue in one batch, as tokio's queue does,
/// so a burst costs one lock rather than one per task.
///
/// Ownership: `push`, `pop` and `stealInto`'s destination are the owner
/// thread's; `stealInto`'s source and `count` may be called from any thread.
public final class TaskQueue: @unchecked Sendable {
    // @unchecked Sendable: cells are plain memory whose accesses are ordered
    // by the acquire/release operations on `head` and `tail` described above.
    public let capacity: Int
    private let mask: UInt32
    private let head = Atomic<UInt64>(0)
    /// Written by the owner only (release), read by thieves (acquire).
    private let tail = Atomic<UInt32>(0)
    // safety: `capacity` cells, allocated in init, freed in deinit; a cell
    // is written only by the owner at `tail` (outside [steal, tail)) or by
    // the owner stealing into its own queue, beyond its tail.
    private let cells: UnsafeMutablePointer<UInt64>

    /// `capacity` must be a power of two, at least 2 (`StealOptions.problem`).
    public init(capacity: Int) {
        precondition(capacity >= 2 && capacity & (capacity - 1) == 0 && capacity <= 1 << 16)
        self.capacity = capacity
        mask = UInt32(capacity - 1)
        cells = .allocate(capacity: capacity)
        cells.initialize(repeating: 0, count: capacity)
    }

    deinit { cells.deallocate() }

    @inline(__always) private static func pack(steal: UInt32, real: UInt32) -> UInt64 { UInt64(steal) << 32 | UInt64(real) }
    @inline(__always) private static func unpack(_ word: UInt64) -> (steal: UInt32, real: UInt32) {
        (UInt32(truncatingIfNeeded: word >> 32), UInt32(truncatingIfNeeded: word))
    }

    /// Tasks queued now; exact for the owner, a snapshot for others.
    public var count: Int {
        let (_, real) = Self.unpack(head.load(ordering: .acquiring))
        return Int(tail.load(ordering: .acquiring) &- real)
    }

    public var isEmpty: Bool { count == 0 }

    // MARK: the owner's end

    /// Owner: queues `task` at the tail; when the ring is full, moves the
    /// older half and `task` to `overflow` instead. Returns whether it overflowed.
    @discardableResult
    public func push(_ task: UInt64, overflow: InjectQueue) -> Bool {
        while true {
            let (steal, real) = Self.unpack(head.load(ordering: .acquiring))
            let end = tail.load(ordering: .relaxed)
            if end &- steal < UInt32(capacity) {
                cells[Int(end & mask)] = task
                tail.store(end &+ 1, ordering: .releasing)
                return false
            }
            if steal != real {
                // A thief is copying out a batch and will free cells soon;
                // meanwhile this one task goes to the shared queue.
                overflow.push(task)
                return true
            }
            if moveHalf(to: overflow, with: task, head: real, tail: end) { return true }
            // A thief claimed tasks between the load and the move: look again.
        }
    }

    /// Claims the older half for the inject queue by moving the head past it
    /// (fails if a thief got there first), then hands it over with `task`.
    private func moveHalf(to overflow: InjectQueue, with task: UInt64, head real: UInt32, tail end: UInt32) -> Bool {
        let half = UInt32(capacity / 2)
        precondition(end &- real == UInt32(capacity), "moveHalf on a queue that is not full")
        let moved = real &+ half
        let (exchanged, _) = head.compareExchange(
            expected: Self.pack(steal: real, real: real), desired: Self.pack(steal: moved, real: moved),
            ordering: .acquiringAndReleasing)
        guard exchanged else { return false }
        overflow.push(batch: Int(half), plus: task) { i in cells[Int((real &+ UInt32(i)) & mask)] }
        return true
    }

    /// Owner: the oldest queued task, or nil.
    public func pop() -> UInt64? {
        var word = head.load(ordering: .acquiring)
        while true {
            let (steal, real) = Self.unpack(word)
            if real == tail.load(ordering: .relaxed) { return nil }
            let next = real &+ 1
            // During a steal only `real` moves; the thief moves `steal` itself.
            let desired = steal == real ? Self.pack(steal: next, real: next) : Self.pack(steal: steal, real: next)
            let (exchanged, actual) = head.compareExchange(expected: word, desired: desired, ordering: .acquiringAndReleasing)
            if exchanged { return cells[Int(real & mask)] }
            word = actual
        }
    }

    // MARK: the thieves' end

    /// Thief (the owner of `destination`): moves half of this queue's tasks
    /// (rounded up) into `destination` and returns one of them to run now,
    /// with how many moved in `moved`; 0 if there was nothing to take,
    /// another thief is at work, or `destination` is more than half full.
    /// (A sentinel rather than an optional tuple: unoptimized builds make the
    /// tuple's type metadata, a heap allocation, the first time a steal happens.)
    public func stealInto(_ destination: TaskQueue, moved: inout Int) -> UInt64 {
        let destinationTail = destination.tail.load(ordering: .relaxed)
        let (destinationSteal, _) = Self.unpack(destination.head.load(ordering: .acquiring))
        if destinationTail &- destinationSteal > UInt32(destination.capacity / 2) { return 0 }

        var word = head.load(ordering: .acquiring)
        var first: UInt32
        var n: UInt32
        while true {
            let (steal, real) = Self.unpack(word)
            if steal != real { return 0 }  // another thief is copying
            let end = tail.load(ordering: .acquiring)
            let queued = end &- real
            n = queued &- queued / 2
            if n == 0 { return 0 }
            // A stale head against a fresh tail can overstate the count: reload.
            if n > UInt32(capacity / 2) {
                word = head.load(ordering: .acquiring)
                continue
            }
            first = real
            let (exchanged, actual) = head.compareExchange(
                expected: word, desired: Self.pack(steal: steal, real: real &+ n), ordering: .acquiringAndReleasing)
            if exchanged {
                word = Self.pack(steal: steal, real: real &+ n)
                break
            }
            word = actual
        }
        // The claimed cells cannot be overwritten until `steal` moves on.
        var i: UInt32 = 0
        while i < n {  // not a UInt32 range: unoptimized builds allocate for it
            destination.cells[Int((destinationTail &+ i) & destination.mask)] = cells[Int((first &+ i) & mask)]
            i += 1
        }
        // Done copying: let `steal` catch up with `real` (the owner may have
        // popped meanwhile, moving `real`, so retry with what we see).
        while true {
            let (_, real) = Self.unpack(word)
            let (exchanged, actual) = head.compareExchange(
                expected: word, desired: Self.pack(steal: real, real: real), ordering: .acquiringAndReleasing)
            if exchanged { break }
            word = actual
        }
        // The last task moved is run at once; the rest become visible to
        // the destination's own thieves with the tail store.
        let last = n - 1
        let task = destination.cells[Int((destinationTail &+ last) & destination.mask)]
        if last > 0 { destination.tail.store(destinationTail &+ last, ordering: .releasing) }
        moved = Int(n)
        return task
    }
}
