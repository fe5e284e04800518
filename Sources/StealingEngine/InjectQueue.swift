import Synchronization

/// The queue all workers share: tasks that overflowed a full run queue (in
/// batches of half a queue) and tasks that must leave a stopping worker.
/// A mutex (`PthreadLock`) guards it, which is fine off the hot path; `count` is an atomic
/// kept beside it so that workers check "anything here?" without the lock.
///
/// Ownership: any thread.
public final class InjectQueue: @unchecked Sendable {
    // @unchecked Sendable: `ring` is guarded by its mutex; `length` is atomic.
    private struct Ring {
        var cells: [UInt64]
        var start = 0
        var count = 0

        mutating func append(_ task: UInt64) {
            if count == cells.count { grow() }
            cells[(start + count) % cells.count] = task
            count += 1
        }

        mutating func removeFirst() -> UInt64 {
            let task = cells[start]
            start = (start + 1) % cells.count
            count -= 1
            return task
        }

        private mutating func grow() {
            var bigger = [UInt64](repeating: 0, count: max(cells.count * 2, 64))
            for i in 0..<count { bigger[i] = cells[(start + i) % cells.count] }
            cells = bigger
            start = 0
        }
    }

    private let ring = PthreadLock(Ring(cells: [UInt64](repeating: 0, count: 1024)))
    private let length = Atomic(0)

    public init() {}

    public var count: Int { length.load(ordering: .acquiring) }
    public var isEmpty: Bool { count == 0 }

    public func push(_ task: UInt64) {
        ring.withLock { $0.append(task) }
        length.add(1, ordering: .releasing)
    }

    /// Appends `n` tasks read by `cell(i)` and then `last`, under one lock.
    public func push(batch n: Int, plus last: UInt64, _ cell: (Int) -> UInt64) {
        ring.withLock { ring in
            for i in 0..<n { ring.append(cell(i)) }
            ring.append(last)
        }
        length.add(n + 1, ordering: .releasing)
    }

    /// Takes up to `limit` tasks, oldest first, into `scratch` (which holds
    /// at least `limit`); returns how many.
    public func pop(upTo limit: Int, into scratch: UnsafeMutablePointer<UInt64>) -> Int {
        guard !isEmpty, limit > 0 else { return 0 }
        let taken = ring.withLock { ring -> Int in
            let taken = min(limit, ring.count)
            for i in 0..<taken { scratch[i] = ring.removeFirst() }
            return taken
        }
        if taken > 0 { length.subtract(taken, ordering: .releasing) }
        return taken
    }
}
